"""spec_report.render: the console text, the CHANGES.md section, the pull request and the
CHANGELOG entry, from hand-made reports."""

from __future__ import annotations

from pathlib import Path

from spec_report import BREAKING, OK, PYTHON_API, REVIEW, Change, VendorReport, update_changes_file
from spec_report.render import SuiteResult, changelog_entry, pull_request, release_bump
from spec_report.summary import Bump, Subjects

SUBJECTS = Subjects({"get_thing": "pkg.api.things.get_thing"}, frozenset({"Thing"}))
ENUM = Change("enum value added", "Thing.status", "'PAUSED'", OK, REVIEW, "kept as str")
REMOVED = Change("operation removed", "get_thing", "GET /things/{id}", BREAKING, BREAKING)
API = [
    Change(PYTHON_API, f"pkg.api.things.get_thing.{f}", "removed", OK, BREAKING, used_by=(u,))
    for f, u in [
        ("sync", "sequence_clients.pkg.Client.get"),
        ("asyncio", "sequence_clients.pkg.AsyncClient.get"),
    ]
]
PASSED = SuiteResult("echo ok", 0, "3 passed")


def report(*changes: Change, old: str = "aaa", new: str = "bbb") -> VendorReport:
    return VendorReport("pkg", old, new, list(changes), SUBJECTS)


def test_text_has_a_line_per_change_with_its_verdicts() -> None:
    text = report(ENUM, *API).text().splitlines()
    assert text[0].startswith("pkg: 3 change(s), 2 breaking")
    assert "[review] enum value added: Thing.status: 'PAUSED'" in text[1]
    assert "used by sequence_clients.pkg.Client.get" in text[2]
    assert report().text() == "pkg: no changes against the committed spec"


def test_changes_file_keeps_one_section_per_spec(tmp_path: Path) -> None:
    path = tmp_path / "CHANGES.md"
    update_changes_file(path, [report(ENUM)])
    update_changes_file(path, [report(ENUM, REMOVED, new="ccc")])
    update_changes_file(path, [report(ENUM, REMOVED, new="ccc")])  # the same release again

    sections = [line for line in path.read_text().splitlines() if line.startswith("## pkg")]
    assert sections == ["## pkg: normalised spec aaa -> ccc", "## pkg: normalised spec aaa -> bbb"]


def test_release_bump_is_the_largest_of_the_vendors() -> None:
    assert release_bump([report(ENUM), report(REMOVED)]) is Bump.MAJOR
    assert release_bump([report(ENUM)]) is Bump.MINOR
    assert release_bump([]) is Bump.NONE


def test_pull_request_groups_changes_and_names_wrapper_methods() -> None:
    body = pull_request([report(REMOVED, *API)], PASSED, ("0.1.0", "1.0.0"))

    assert "**Version bump: major** (0.1.0 -> 1.0.0)" in body
    assert "**Test suite: passed** (`echo ok`, exit 0)" in body
    assert "#### Operation `get_thing` — **breaking**" in body
    python = body.split("### Python API changes per public name", 1)[1]
    assert python.count("#### ") == 1  # sync and asyncio: one entry
    assert "`sync`, `asyncio`: removed" in python
    assert "`pkg.AsyncClient.get`, `pkg.Client.get`" in python


def test_pull_request_says_when_the_suite_failed_and_nothing_breaks_code() -> None:
    failed = SuiteResult("make test", 1, "1 failed")
    body = pull_request([report(ENUM)], failed, ("0.1.0", "0.2.0"))
    assert "**Test suite: FAILED** (`make test`, exit 1)" in body
    assert "None: code written against the current client keeps working." in body
    assert not failed.passed


def test_changelog_entry_lists_spec_changes_and_counts_python_names() -> None:
    entry = changelog_entry([report(REMOVED, *API)], "1.0.0", "2026-12-06").splitlines()
    assert entry[0] == "## [1.0.0] - 2026-12-06"
    assert "- pkg: operation removed `get_thing` GET /things/{id} (breaking)" in entry
    assert any(line.startswith("- pkg: 1 public name(s)") for line in entry)
