"""What can be done to a campaign after bulk-enroll, from its journal: `bulk-undo` (cancel or
remove exactly the enrollments its runs created), `bulk-pause` and `bulk-resume` (Unify).

Each goes through the bulk engine's own workers, rate limit and circuit breaker (bulk/engine.py);
undo is journaled like enrolling (claimed before sent, so resumable without a second cancel),
pausing is not (pausing twice changes nothing: an interrupted run is simply run again).
"""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer

from ..bulk.engine import Report, Result, RunStats, run_bulk_pause, run_bulk_undo
from ..bulk.journal import (
    Campaign,
    Claim,
    Journal,
    JournalBusy,
    JournalLock,
    ReportLine,
    read_campaign,
    state_counts,
)
from ..bulk.report import default_paths
from ..bulk.vendors import Enroller
from .bulk_cmd import (
    CsvPath,
    Encoding,
    FailedOption,
    Files,
    JournalOption,
    ReportOption,
    Vendor,
    checked_file,
    checked_limit,
    drive,
    finish,
    make_enroller,
    showing_warnings,
)
from .config import ConfigError
from .messages import count, say
from .output import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_STOPPED,
    EXIT_USAGE,
    BaseUrl,
    ConfigFile,
    JsonFlag,
    OutputFormat,
    OutputOption,
    console,
    err_console,
    fail,
    handled_errors,
    output_format,
    print_csv,
    print_json,
    print_table,
)
from .progress import BulkProgress, print_counts, print_problems

VendorArgument = Annotated[Vendor, typer.Argument(help="unify or boast.", show_default=False)]
Concurrency = Annotated[int, typer.Option(min=1, max=256, help="Requests in flight.")]
RateLimit = Annotated[
    str | None,
    typer.Option(help="Client-side limit, e.g. 333/s (Unify default: 100000/5m; Boast: none)."),
]
RateLimitStorage = Annotated[
    str | None,
    typer.Option(
        envvar="SEQUENCE_CLIENTS_RATE_LIMIT_STORAGE",
        help="memory:// (this run only) or redis://HOST:PORT/DB (shared by every run).",
    ),
]
MaxRetries = Annotated[int, typer.Option(min=0, help="Retries per request.")]
UNDOABLE = ("enrolled", "undo_in_flight", "undo_failed")


def campaign_of(journal_path: Path, vendor: Vendor) -> Campaign:
    campaign = read_campaign(journal_path)
    if campaign is None:
        raise ConfigError(say("no_journal", journal=journal_path))
    if campaign.vendor != vendor.value:
        raise ConfigError(
            f"{journal_path} is a {campaign.vendor} campaign, not {vendor.value}; nothing was sent"
        )
    return campaign


def locked(journal_path: Path) -> JournalLock:
    lock = JournalLock(journal_path)
    try:
        lock.acquire()
    except JournalBusy as busy:
        raise fail(str(busy), EXIT_USAGE) from None
    return lock


def bulk_undo(
    vendor: VendorArgument,
    file: CsvPath,
    concurrency: Concurrency = 32,
    rate_limit: RateLimit = None,
    rate_limit_storage: RateLimitStorage = None,
    encoding: Encoding = None,
    journal: JournalOption = None,
    report: ReportOption = None,
    failed: FailedOption = None,
    max_retries: MaxRetries = 4,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", "-n", help="Say how many enrollments would be undone; send nothing."
        ),
    ] = False,
    as_json: JsonFlag = False,
    base_url: BaseUrl = None,
    config: ConfigFile = None,
) -> None:
    """Cancel (Unify) or remove (Boast) every enrollment this campaign's runs created, and only
    those: people already enrolled beforehand, skipped or failed rows are left alone.

    Resumable like bulk-enroll: re-run the same command after any interruption; nothing is
    cancelled twice. The report then shows those rows as "undone". Exit codes: 0 every
    enrollment of the campaign undone; 1 some could not be (see the report) or a file could
    not be written; 2 bad input or no journal; 3 stopped by the circuit breaker; 130
    interrupted.
    """
    limit = checked_limit(vendor, rate_limit, rate_limit_storage)
    journal_default, report_default, failed_default = default_paths(file)
    journal_path = journal or journal_default
    with handled_errors():
        campaign = campaign_of(journal_path, vendor)
        source = checked_file(file, vendor, encoding, needs_mailbox=campaign.mailboxes is not None)
        if dry_run:
            states = state_counts(journal_path, vendor.value, campaign.sequence_id)
            to_undo = sum(states[s] for s in UNDOABLE)
            kept = sum(n for state, n in states.items() if state not in UNDOABLE)
            console().print(
                say("undo_dry_run", rows=count(to_undo, "enrollment"), vendor=vendor.value,
                    sequence=campaign.sequence_id, kept=count(kept, "row")),
                markup=False,
            )  # fmt: skip
            return
        enroller = make_enroller(
            vendor, campaign.sequence_id, config=config, base_url=base_url, rate_limit=limit,
            rate_limit_storage=rate_limit_storage, concurrency=concurrency,
            max_retries=max_retries,
        )  # fmt: skip
        lock = locked(journal_path)
        states = state_counts(journal_path, vendor.value, campaign.sequence_id)
        to_undo = sum(states[s] for s in UNDOABLE)
        if to_undo == 0:
            lock.release()
            console().print(say("undo_nothing", journal=journal_path), markup=False)
            return
        err_console().print(say("undo_heading", rows=count(to_undo, "enrollment")), markup=False)
        progress = BulkProgress(to_undo, verb="undoing", command="bulk-undo")

        async def work(vendor_client: Enroller, book: Journal) -> Report:
            return await run_bulk_undo(
                vendor_client.undo, book, concurrency=concurrency, on_progress=progress.advance
            )

        ending = drive(
            "bulk-undo", enroller, work,
            lambda: Journal(journal_path, vendor.value, campaign.sequence_id),
            Files(source, journal_path, report or report_default, failed or failed_default,
                  campaign.mailboxes or ()),
            progress, lock, preflight=False,
        )  # fmt: skip
    finish(ending, journal_path, as_json, "Bulk undo", undo=True)


def bulk_pause(
    vendor: VendorArgument,
    file: CsvPath,
    concurrency: Concurrency = 32,
    rate_limit: RateLimit = None,
    journal: JournalOption = None,
    max_retries: MaxRetries = 4,
    output: OutputOption = None,
    base_url: BaseUrl = None,
    config: ConfigFile = None,
) -> None:
    """Pause every enrollment this campaign created (Unify). Run it again after any
    interruption: pausing twice changes nothing. To pause the whole sequence instead, for
    everyone in it: `sequence-clients unify pause-sequence ID`."""
    _pause_or_resume(
        vendor, file, True, concurrency, rate_limit, journal, max_retries, output, base_url, config
    )


def bulk_resume(
    vendor: VendorArgument,
    file: CsvPath,
    concurrency: Concurrency = 32,
    rate_limit: RateLimit = None,
    journal: JournalOption = None,
    max_retries: MaxRetries = 4,
    output: OutputOption = None,
    base_url: BaseUrl = None,
    config: ConfigFile = None,
) -> None:
    """Resume every enrollment this campaign created and `bulk-pause` paused (Unify)."""
    _pause_or_resume(
        vendor, file, False, concurrency, rate_limit, journal, max_retries, output, base_url, config
    )


def _pause_or_resume(
    vendor: Vendor,
    file: Path,
    paused: bool,
    concurrency: int,
    rate_limit: str | None,
    journal: Path | None,
    max_retries: int,
    output: OutputFormat | None,
    base_url: str | None,
    config: Path | None,
) -> None:
    action = "pause" if paused else "resume"
    if vendor != Vendor.unify:
        raise fail(say("pause_unsupported", vendor=vendor.value.capitalize()), EXIT_USAGE)
    limit = checked_limit(vendor, rate_limit, None)
    journal_path = journal or default_paths(file)[0]
    shown = output_format(output, as_json=False)
    with handled_errors():
        campaign = campaign_of(journal_path, vendor)
        enroller = make_enroller(
            vendor, campaign.sequence_id, config=config, base_url=base_url, rate_limit=limit,
            rate_limit_storage=None, concurrency=concurrency, max_retries=max_retries,
        )  # fmt: skip
        lock = locked(journal_path)
        total = state_counts(journal_path, vendor.value, campaign.sequence_id)["enrolled"]
        progress = BulkProgress(total, verb=f"{action[:-1]}ing", command=f"bulk-{action}")

        async def run() -> RunStats:
            loop = asyncio.get_running_loop()
            main = asyncio.current_task()
            assert main is not None
            loop.add_signal_handler(signal.SIGTERM, main.cancel)
            async with enroller as vendor_client:
                assert vendor_client.pause is not None
                book = Journal(journal_path, vendor.value, campaign.sequence_id)
                try:
                    return await run_bulk_pause(
                        vendor_client.pause, book, paused, concurrency=concurrency,
                        on_progress=progress.advance,
                    )  # fmt: skip
                finally:
                    book.close()

        try:
            with progress, showing_warnings():
                stats = asyncio.run(run())
        except (KeyboardInterrupt, asyncio.CancelledError):
            raise fail(
                f"interrupted; run bulk-{action} again: {action}ing twice changes nothing",
                EXIT_INTERRUPTED,
            ) from None
        finally:
            lock.release()
    show_pause_outcomes(stats.outcomes, action, shown)
    if stats.stopped:
        raise fail(say("stopped", reason=stats.stopped), EXIT_STOPPED)
    if any(result.outcome == "failed" for _, result in stats.outcomes):
        raise typer.Exit(EXIT_FAILED)


PAUSE_COLUMNS = ["line", "person_id", "enrollment_id", "outcome", "detail"]


def show_pause_outcomes(
    outcomes: list[tuple[Claim, Result]], action: str, shown: OutputFormat
) -> None:
    ordered = sorted(outcomes, key=lambda pair: pair[0].row.line)
    rows = [
        [claim.row.line, claim.row.key, result.enrollment_id or "", result.outcome, result.detail]
        for claim, result in ordered
    ]
    if shown == OutputFormat.json:
        print_json([dict(zip(PAUSE_COLUMNS, row, strict=True)) for row in rows])
        return
    if shown == OutputFormat.csv:
        print_csv(PAUSE_COLUMNS, rows)
        return
    console().print(
        say("pause_heading", action=action, rows=count(len(rows), "enrollment")), markup=False
    )
    counts = Counter(result.outcome for _, result in ordered)
    print_counts(counts)
    problems = [
        ReportLine(claim.row.line, claim.row.key, result.outcome, "", result.detail)
        for claim, result in ordered
        if result.outcome == "failed"
    ]
    print_problems(problems[:20], len(problems))
    if len(rows) <= 50:
        print_table(f"Enrollments ({len(rows)})", PAUSE_COLUMNS, rows)
