"""Bulk-enroll progress on stderr (a bar, or plain lines when not a terminal) and the
end-of-run report on screen."""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
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

from ..bulk.engine import OTHER_SEQUENCE, OUTCOMES, Report
from ..bulk.journal import IN_FLIGHT, UNDO_FAILED, UNDO_IN_FLIGHT, UNDONE, ReportLine
from ..bulk.report import NOT_ATTEMPTED, Summary
from .messages import count, say
from .output import console

if TYPE_CHECKING:
    from .._telemetry import ClientStats


def traffic(stats: ClientStats) -> str:
    """What the vendor client did beyond one request per row: retries, 429s, limiter waits."""
    parts = [f"retries={stats.retries}", f"429s={stats.rate_limited}"]
    parts.append(f"limiter waits={stats.limiter_waits} ({stats.limiter_wait_seconds:.1f} s)")
    return " ".join(parts)


class RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:,.0f} rows/s")


class _Summary(ProgressColumn):
    """The outcome counts so far, read when the bar is drawn (8 times a second), not once per
    row: formatting them for every row cost more than the rest of the bar."""

    def __init__(self, summary: Callable[[], str]) -> None:
        super().__init__()
        self._summary = summary

    def render(self, task: Task) -> Text:
        return Text(self._summary())


class BulkProgress:
    """Progress on stderr, fed one outcome per row: a rich bar (rate, ETA) on a terminal, and a
    plain line every `every` seconds otherwise (a log file or CI shows the run is alive)."""

    def __init__(
        self,
        total: int | None,
        *,
        verb: str = "enrolling",
        command: str = "bulk-enroll",
        enabled: bool = True,
        every: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        out = Console(stderr=True)
        self.counts: Counter[str] = Counter()
        self._total = total
        self._lines = enabled and not out.is_terminal
        self._bar = enabled and out.is_terminal
        self._every, self._clock, self._command = every, clock, command
        self._started = self._last = clock()
        self._progress = Progress(
            TextColumn(f"[bold]{verb}"), BarColumn(), MofNCompleteColumn(), RateColumn(),
            TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), _Summary(self.summary),
            console=out, disable=not self._bar, refresh_per_second=8,
        )  # fmt: skip
        self._task = self._progress.add_task("", total=total)
        # Set once the vendor client exists: its totals join the progress line.
        self.client_stats: Callable[[], ClientStats] | None = None

    def summary(self) -> str:
        rows = " ".join(f"{name}={self.counts[name]}" for name in OUTCOMES if self.counts[name])
        if self.client_stats is None:
            return rows
        return f"{rows}; {traffic(self.client_stats())}" if rows else traffic(self.client_stats())

    def advance(self, outcome: str) -> None:
        self.counts[outcome] += 1
        if self._bar:
            self._progress.advance(self._task)
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
            f"{self._command}: {done:,}{of} rows, {rate:,.0f} rows/s{eta}; {self.summary()}\n"
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
    UNDONE: "enrolled, then undone",
    UNDO_FAILED: "enrolled; undo failed (re-run bulk-undo)",
    UNDO_IN_FLIGHT: "enrolled; undo interrupted mid-request (re-run bulk-undo)",
}


def print_report(
    summary: Summary,
    report: Report | None,
    stats: ClientStats | None,
    journal_path: Path,
    heading: str = "Bulk enroll",
) -> None:
    """The end-of-run report: counts, the first problems, where the files are, what next."""
    out = console()
    elapsed = f" in {report.elapsed:.1f} s" if report is not None else ""
    # A heading line, not a table title: rich would wrap a title to the narrow table's width.
    out.print(f"[bold]{escape(heading)}: {count(summary.total, 'row')}{elapsed}[/]")
    print_counts(summary.counts)
    notes = []
    if report is not None and report.done_earlier:
        notes.append(f"{count(report.done_earlier, 'row')} finished by an earlier run (journal)")
    if report is not None and report.recovered:
        notes.append(
            f"{count(report.recovered, 'interrupted row')} resumed without enrolling twice"
        )
    if report is not None and stats is not None:
        notes.append(f"{count(stats.retries, 'request')} retried by the client")
        if stats.rate_limited:
            notes.append(f"{count(stats.rate_limited, 'answer')} 429 (rate limited)")
        if stats.limiter_waits:
            waits = count(stats.limiter_waits, "time")
            notes.append(f"waited for the rate limit {waits} ({stats.limiter_wait_seconds:.1f} s)")
    if notes:
        out.print("; ".join(notes) + ".", markup=False)
    print_problems(summary.problems, summary.not_done + summary.counts[UNDO_FAILED])
    out.print(say("files_written", report=summary.report_path, journal=journal_path), markup=False)
    if summary.failed_rows:
        out.print(
            say(
                "not_enrolled",
                rows=count(summary.not_done, "row"),
                failed_rows=count(summary.failed_rows, "row"),
                failed=summary.failed_path,
            ),
            markup=False,
        )
    if summary.unsent:
        out.print(
            say(
                "unsent",
                rows=count(summary.unsent, "row"),
                in_flight=summary.counts[IN_FLIGHT] + summary.counts[UNDO_IN_FLIGHT],
                not_attempted=summary.counts[NOT_ATTEMPTED],
            ),
            markup=False,
        )


def print_counts(counts: Counter[str]) -> None:
    table = Table()
    table.add_column("outcome")
    table.add_column("rows", justify="right")
    for outcome, label in LABELS.items():
        if counts[outcome]:
            table.add_row(label, f"{counts[outcome]:,}")
    for outcome in sorted(set(counts) - set(LABELS)):
        if counts[outcome]:
            table.add_row(escape(outcome), f"{counts[outcome]:,}")
    console().print(table)


def print_problems(problems: list[ReportLine], total: int, title: str = "problems") -> None:
    """The first problems as a table; `title`: a key of the messages table."""
    if not problems:
        return
    shown = f"first {len(problems)} of {total:,}" if len(problems) < total else f"{total:,}"
    table = Table(title=say(title, shown=shown), title_justify="left")
    for name in ("line", "id", "outcome", "reason"):
        table.add_column(name, overflow="fold")
    for line in problems:
        # Vendor text such as "404 [not_found]: …" is not markup: escaped, it shows as sent.
        table.add_row(str(line.line), escape(line.key), escape(line.outcome), escape(line.detail))
    console().print(table)
