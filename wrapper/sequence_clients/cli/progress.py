"""The bulk-enroll progress bar (rate and ETA) and the end-of-run report on screen."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from .bulk import OUTCOMES, Report
from .output import console


class RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:,.0f} rows/s")


class BulkProgress:
    """A rich progress bar fed one outcome per row; silent when stdout is not a terminal."""

    def __init__(self, total: int | None, *, enabled: bool = True) -> None:
        out = Console(stderr=True)
        self.counts: Counter[str] = Counter()
        self._progress = Progress(
            TextColumn("[bold]enrolling"), BarColumn(), MofNCompleteColumn(), RateColumn(),
            TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
            TextColumn("{task.description}"),
            console=out, disable=not (enabled and out.is_terminal), refresh_per_second=8,
        )  # fmt: skip
        self._task = self._progress.add_task("", total=total)

    def advance(self, outcome: str) -> None:
        self.counts[outcome] += 1
        summary = " ".join(f"{name}={self.counts[name]}" for name in OUTCOMES if self.counts[name])
        self._progress.update(self._task, advance=1, description=summary)

    def __enter__(self) -> BulkProgress:
        self._progress.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()


LABELS = {
    "enrolled": "enrolled",
    "existing": "already in this sequence (returned)",
    "already_enrolled": "already enrolled (skipped)",
    "duplicate": "duplicate row (skipped)",
    "failed": "failed",
    "invalid": "invalid row",
    "in_flight": "unresolved (re-run to resume)",
}


def print_report(
    report: Report, retries: int, report_path: Path, journal_path: Path, key: str
) -> None:
    out = console()
    # A heading line, not a table title: rich would wrap a title to the narrow table's width.
    out.print(f"[bold]Bulk enroll: {report.total} rows in {report.elapsed:.1f} s[/]")
    table = Table()
    table.add_column("outcome")
    table.add_column("rows", justify="right")
    for outcome, label in LABELS.items():
        if report.counts[outcome]:
            table.add_row(label, str(report.counts[outcome]))
    out.print(table)
    notes = []
    if report.done_earlier:
        notes.append(f"{report.done_earlier} rows were finished by an earlier run (journal)")
    if report.recovered:
        notes.append(f"{report.recovered} interrupted rows resumed without enrolling twice")
    notes.append(f"{retries} requests retried by the client")
    out.print("; ".join(notes) + ".", markup=False)
    if report.problems:
        shown = (
            f"first {len(report.problems)} of {report.failed}"
            if len(report.problems) < report.failed
            else str(report.failed)
        )
        problems = Table(title=f"Problems ({shown}; all in the report)", title_justify="left")
        for name in ("line", key, "outcome", "reason"):
            problems.add_column(name, overflow="fold")
        for line in report.problems:
            problems.add_row(str(line.line), line.key, line.outcome, line.detail)
        out.print(problems)
    out.print(f"Report: {report_path}   Journal: {journal_path}", markup=False)
