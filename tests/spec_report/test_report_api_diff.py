"""spec_report.api_diff on two tiny generated packages: removals found by griffe, annotation
changes found by the report itself, each with the wrapper methods that reach it."""

from __future__ import annotations

from pathlib import Path

from spec_report import BREAKING, OK, PYTHON_API
from spec_report.api_diff import api_changes

MODEL = """
class Thing:
    name: {name_type}
    owner: str
"""
OPERATION = """
def sync(id: str) -> int:
    return 0


def operation(id: str) -> int:
    return 0
"""
WRAPPER = """
from sequence_clients.generated.pkg.api.things import get_thing
from sequence_clients.generated.pkg.models import Thing


class Client:
    def get(self, thing_id: str) -> Thing:
        return self._plans.fetch(thing_id)


class _Plans:
    def fetch(self, thing_id):
        return get_thing.operation(thing_id)
"""


def package(root: Path, name_type: str, with_sync: bool) -> Path:
    pkg = root / "pkg"
    (pkg / "api" / "things").mkdir(parents=True)
    (pkg / "models").mkdir()
    for init in (pkg, pkg / "api", pkg / "api" / "things"):
        (init / "__init__.py").write_text("")
    (pkg / "models" / "__init__.py").write_text("from .thing import Thing\n")
    (pkg / "models" / "thing.py").write_text(MODEL.format(name_type=name_type))
    operation = OPERATION if with_sync else OPERATION.split("\n\n\n", 1)[1]
    (pkg / "api" / "things" / "get_thing.py").write_text(operation)
    return root


def test_removed_function_and_changed_annotation_name_their_wrapper_users(tmp_path: Path) -> None:
    old = package(tmp_path / "old", "str", with_sync=True)
    new = package(tmp_path / "new", "int", with_sync=False)
    wrapper = tmp_path / "sequence_clients"
    wrapper.mkdir()
    (wrapper / "client.py").write_text(WRAPPER)

    changes = {c.where: c for c in api_changes(old, new, "pkg", wrapper)}

    assert set(changes) == {"pkg.api.things.get_thing.sync", "pkg.models.thing.Thing.name"}
    assert all((c.kind, c.deployed, c.code) == (PYTHON_API, OK, BREAKING) for c in changes.values())
    assert "str -> int" in changes["pkg.models.thing.Thing.name"].detail
    for change in changes.values():
        assert change.used_by == ("sequence_clients.client.Client.get",)


def test_identical_packages_have_no_changes(tmp_path: Path) -> None:
    old = package(tmp_path / "old", "str", with_sync=True)
    new = package(tmp_path / "new", "str", with_sync=True)
    assert api_changes(old, new, "pkg", None) == []
