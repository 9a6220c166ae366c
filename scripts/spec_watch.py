"""`make spec-watch`: prepare a reviewed release when a vendor publishes a new document.

    make spec-watch                                  # each vendor's published document
    make spec-watch UNIFY_SPEC=<url or file>         # a release received some other way
    make spec-watch UNIFY_SPEC=<excerpt> MERGE=1     # a release of some operations only
    make spec-watch SPEC_WATCH_TESTS="<command>"     # the suite to run (default: make test)

The document is fetched (or merged) into a scratch copy of spec/<vendor>/ and compared with the
stored one. Unchanged: exit 0, nothing written. Otherwise it is built and judged against the
baseline in the tree (generated/spec/<vendor>.openapi.json; none: exit 1, nothing written), then
taken in: spec/, generated/, spec/CHANGES.md and docs/api.md as `make generate` writes them, the
version in pyproject.toml bumped as the report implies (breaking for code: major; operations,
fields, parameters or enum values added: minor; else patch) with its CHANGELOG.md entry; then the
suite runs and build/release/PR.md is written for the pull request
(.github/workflows/spec-watch.yml opens or updates one, on branch spec-watch/update).

Exit codes (the workflow reads them):
    0   no change: nothing written
    1   error: could not fetch, build or judge (message on stderr), nothing written
    10  compatible release prepared, suite passed
    20  breaking release prepared (major), suite passed
    30  release prepared, but the suite failed (PR.md shows the tail of its output)
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fetch_specs
import generate
from spec_report import Bump, VendorReport, update_changes_file
from spec_report.render import SuiteResult, changelog_entry, pull_request, release_bump

ROOT = generate.ROOT
DEFAULT_TESTS = "make test"
SUITE_TIMEOUT = 3600.0  # seconds: a hung suite fails the watch instead of holding the runner
TAIL_LINES = 15


class Outcome(IntEnum):
    NONE = 0
    ERROR = 1
    COMPATIBLE = 10
    BREAKING = 20
    TESTS_FAILED = 30


@dataclass(frozen=True)
class Tree:
    """The paths of a checkout the watch reads and writes (a temporary copy in tests)."""

    root: Path

    @property
    def spec(self) -> Path:
        return self.root / "spec"

    @property
    def generated(self) -> Path:
        return self.root / "generated"

    @property
    def wrapper(self) -> Path:
        return self.root / "wrapper" / "sequence_clients"

    @property
    def pull_request(self) -> Path:
        return self.root / "build" / "release" / "PR.md"


def take_release(
    vendor: str, source: str, merge: bool, tree: Tree, scratch: Path, today: dt.date
) -> Path | None:
    """Fetch or merge the release into a scratch copy of spec/<vendor>/; that copy's spec
    directory when the document differs from the stored one, None when it is the same."""
    spec_dir = scratch / "spec"
    shutil.copytree(tree.spec / vendor, spec_dir / vendor)
    stored = generate.vendor_source(tree.spec / vendor).read_bytes()
    if merge:
        fetch_specs.merge(vendor, source, spec_dir, today)
    else:
        fetch_specs.fetch(vendor, source, spec_dir, today)
    taken = generate.vendor_source(spec_dir / vendor).read_bytes()
    return None if taken == stored else spec_dir


def run_suite(command: str, cwd: Path, timeout: float = SUITE_TIMEOUT) -> SuiteResult:
    try:
        result = subprocess.run(
            shlex.split(command), cwd=cwd, capture_output=True, text=True, timeout=timeout,
            check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return SuiteResult(command, 124, f"timed out after {timeout:g}s")
    except OSError as error:  # the command does not exist or cannot run
        return SuiteResult(command, 127, str(error))
    lines = (result.stdout + result.stderr).rstrip("\n").splitlines()
    return SuiteResult(command, result.returncode, "\n".join(lines[-TAIL_LINES:]))


def bump_version(pyproject: Path, bump: Bump) -> tuple[str, str]:
    """Write the bumped version into pyproject.toml's [project] table; (old, new)."""
    text = pyproject.read_text()
    pattern = re.compile(r'^(\[project\][^\[]*?^version\s*=\s*")([^"]+)(")', re.M | re.S)
    match = pattern.search(text)
    if match is None:
        raise generate.PipelineError(f"{pyproject}: no version in [project]")
    old = match.group(2)
    try:
        new = bump.apply(old)
    except ValueError as error:
        raise generate.PipelineError(f"{pyproject}: {error}") from error
    pyproject.write_text(text[: match.start(2)] + new + text[match.end(2) :])
    return old, new


def add_changelog_entry(changelog: Path, entry: str) -> None:
    """The release's section right under `## [Unreleased]` (which it releases), newest first."""
    text = changelog.read_text() if changelog.exists() else "# Changelog\n"
    heading = re.search(r"^## \[Unreleased\][^\n]*\n", text, re.M)
    if heading is None:
        changelog.write_text(text.rstrip("\n") + "\n\n## [Unreleased]\n\n" + entry)
        return
    at = heading.end()
    changelog.write_text(text[:at] + "\n" + entry + text[at:])


def watch(
    tree: Tree,
    vendors: list[str],
    source: str | None,
    merge: bool,
    tests: str,
    today: dt.date,
) -> Outcome:
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        taken: dict[str, Path] = {}
        for vendor in vendors:
            release = take_release(
                vendor, source or fetch_specs.PUBLISHED[vendor][0], merge, tree,
                scratch / "releases" / vendor, today,
            )  # fmt: skip
            if release is not None:
                taken[vendor] = release
            print(f"{vendor}: {'changed' if release else 'unchanged'}")
        if not taken:
            return Outcome.NONE
        for vendor in taken:  # no baseline, nothing to judge against: stop before any work
            generate.committed_spec(vendor, tree.generated)
        fresh = scratch / "generated"
        reports: list[VendorReport] = []
        for vendor, spec_dir in taken.items():
            build = generate.build_vendor(vendor, fresh, spec_dir=spec_dir)
            reports.append(generate.vendor_report(build, fresh, tree.generated, tree.wrapper))
        # Judged: from here on the tree takes the release in, for the pull request to review.
        for vendor, spec_dir in taken.items():
            for entry in (spec_dir / vendor).iterdir():
                shutil.copy2(entry, tree.spec / vendor / entry.name)
        generate.install(fresh, tree.generated)
    for report in reports:
        print(report.text())
    update_changes_file(tree.spec / "CHANGES.md", reports)
    generate.write_api_doc(tree.generated, tree.root / "docs" / "api.md", tree.wrapper, tree.spec)
    bump = release_bump(reports)
    version = bump_version(tree.root / "pyproject.toml", bump)
    if bump is not Bump.NONE:  # the same normalised spec (say, reformatted): no release to note
        entry = changelog_entry(reports, version[1], str(today))
        add_changelog_entry(tree.root / "CHANGELOG.md", entry)
    suite = run_suite(tests, tree.root)
    tree.pull_request.parent.mkdir(parents=True, exist_ok=True)
    tree.pull_request.write_text(pull_request(reports, suite, version))
    print(f"{tree.pull_request}: {bump.name.lower()} release {version[0]} -> {version[1]}")
    if not suite.passed:
        return Outcome.TESTS_FAILED
    return Outcome.BREAKING if bump is Bump.MAJOR else Outcome.COMPATIBLE


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--vendor", choices=sorted(fetch_specs.PUBLISHED), action="append")
    parser.add_argument("--source", help="take the document from this URL or local file")
    parser.add_argument("--merge", action="store_true", help="the source is an excerpt to merge")
    parser.add_argument(
        "--tests", default=os.environ.get("SPEC_WATCH_TESTS") or DEFAULT_TESTS,
        help=f"the suite's command, run in the tree (default: {DEFAULT_TESTS})",
    )  # fmt: skip
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    parser.add_argument("--today", type=dt.date.fromisoformat, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.merge and not args.source:
        parser.error("--merge needs --source (UNIFY_SPEC=...)")
    try:
        outcome = watch(
            Tree(args.root.resolve()), args.vendor or sorted(fetch_specs.PUBLISHED), args.source,
            args.merge, args.tests, args.today or dt.date.today(),
        )  # fmt: skip
    except (fetch_specs.FetchError, generate.PipelineError) as error:
        print(f"error: {error}", file=sys.stderr)
        return Outcome.ERROR
    return int(outcome)


if __name__ == "__main__":
    sys.exit(main())
