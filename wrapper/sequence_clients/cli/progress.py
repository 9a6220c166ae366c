"""Bulk-enroll progress on stderr (a bar, or plain lines when not a terminal) and the
end-of-run report on screen."""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable
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

from .bulk import OTHER_SEQUENCE, OUTCOMES, Report
from .journal import IN_FLIGHT
from .output import console
from .report import NOT_ATTEMPTED, Summary


class RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:,.0f} rows/s")


class BulkProgress:
    """Progress on stderr, fed one outcome per row: a rich bar (rate, ETA) on a terminal, and a
    plain line every `every` seconds otherwise (a log file or CI shows the run is alive)."""

    def __init__(
        self,
        total: int | None,
        *,
        enabled: bool = True,
        every: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        out = Console(stderr=True)
        self.counts: Counter[str] = Counter()
        self._total = total
        self._lines = enabled and not out.is_terminal
        self._every, self._clock = every, clock
        self._started = self._last = clock()
        self._progress = Progress(
            TextColumn("[bold]enrolling"), BarColumn(), MofNCompleteColumn(), RateColumn(),
            TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
            TextColumn("{task.description}"),
            console=out, disable=not (enabled and out.is_terminal), refresh_per_second=8,
        )  # fmt: skip
        self._task = self._progress.add_task("", total=total)

    def summary(self) -> str:
        return " ".join(f"{name}={self.counts[name]}" for name in OUTCOMES if self.counts[name])

    def advance(self, outcome: str) -> None:
        self.counts[outcome] += 1
        self._progress.update(self._task, advance=1, description=self.summary())
        if self._lines and self._clock() - self._last >= self._every:
            self._last = self._clock()
            self.print_line()

    def print_line(self) -> None:
        done = sum(self.counts.values())
        elapsed = max(self._clock() - self._started, 1e-9)
        rate = done / elapsed
        of = f"/{self._total:,}" if self._total else ""
        eta = ""
        if self._total and rate > 0:
            left = max(self._total - done, 0) / rate
            eta = f", ETA {int(left // 60)}:{int(left % 60):02d}"
        sys.stderr.write(
            f"bulk-enroll: {done:,}{of} rows, {rate:,.0f} rows/s{eta}; {self.summary()}\n"
        )
        sys.stderr.flush()

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
    "already_enrolled": "already in this sequence (skipped)",
    OTHER_SEQUENCE: "active in another sequence (not enrolled)",
    "duplicate": "duplicate row (skipped)",
    "failed": "failed",
    "invalid": "invalid row",
    IN_FLIGHT: "interrupted mid-request (re-run resolves)",
    NOT_ATTEMPTED: "not attempted (the run stopped)",
}


def print_report(summary: Summary, report: Report | None, retries: int, journal_path: Path) -> None:
    """The end-of-run report: counts, the first problems, where the files are, what next."""
    out = console()
    elapsed = f" in {report.elapsed:.1f} s" if report is not None else ""
    # A heading line, not a table title: rich would wrap a title to the narrow table's width.
    out.print(f"[bold]Bulk enroll: {summary.total} rows{elapsed}[/]")
    table = Table()
    table.add_column("outcome")
    table.add_column("rows", justify="right")
    for outcome, label in LABELS.items():
        if summary.counts[outcome]:
            table.add_row(label, str(summary.counts[outcome]))
    out.print(table)
    notes = []
    if report is not None and report.done_earlier:
        notes.append(f"{report.done_earlier} rows were finished by an earlier run (journal)")
    if report is not None and report.recovered:
        notes.append(f"{report.recovered} interrupted rows resumed without enrolling twice")
    if report is not None:
        notes.append(f"{retries} requests retried by the client")
    if notes:
        out.print("; ".join(notes) + ".", markup=False)
    if summary.problems:
        shown = (
            f"first {len(summary.problems)} of {summary.not_done}"
            if len(summary.problems) < summary.not_done
            else str(summary.not_done)
        )
        problems = Table(title=f"Problems ({shown}; all in the report)", title_justify="left")
        for name in ("line", "id", "outcome", "reason"):
            problems.add_column(name, overflow="fold")
        for line in summary.problems:
            problems.add_row(str(line.line), line.key, line.outcome, line.detail)
        out.print(problems)
    out.print(f"Report: {summary.report_path}   Journal: {journal_path}", markup=False)
    if summary.not_done:
        out.print(
            f"{summary.not_done} rows not enrolled; they are in {summary.failed_path} with the "
            "file's columns. Re-running the same command retries them (enrolled rows are "
            "skipped); or fix that file and run it instead.",
            markup=False,
        )
