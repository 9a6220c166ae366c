"""The bulk-enroll report: every record of the file joined with its state in the journal.

Derived from the file and the journal alone, so it can be written after any ending — a normal
one, Ctrl-C, a kill, the breaker, a crash — and after `kill -9` by `sequence-clients
bulk-report` or by the next run. Two files beside `campaign.csv`, written the way the source is
(delimiter, BOM, line endings, encoding) so that Excel opens them as it opened the source:

- campaign.report.csv: line, the source's identifying columns (name, email, company), the id,
  outcome, enrollment_id, detail for every record;
- campaign.failed.csv: the records that failed or are invalid (or active in another
  sequence), with the file's own columns, ready to fix and run. Rows never sent or caught
  mid-request are counted apart: re-running the same command handles them.

Each file is written beside its final name and moved into place only once complete, so a
failed write (disk full, permission) leaves the previous good file, and says which file.
"""

from __future__ import annotations

import csv
import os
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO

from .engine import OTHER_SEQUENCE
from .journal import FAILED, IN_FLIGHT, UNDO_FAILED, UNDO_IN_FLIGHT, Journal, ReportLine
from .rows import BadRow, CsvFile, Row

NOT_ATTEMPTED = "not_attempted"
# Outcomes that leave the person or contact not enrolled by this campaign.
PROBLEMS = frozenset({FAILED, "invalid", IN_FLIGHT, NOT_ATTEMPTED, OTHER_SEQUENCE})
# Of those, the ones the failed-rows file holds: the rows that need a fix or a look. Rows
# never sent or caught mid-request are counted apart: re-running the same command sends them.
FAILED_FILE = frozenset({FAILED, "invalid", OTHER_SEQUENCE, UNDO_FAILED})
UNSENT = frozenset({IN_FLIGHT, NOT_ATTEMPTED, UNDO_IN_FLIGHT})
MAX_LISTED_PROBLEMS = 20
# A cell starting with one of these is a formula to Excel, LibreOffice and Sheets (OWASP CSV
# injection); a leading apostrophe makes it text, and the spreadsheet hides the apostrophe.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_DETAILS = {
    IN_FLIGHT: "interrupted mid-request; re-running resolves it without enrolling twice",
    NOT_ATTEMPTED: "not sent: the run stopped first; re-running sends it",
    UNDO_IN_FLIGHT: "interrupted mid-cancel; re-running bulk-undo resolves it",
}


def safe_cell(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_STARTS) else value


class ReportWriteError(Exception):
    """A report file could not be written; `path` names it, the previous one is untouched."""

    def __init__(self, path: Path, error: OSError) -> None:
        super().__init__(f"{path}: {error.strerror or error}")
        self.path = path
        self.reason = error.strerror or str(error)


@dataclass
class Summary:
    counts: Counter[str]
    problems: list[ReportLine] = field(default_factory=list)  # the first few, in line order
    report_path: Path | None = None
    failed_path: Path | None = None

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def not_done(self) -> int:
        return sum(self.counts[outcome] for outcome in PROBLEMS)

    @property
    def failed_rows(self) -> int:
        return sum(self.counts[outcome] for outcome in FAILED_FILE)

    @property
    def unsent(self) -> int:
        return sum(self.counts[outcome] for outcome in UNSENT)


def default_paths(file: Path) -> tuple[Path, Path, Path]:
    """(journal, report, failed rows) next to the campaign file: campaign.csv gives
    campaign.csv.journal.sqlite, campaign.report.csv and campaign.failed.csv."""
    return (
        file.with_name(file.name + ".journal.sqlite"),
        file.with_name(file.stem + ".report.csv"),
        file.with_name(file.stem + ".failed.csv"),
    )


class CsvOutput:
    """A CSV written like its source, every cell neutralised against formulas, moved into
    place on success only; any OSError becomes a ReportWriteError naming the file."""

    def __init__(self, path: Path, source: CsvFile) -> None:
        self.path = path
        self._part = path.with_name(path.name + ".part")
        self._handle: IO[str] | None = None
        try:
            self._handle = self._part.open(
                "w", newline="", encoding=source.output_encoding, errors="replace"
            )
        except OSError as error:
            raise ReportWriteError(path, error) from None
        self._writer = csv.writer(
            self._handle, delimiter=source.delimiter, lineterminator=source.newline
        )

    def write(self, cells: Sequence[object]) -> None:
        try:
            self._writer.writerow([safe_cell(str(cell)) for cell in cells])
        except OSError as error:
            raise ReportWriteError(self.path, error) from None

    def __enter__(self) -> CsvOutput:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._handle is not None
        try:
            self._handle.close()
            if kind is None:
                os.replace(self._part, self.path)
        except OSError as failure:
            self._part.unlink(missing_ok=True)
            raise ReportWriteError(self.path, failure) from None
        if kind is not None:
            self._part.unlink(missing_ok=True)


def write_reports(
    source: CsvFile,
    journal: Journal,
    report_path: Path,
    failed_path: Path,
    default_mailboxes: Sequence[str] = (),
) -> Summary:
    """Write both files in one pass over the file (one indexed lookup per record)."""
    summary = Summary(Counter(), report_path=report_path, failed_path=failed_path)
    first_line: dict[str, int] = {}
    identity = source.identity
    with CsvOutput(report_path, source) as report, CsvOutput(failed_path, source) as failed:
        report.write(
            ["line", *(name for name, _ in identity), source.spec.key_column, "outcome",
             "enrollment_id", "detail"]
        )  # fmt: skip
        failed.write(source.header)
        for record in source.records():
            parsed = source.parse(record, default_mailboxes)
            known = _journaled(journal, parsed) if isinstance(parsed, BadRow) else None
            if known is not None:
                # The file changed after the journal recorded this person (a mailbox cell,
                # say): the report still says what the journal holds, never "invalid".
                parsed = known
            if isinstance(parsed, BadRow):
                line = ReportLine(record.line, parsed.raw_key, "invalid", "", parsed.reason)
            elif parsed.key in first_line:
                detail = f"same id as line {first_line[parsed.key]}"
                line = ReportLine(record.line, parsed.key, "duplicate", "", detail)
            else:
                first_line[parsed.key] = record.line
                state = journal.lookup(parsed.key)
                if state is None:
                    line = ReportLine(
                        record.line, parsed.key, NOT_ATTEMPTED, "", _DETAILS[NOT_ATTEMPTED]
                    )
                else:
                    outcome, enrollment_id, detail = state
                    detail = _DETAILS.get(outcome, detail)
                    line = ReportLine(record.line, parsed.key, outcome, enrollment_id, detail)
            who = [record.fields[i] if i < len(record.fields) else "" for _, i in identity]
            report.write([line.line, *who, line.key, line.outcome, line.enrollment_id, line.detail])
            summary.counts[line.outcome] += 1
            if line.outcome in FAILED_FILE:
                failed.write(record.fields)
            listed = len(summary.problems) < MAX_LISTED_PROBLEMS
            if listed and line.outcome in PROBLEMS | FAILED_FILE | UNSENT:
                summary.problems.append(line)
    return summary


def _journaled(journal: Journal, bad: BadRow) -> Row | None:
    """The row a bad record stands for when its id is valid and the journal holds it."""
    try:
        key = str(uuid.UUID(bad.raw_key.strip()))
    except ValueError:
        return None
    return None if journal.lookup(key) is None else Row(bad.line, key)
