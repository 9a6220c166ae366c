"""Rendering: the console text of `make generate`, its spec/CHANGES.md section, and the body of the
release pull request `make spec-watch` prepares (build/release/PR.md) with its CHANGELOG entry."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .changes import PYTHON_API, Change
from .summary import Bump, Group, Subjects, bump_for, group_changes


@dataclass(frozen=True)
class VendorReport:
    vendor: str
    old_digest: str
    new_digest: str
    changes: list[Change]
    # The operations and models of both releases: what the changes are grouped under.
    subjects: Subjects = field(default_factory=Subjects)

    @property
    def breaking(self) -> list[Change]:
        return [c for c in self.changes if c.breaking]

    @property
    def groups(self) -> list[Group]:
        return group_changes(self.changes, self.subjects)

    @property
    def bump(self) -> Bump:
        return bump_for(self.changes, self.old_digest != self.new_digest)

    def text(self) -> str:
        if not self.changes:
            return f"{self.vendor}: no changes against the committed spec"
        counted = f"{len(self.changes)} change(s), {len(self.breaking)} breaking"
        lines = [
            f"{self.vendor}: {counted} (normalised spec {self.old_digest} -> {self.new_digest})"
        ]
        return "\n".join([*lines, *(f"  {c.line()}" for c in self.changes)])

    def markdown(self) -> str:
        """The spec/CHANGES.md section: every change, one row each."""
        rows = [
            f"| {c.kind} | `{_cell(c.where)}` | {_cell(c.full_detail)} | {c.deployed.value} "
            f"| {c.code.value} | {_cell(c.why)} |"
            for c in self.changes
        ]
        return "\n".join(
            [
                f"## {self.vendor}: normalised spec {self.old_digest} -> {self.new_digest}",
                "",
                f"{len(self.changes)} change(s), {len(self.breaking)} breaking.",
                "",
                "| Change | Where | Detail | Deployed old clients | Code using the API | Why |",
                "|---|---|---|---|---|---|",
                *rows,
                "",
                "For CHANGELOG.md, `### Vendor API changes` under `[Unreleased]`:",
                "",
                *self.changelog_lines(),
                "",
            ]
        )

    def changelog_lines(self) -> list[str]:
        lines = [
            f"- {self.vendor}: {c.kind} `{c.where}`{' ' + c.detail if c.detail else ''}"
            + (" (breaking)" if c.breaking else "")
            for c in self.changes
            if c.kind != PYTHON_API
        ]
        api = [g for g in self.groups if g.python]
        if api:
            lines.append(
                f"- {self.vendor}: {len(api)} public name(s) of the generated package changed or"
                " removed (breaking for code; listed in spec/CHANGES.md)"
            )
        return lines


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _short_user(user: str) -> str:
    return user.removeprefix("sequence_clients.")


def digest(document: dict[str, Any]) -> str:
    canonical = json.dumps(document, sort_keys=True, ensure_ascii=False).encode()
    return hashlib.sha256(canonical).hexdigest()[:12]


CHANGES_HEADER = """# Vendor API changes, as `make generate` reported them

Written by scripts/generate.py (scripts/spec_report/): one section per regeneration that changed
a vendor's normalised spec, newest first, judged for deployed old clients and for code using the
API. Regenerating the same spec again rewrites its own section, never adds one. Do not edit by hand.
"""


def update_changes_file(path: Path, reports: list[VendorReport]) -> None:
    """Put each report with changes at the top of `path`, replacing an earlier one for the same spec."""
    sections = _sections(path.read_text()) if path.exists() else []
    for report in reversed([r for r in reports if r.changes]):
        heading = f"## {report.vendor}: normalised spec {report.old_digest} -> {report.new_digest}"
        sections = [s for s in sections if not s.startswith(heading)]
        sections.insert(0, report.markdown())
    path.write_text(CHANGES_HEADER + "".join("\n" + s.rstrip("\n") + "\n" for s in sections))


def _sections(text: str) -> list[str]:
    parts = text.split("\n## ")
    return ["## " + part for part in parts[1:]]


# ----------------------------------------------------------------------------- the release


@dataclass(frozen=True)
class SuiteResult:
    command: str
    exit_code: int
    tail: str  # the last lines of its output

    @property
    def passed(self) -> bool:
        return self.exit_code == 0


BUMP_REASONS = {
    Bump.MAJOR: "breaking for code using the generated API or the wrapper",
    Bump.MINOR: "operations, fields, parameters or enum values added; nothing breaks for code",
    Bump.PATCH: "the document changed without adding or breaking anything",
    Bump.NONE: "nothing changed",
}


def release_bump(reports: Iterable[VendorReport]) -> Bump:
    return max((r.bump for r in reports), default=Bump.NONE)


def pull_request(reports: list[VendorReport], suite: SuiteResult, version: tuple[str, str]) -> str:
    """build/release/PR.md: the summary table, the bump, the suite, then per vendor the spec
    changes per operation and model and the Python API changes per public name."""
    bump = release_bump(reports)
    old_version, new_version = version
    lines = [
        f"# Vendor API update: {', '.join(r.vendor for r in reports)}",
        "",
        f"**Version bump: {bump.name.lower()}** ({old_version} -> {new_version}): "
        f"{BUMP_REASONS[bump]}.",
        "",
        "| Vendor | Normalised spec | Changes | Breaking for deployed clients | Breaking for code |",
        "|---|---|---|---|---|",
        *(
            f"| {r.vendor} | {r.old_digest} -> {r.new_digest} | {len(r.changes)} "
            f"| {sum(c.deployed.name == 'BREAKING' for c in r.changes)} "
            f"| {sum(c.code.name == 'BREAKING' for c in r.changes)} |"
            for r in reports
        ),
        "",
        f"**Test suite: {'passed' if suite.passed else 'FAILED'}** "
        f"(`{suite.command}`, exit {suite.exit_code})",
        "",
        "```",
        suite.tail.rstrip("\n"),
        "```",
        "",
        f"`pyproject.toml` version set to {new_version}; CHANGELOG.md has its entry.",
    ]
    for report in reports:
        lines += ["", *_vendor_section(report)]
    return "\n".join(lines) + "\n"


def _vendor_section(report: VendorReport) -> list[str]:
    if not report.changes:
        return [f"## {report.vendor}", "", "The document changed; no change a client can notice."]
    groups = report.groups
    lines = [f"## {report.vendor}", "", "### Changes per operation and model", ""]
    for group in [g for g in groups if not g.python]:
        mark = " — **breaking**" if group.breaking else ""
        lines += [
            f"#### {group.kind.capitalize()} `{group.subject}`{mark}",
            "",
            "| Change | Where | Detail | Wire (deployed old clients) | Python code | Why |",
            "|---|---|---|---|---|---|",
            *(
                f"| {c.kind} | `{_cell(c.where)}` | {_cell(c.detail)} | {c.deployed.value} "
                f"| {c.code.value} | {_cell(c.why)} |"
                for c in group.changes
            ),
            "",
        ]
    api = [g for g in groups if g.python]
    lines += ["### Python API changes per public name", ""]
    if not api:
        lines += ["None: code written against the current client keeps working.", ""]
    for group in api:
        lines += [f"#### {group.kind.capitalize()} `{group.name}` — breaking for code", ""]
        lines += [
            f"- {', '.join(f'`{m}`' if m else '(itself)' for m in members)}: {_cell(detail)}"
            for detail, members in group.members().items()
        ]
        users = ", ".join(f"`{_short_user(u)}`" for u in group.used_by) or "none"
        lines += [f"- Wrapper methods touched: {users}", ""]
    return lines


def changelog_entry(reports: list[VendorReport], version: str, date: str) -> str:
    """The CHANGELOG.md section of the release: the report's changes, one line each."""
    lines = [f"## [{version}] - {date}", "", "### Vendor API changes"]
    for report in reports:
        lines += report.changelog_lines() or [f"- {report.vendor}: document updated, no change"]
    return "\n".join(lines) + "\n"
