"""Release rehearsals through `make spec-watch`'s script (scripts/spec_watch.py) with local
documents, each in a temporary copy of what generation reads and the release writes.

Every release is the committed vendor document with one change, found in the spec (the enum of
an enrollment's status, an operation the wrapper calls), never counted. Each scenario runs the
watch once (module-scoped) and its asserts share the result; the suite it runs is a stand-in
command. Each PR.md is compared with tests/spec_watch/golden/<scenario>.md; after a deliberate
change to the report (or to the committed spec or wrapper it describes), rewrite them with
`SPEC_WATCH_UPDATE_GOLDEN=1 .venv/bin/pytest tests/spec_watch` and review the diff.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import generate
import spec_watch
from spec_report import digest, wrapper_users

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "golden"
REFERENCE = Path(os.environ.get("SEQUENCE_CLIENTS_REFERENCE", ROOT.parent / "shared" / "reference"))
EXCERPT_31 = REFERENCE / "unify" / "create-enrollment.openapi.yaml"
TODAY = dt.date(2026, 12, 6)
VERSION = "1.2.3"
PASSING = "echo 'stand-in suite: 3 passed'"
FAILING = "sh -c 'echo stand-in suite: 1 failed, 2 passed; exit 1'"
Document = dict[str, Any]


@dataclass(frozen=True)
class Watched:
    tree: Path
    exit_code: int
    before: dict[str, bytes]  # the tree's files before the watch ran

    @property
    def pr(self) -> str:
        return (self.tree / "build" / "release" / "PR.md").read_text()

    def version(self) -> str:
        match = re.search(r'^version = "([^"]+)"', (self.tree / "pyproject.toml").read_text(), re.M)
        assert match
        return match.group(1)


def tree_copy(destination: Path) -> Path:
    """Only what the watch reads and writes: spec/, generated/, the wrapper, the release files."""
    for name in ("spec", "generated", "docs"):
        shutil.copytree(
            ROOT / name, destination / name, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copytree(
        ROOT / "wrapper" / "sequence_clients", destination / "wrapper" / "sequence_clients",
        symlinks=True, ignore=shutil.ignore_patterns("__pycache__"),
    )  # fmt: skip
    for name in ("pyproject.toml", "CHANGELOG.md"):
        shutil.copy(ROOT / name, destination / name)
    # A fixed version, so the goldens hold across releases: the bump is what they show.
    pyproject = destination / "pyproject.toml"
    pyproject.write_text(
        re.sub(
            r'^version = ".*"$',
            f'version = "{VERSION}"',
            pyproject.read_text(),
            count=1,
            flags=re.M,
        )
    )
    return destination


def files(tree: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(tree)): p.read_bytes()
        for p in sorted(tree.rglob("*"))
        if p.is_file() and not p.is_symlink() and "__pycache__" not in p.parts
    }


def release(directory: Path, change: Callable[[Document], object]) -> Path:
    document = copy.deepcopy(json.loads((ROOT / "spec" / "unify" / "openapi.json").read_text()))
    change(document)
    path = directory / "release.json"
    path.write_text(json.dumps(document, indent=2))
    return path


def watch(factory: pytest.TempPathFactory, name: str, *args: str, tests: str = PASSING) -> Watched:
    base = factory.mktemp(name)
    tree = tree_copy(base / "tree")
    before = files(tree)
    argv = ["--root", str(tree), "--today", TODAY.isoformat(), "--tests", tests, *args]
    return Watched(tree, spec_watch.main(argv), before)


def status_enum() -> str:
    document = json.loads((ROOT / "spec" / "unify" / "openapi.json").read_text())
    ref = document["components"]["schemas"]["Enrollment"]["properties"]["status"]["$ref"]
    return str(ref).rsplit("/", 1)[-1]


def wrapper_operation() -> str:
    """An operation the wrapper's client calls (the first by name)."""
    users = wrapper_users(ROOT / "wrapper" / "sequence_clients", "unify")
    return sorted(name for name in users if ".api." in name)[0].rsplit(".", 1)[-1]


def check_golden(name: str, text: str) -> None:
    """`text` against the golden, the normalised specs' digests replaced (they change with every
    vendor release taken in; test_digests_are_those_of_the_baseline_and_the_release checks them)."""
    golden = GOLDEN / f"{name}.md"
    text = re.sub(r"\b[0-9a-f]{12} -> [0-9a-f]{12}\b", "<baseline> -> <release>", text)
    if os.environ.get("SPEC_WATCH_UPDATE_GOLDEN"):
        golden.write_text(text)
    assert golden.exists(), f"no {golden}: run with SPEC_WATCH_UPDATE_GOLDEN=1 and review it"
    assert text == golden.read_text(), (
        f"PR.md differs from {golden}; if the change is intended, rewrite the goldens with "
        "SPEC_WATCH_UPDATE_GOLDEN=1 and review the diff"
    )


# --------------------------------------------------------------------------- the committed one


def test_the_committed_document_changes_nothing(tmp_path_factory: pytest.TempPathFactory) -> None:
    committed = str(ROOT / "spec" / "unify" / "openapi.json")

    watched = watch(tmp_path_factory, "unchanged", "--source", committed)

    assert watched.exit_code == spec_watch.Outcome.NONE == 0
    assert files(watched.tree) == watched.before  # nothing written, not even build/


# --------------------------------------------------------------------------- a new enum value


@pytest.fixture(scope="module")
def enum_value(tmp_path_factory: pytest.TempPathFactory) -> Watched:
    enum = status_enum()
    source = release(
        tmp_path_factory.mktemp("enum-release"),
        lambda d: d["components"]["schemas"][enum]["enum"].append("PAUSED"),
    )
    return watch(tmp_path_factory, "enum", "--source", str(source))


def test_new_enum_value_is_a_compatible_minor_release(enum_value: Watched) -> None:
    assert enum_value.exit_code == spec_watch.Outcome.COMPATIBLE
    assert "**Version bump: minor**" in enum_value.pr
    assert f"enum value added | `{status_enum()}` | 'PAUSED'" in enum_value.pr
    check_golden("enum_value", enum_value.pr)


def test_digests_are_those_of_the_baseline_and_the_release(enum_value: Watched) -> None:
    baseline = generate.built_spec(ROOT / "generated", "unify")
    release = generate.built_spec(enum_value.tree / "generated", "unify")
    assert baseline != release
    assert f"| unify | {digest(baseline)} -> {digest(release)} |" in enum_value.pr


def test_release_files_follow_the_report(enum_value: Watched) -> None:
    tree = enum_value.tree
    old, new = _version(), enum_value.version()
    assert (old, new) == ("1.2.3", "1.3.0")  # minor
    changelog = (tree / "CHANGELOG.md").read_text()
    entry = changelog.split(f"## [{new}] - {TODAY.isoformat()}", 1)[1].split("\n## ", 1)[0]
    assert "enum value added" in entry and "'PAUSED'" in entry
    assert changelog.index("## [Unreleased]") < changelog.index(f"## [{new}]")
    # The release is taken in: the provenance records it, so `make generate` accepts the tree.
    generate.verify_provenance(tree / "spec" / "unify" / "openapi.json")
    assert "'PAUSED'" in (tree / "spec" / "CHANGES.md").read_text()
    assert (
        "PAUSED"
        in (tree / "generated" / "unify" / "models" / f"{_module(status_enum())}.py").read_text()
    )
    # Boast's document did not change: its spec, code and reference stay as they were.
    boast = {
        name: body
        for name, body in enum_value.before.items()
        if name.startswith(("generated/boast/", "generated/spec/boast", "spec/boast/"))
    }
    after = files(tree)
    assert boast and {name: after.get(name) for name in boast} == boast
    assert "\n## boast\n" in (tree / "docs" / "api.md").read_text()


def _version() -> str:
    return VERSION


def _module(class_name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", class_name).lower()


# --------------------------------------------------------------------------- the 3.1 excerpt


@pytest.fixture(scope="module")
def excerpt_31(tmp_path_factory: pytest.TempPathFactory) -> Watched:
    # The real suite fails on this release (tests of the removed plays); so does the stand-in.
    return watch(tmp_path_factory, "excerpt", "--source", str(EXCERPT_31), "--merge", tests=FAILING)


def test_merged_31_excerpt_reports_as_make_generate_does(excerpt_31: Watched) -> None:
    assert excerpt_31.exit_code == spec_watch.Outcome.TESTS_FAILED
    changes = (excerpt_31.tree / "spec" / "CHANGES.md").read_text().split("\n## ")[1]
    rows = [line for line in changes.splitlines() if line.startswith("| ") and "`" in line]
    assert rows
    for row in rows:  # every row of the CHANGES.md section is in PR.md
        kind, where = row.split(" | ")[:2]
        assert f"| {kind.removeprefix('| ')} | {where} |" in excerpt_31.pr or kind == "| python API"
    assert "**Test suite: FAILED**" in excerpt_31.pr
    check_golden("excerpt_31", excerpt_31.pr)


# --------------------------------------------------------------------------- an operation removed


@pytest.fixture(scope="module")
def operation_removed(tmp_path_factory: pytest.TempPathFactory) -> Watched:
    operation_id = wrapper_operation()

    def remove(document: Document) -> None:
        for item in document["paths"].values():
            for method, operation in list(item.items()):
                if isinstance(operation, dict) and operation.get("operationId") == operation_id:
                    del item[method]

    source = release(tmp_path_factory.mktemp("removed-release"), remove)
    return watch(tmp_path_factory, "removed", "--source", str(source))


def test_removed_operation_is_a_breaking_major_release(operation_removed: Watched) -> None:
    operation_id = wrapper_operation()
    assert operation_removed.exit_code == spec_watch.Outcome.BREAKING
    assert operation_removed.version() == "2.0.0"  # major, from 1.2.3
    assert f"#### Operation `{operation_id}` — **breaking**" in operation_removed.pr
    users = wrapper_users(ROOT / "wrapper" / "sequence_clients", "unify")
    touched = next(
        line for line in operation_removed.pr.splitlines() if line.startswith("- Wrapper methods")
    )
    named = {u for module, who in users.items() if module.endswith(f".{operation_id}") for u in who}
    assert named
    for user in named:
        assert f"`{user.removeprefix('sequence_clients.')}`" in touched
    # docs/api.md is regenerated with the code: the operation is gone from it.
    api_doc = (operation_removed.tree / "docs" / "api.md").read_text()
    unify = api_doc.split("\n## unify\n", 1)[1].split("\n## ", 1)[0]
    assert f"#### `{operation_id}`" not in unify
    check_golden("operation_removed", operation_removed.pr)


# --------------------------------------------------------------------------- no baseline


def test_without_a_baseline_it_stops_and_writes_nothing(
    tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    base = tmp_path_factory.mktemp("no-baseline")
    tree = tree_copy(base / "tree")
    (tree / "generated" / "spec" / "unify.openapi.json").unlink()
    before = files(tree)
    source = release(base, lambda d: d["info"].update(version="2"))

    exit_code = spec_watch.main(["--root", str(tree), "--source", str(source), "--tests", PASSING])

    assert exit_code == spec_watch.Outcome.ERROR
    assert "no baseline" in capsys.readouterr().err
    assert files(tree) == before
