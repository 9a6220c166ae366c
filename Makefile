# Every target works on a fresh machine with only Python 3.11+, pip and git: `setup` builds .venv.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: setup generate check-generated update-specs lint test demo record record-live bench

setup: $(INSTALLED)

# Reinstall only when the dependency list changes.
$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[sandbox,cli,dev]'
	touch $(INSTALLED)

generate: setup
	$(PY) scripts/generate.py

check-generated: setup
	$(PY) scripts/generate.py --check

update-specs: setup
	$(PY) scripts/fetch_specs.py

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check wrapper scripts tests bench
	$(BIN)/mypy generated/unify_client generated/boast_client
	$(BIN)/mypy --strict wrapper/sequence_clients

test: check-generated lint
	$(BIN)/pytest --record-mode=none --block-network --allowed-hosts=127.0.0.1,localhost -q
