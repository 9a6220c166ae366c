"""The bulk-enroll report: every record of the file joined with its state in the journal.

Derived from the file and the journal alone, so it can be written after any ending — a normal
one, Ctrl-C, a kill, the breaker, a crash — and after `kill -9` by `sequence-clients
bulk-report` or by the next run. Two files:

- FILE.report.csv: line, id, outcome, enrollment_id, detail for every record;
- FILE.failed.csv: the records that did not end enrolled (failed, invalid, interrupted, not
  attempted, active in another sequence) with the file's own columns, ready to fix and re-run.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .bulk import OTHER_SEQUENCE
from .journal import FAILED, IN_FLIGHT, Journal, ReportLine
from .rows import BadRow, CsvFile

NOT_ATTEMPTED = "not_attempted"
# Outcomes that leave the person or contact not enrolled by this campaign.
PROBLEMS = frozenset({FAILED, "invalid", IN_FLIGHT, NOT_ATTEMPTED, OTHER_SEQUENCE})
MAX_LISTED_PROBLEMS = 20
_DETAILS = {
    IN_FLIGHT: "interrupted mid-request; re-running resolves it without enrolling twice",
    NOT_ATTEMPTED: "not sent: the run stopped first; re-running sends it",
}


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


def default_paths(file: Path) -> tuple[Path, Path, Path]:
    """(journal, report, failed rows) next to the campaign file."""
    return (
        file.with_name(file.name + ".journal.sqlite"),
        file.with_name(file.name + ".report.csv"),
        file.with_name(file.stem + ".failed.csv"),
    )


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
    key_column = source.spec.key_column
    with (
        report_path.open("w", newline="", encoding="utf-8") as report_handle,
        failed_path.open("w", newline="", encoding="utf-8") as failed_handle,
    ):
        report = csv.writer(report_handle)
        report.writerow(["line", key_column, "outcome", "enrollment_id", "detail"])
        failed = csv.writer(failed_handle, delimiter=source.delimiter)
        failed.writerow(source.header)
        for record in source.records():
            parsed = source.parse(record, default_mailboxes)
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
            report.writerow([line.line, line.key, line.outcome, line.enrollment_id, line.detail])
            summary.counts[line.outcome] += 1
            if line.outcome in PROBLEMS:
                failed.writerow(record.fields)
                if len(summary.problems) < MAX_LISTED_PROBLEMS:
                    summary.problems.append(line)
    return summary
