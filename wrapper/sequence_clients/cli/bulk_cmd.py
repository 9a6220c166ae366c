"""`sequence-clients bulk-enroll VENDOR FILE.csv --sequence ID` (the command around the bulk
engine, `sequence_clients.bulk`), `bulk-report FILE.csv` (the report of a journal, e.g. after
`kill -9`), and the commands that act on what a campaign enrolled: `bulk-undo`, `bulk-pause`,
`bulk-resume` (campaign_cmds.py).

Order of a run: the whole file is checked, the journal is locked and must belong to this
campaign (vendor, sequence, mailboxes), preflight asks the vendor, and only then is the first
row sent. The report is written however the run ends, and a file that cannot be written says
so. `--dry-run` stops after preflight, on a client whose writes cannot leave.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import logging
import signal
import sqlite3
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, contextmanager, suppress
from pathlib import Path
from typing import Annotated

import typer

from .. import _validate
from .._ratelimit import parse_limit
from .._telemetry import ClientStats
from ..bulk.engine import Report, run_bulk_enroll
from ..bulk.journal import (
    UNDO_FAILED,
    UNDO_IN_FLIGHT,
    Campaign,
    Journal,
    JournalBusy,
    JournalLock,
    read_campaign,
    set_aside,
)
from ..bulk.report import ReportWriteError, Summary, default_paths, write_reports
from ..bulk.rows import BOAST_ROWS, NO_MAILBOX, UNIFY_ROWS, BadRow, CsvFile, CsvInputError, open_csv
from ..bulk.vendors import Enroller, PreflightError, boast_enroller, check_mailboxes, unify_enroller
from ..errors import InvalidRequestError
from .config import ConfigError, unify_settings
from .messages import count, say
from .output import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_STOPPED,
    EXIT_USAGE,
    BaseUrl,
    ConfigFile,
    JsonFlag,
    err_console,
    fail,
    handled_errors,
    print_json,
)
from .progress import BulkProgress, print_report

# Unify publishes 100,000 requests per 5 minutes per API key; Boast publishes no limit.
UNIFY_PUBLISHED_LIMIT = "100000/5m"


class Vendor(enum.StrEnum):
    unify = "unify"
    boast = "boast"


class Conflict(enum.StrEnum):
    skip = "skip"
    return_existing = "return-existing"
    fail = "fail"


CsvPath = Annotated[
    Path,
    typer.Argument(
        exists=True,
        dir_okay=False,
        readable=True,
        show_default=False,
        help="CSV with a header: person_id [, mailbox_email] (Unify) or contact_id (Boast).",
    ),
]
Encoding = Annotated[
    str | None,
    typer.Option(help="Read the file in this encoding (default: UTF-8, with or without BOM)."),
]
JournalOption = Annotated[
    Path | None, typer.Option(help="SQLite journal (default: FILE.csv.journal.sqlite).")
]
ReportOption = Annotated[Path | None, typer.Option(help="Report CSV (default: FILE.report.csv).")]
FailedOption = Annotated[
    Path | None,
    typer.Option(help="Rows not enrolled, with the file's columns (default: FILE.failed.csv)."),
]


DryRun = Annotated[
    bool,
    typer.Option(
        "--dry-run",
        "-n",
        help="Check the file and the settings, ask the vendor (reads only) and print what "
        "would be sent; send nothing.",
    ),
]
NewCampaign = Annotated[
    bool,
    typer.Option(
        "--new-campaign",
        help="The journal belongs to a campaign with other settings: set it aside "
        "(renamed, kept) and start a new campaign with these.",
    ),
]


def bulk_enroll(
    vendor: Annotated[Vendor, typer.Argument(help="unify or boast.", show_default=False)],
    file: CsvPath,
    sequence: Annotated[str, typer.Option("--sequence", help="Sequence id.", show_default=False)],
    mailbox: Annotated[
        list[str] | None,
        typer.Option(
            "--mailbox",
            "-m",
            help="Unify sending mailbox (repeatable); a row's mailbox_email wins.",
        ),
    ] = None,
    on_conflict: Annotated[
        Conflict,
        typer.Option(
            help="Already active in this sequence: skip it, report its enrollment, or fail the "
            "row. Active in another sequence: not enrolled (its own outcome), or a failure."
        ),
    ] = Conflict.skip,
    # A retry holds its worker through its back-off, so with faults 16 workers reached only
    # ~0.6 of the vendor's limit; 32 reach it (bench/bulk.py), more only cost CPU.
    concurrency: Annotated[int, typer.Option(min=1, max=256, help="Requests in flight.")] = 32,
    rate_limit: Annotated[
        str | None,
        typer.Option(
            help="Client-side limit, e.g. 333/s or 100000/5m (Unify default: 100000/5m; Boast: none)."
        ),
    ] = None,
    rate_limit_storage: Annotated[
        str | None,
        typer.Option(
            envvar="SEQUENCE_CLIENTS_RATE_LIMIT_STORAGE",
            help="Where the limit is kept: memory:// (this run only, the default) or "
            "redis://HOST:PORT/DB, shared by every run and service on the same API key.",
        ),
    ] = None,
    encoding: Encoding = None,
    journal: JournalOption = None,
    report: ReportOption = None,
    failed: FailedOption = None,
    max_retries: Annotated[int, typer.Option(min=0, help="Retries per request.")] = 4,
    dry_run: DryRun = False,
    new_campaign: NewCampaign = False,
    as_json: JsonFlag = False,
    base_url: BaseUrl = None,
    config: ConfigFile = None,
) -> None:
    """Enroll every row of a CSV; resumable: re-run the same command after any interruption.

    Exit codes: 0 every row enrolled (or already in the sequence); 1 some rows not enrolled
    (see FILE.failed.csv), or a file could not be written; 2 bad input, a journal of another
    campaign, or preflight failed: nothing sent; 3 stopped by the circuit breaker
    (credentials, network, sequence gone): fix it and re-run to resume; 130 interrupted:
    re-run to resume. --dry-run exits 2 or 1 where the run would, 0 otherwise.
    """
    limit = checked_limit(vendor, rate_limit, rate_limit_storage)
    journal_default, report_default, failed_default = default_paths(file)
    journal_path = journal or journal_default
    report_path = report or report_default
    failed_path = failed or failed_default
    with handled_errors():
        sequence_id = str(_validate.as_uuid(sequence, "--sequence"))
        if mailbox and vendor == Vendor.boast:
            raise ConfigError("--mailbox is for Unify; Boast enrollments have no mailbox")
        defaults = check_mailboxes(mailbox or [])
        source = checked_file(file, vendor, encoding)
        refuse_rows_without_mailbox(source, defaults)
        wanted = Campaign(vendor.value, sequence_id, defaults)
        enroller = make_enroller(
            vendor, sequence_id, config=config, base_url=base_url, rate_limit=limit,
            rate_limit_storage=rate_limit_storage, concurrency=concurrency,
            max_retries=max_retries, read_only=dry_run,
        )  # fmt: skip
        if dry_run:
            from .dry_run import dry_run_preview

            check_campaign(journal_path, wanted, new_campaign)  # refuses another's journal
            raise typer.Exit(dry_run_preview(source, defaults, wanted, journal_path, enroller))
        lock = JournalLock(journal_path)
        try:
            lock.acquire()
        except JournalBusy as busy:
            raise fail(str(busy), EXIT_USAGE) from None
        try:
            set_aside_first = check_campaign(journal_path, wanted, new_campaign)
        except BaseException:
            lock.release()
            raise
        progress = BulkProgress(source.data_rows, enabled=True)

        def open_journal() -> Journal:
            # After preflight: a run refused by the vendor leaves the old campaign in place.
            if set_aside_first:
                moved = set_aside(journal_path)
                err_console().print(say("campaign_set_aside", path=moved), markup=False)
            return Journal(journal_path, vendor.value, sequence_id, mailboxes=defaults)

        async def work(vendor_client: Enroller, book: Journal) -> Report:
            return await run_bulk_enroll(
                source.rows(defaults), vendor_client.enroll, book,
                on_conflict=on_conflict.value, concurrency=concurrency,
                on_progress=progress.advance,
            )  # fmt: skip

        ending = drive(
            "bulk-enroll", enroller, work,
            open_journal,
            Files(source, journal_path, report_path, failed_path, defaults), progress, lock,
            preflight=True,
        )  # fmt: skip
    finish(ending, journal_path, as_json, "Bulk enroll")


def checked_limit(vendor: Vendor, rate_limit: str | None, storage: str | None) -> str | None:
    limit = rate_limit or (UNIFY_PUBLISHED_LIMIT if vendor == Vendor.unify else None)
    try:
        if limit is not None:
            parse_limit(limit)
        elif storage is not None:
            raise InvalidRequestError("--rate-limit-storage needs a --rate-limit for Boast")
    except InvalidRequestError as error:
        raise fail(f"--rate-limit: {error}", EXIT_USAGE) from None
    return limit


def make_enroller(
    vendor: Vendor,
    sequence_id: str,
    *,
    config: Path | None,
    base_url: str | None,
    rate_limit: str | None,
    rate_limit_storage: str | None,
    concurrency: int,
    max_retries: int,
    read_only: bool = False,
) -> AbstractAsyncContextManager[Enroller]:
    if vendor == Vendor.unify:
        settings = unify_settings(config, base_url)
        return unify_enroller(
            settings.api_key, sequence_id, base_url=settings.base_url, rate_limit=rate_limit,
            rate_limit_storage=rate_limit_storage, concurrency=concurrency,
            max_retries=max_retries, read_only=read_only,
        )  # fmt: skip
    from .boast_cmds import boast_kwargs

    return boast_enroller(
        boast_kwargs(config, base_url), sequence_id, rate_limit=rate_limit,
        rate_limit_storage=rate_limit_storage, concurrency=concurrency,
        max_retries=max_retries, read_only=read_only,
    )  # fmt: skip


def refuse_rows_without_mailbox(source: CsvFile, defaults: tuple[str, ...]) -> None:
    """A Unify row without any mailbox cannot be sent: the run lacks a setting (exit 2)."""
    if not source.spec.needs_mailbox or defaults:
        return
    lines = [
        row.line for row in source.rows() if isinstance(row, BadRow) and row.code == NO_MAILBOX
    ]
    if lines:
        first = ", ".join(str(n) for n in lines[:5]) + (", …" if len(lines) > 5 else "")
        raise ConfigError(
            say("no_mailbox", rows=count(len(lines), "row"), lines=first,
                column=source.spec.mailbox_column)
        )  # fmt: skip


def check_campaign(journal_path: Path, wanted: Campaign, new_campaign: bool) -> bool:
    """One campaign, one journal: refuse (exit 2) a run whose settings differ; with
    --new-campaign, True: the journal is to be set aside before the new campaign starts."""
    found = read_campaign(journal_path)
    if found is None or not found.differences(wanted):
        return False
    if new_campaign:
        return True
    differences = "; ".join(
        f"its {name} is {theirs}, this run's {mine}"
        for name, theirs, mine in found.differences(wanted)
    )
    raise fail(say("campaign_mismatch", journal=journal_path, differences=differences), EXIT_USAGE)


@dataclasses.dataclass(frozen=True)
class Files:
    source: CsvFile
    journal: Path
    report: Path
    failed: Path
    defaults: tuple[str, ...] = ()


@dataclasses.dataclass
class Ending:
    result: Report | None = None
    summary: Summary | None = None
    interrupted: bool = False
    # The vendor client's totals at the end of the run (retries, 429s, limiter waits).
    client: ClientStats | None = None
    # Messages naming each file that could not be written (journal, report, failed rows).
    unwritten: list[str] = dataclasses.field(default_factory=list)


def drive(
    command: str,
    enroller: AbstractAsyncContextManager[Enroller],
    work: Callable[[Enroller, Journal], Awaitable[Report]],
    open_journal: Callable[[], Journal],
    files: Files,
    progress: BulkProgress,
    lock: JournalLock,
    *,
    preflight: bool,
) -> Ending:
    """Run `work` on the campaign's journal (lock held, released here), then write the
    report however the run ended. Every file that could not be written is named."""
    ending = Ending()
    books: list[Journal] = []  # opened after preflight: a refused run leaves no journal

    async def run() -> Report:
        loop = asyncio.get_running_loop()
        main = asyncio.current_task()
        assert main is not None
        # `kill` (SIGTERM) ends the run as Ctrl-C does: in-flight rows marked, report written.
        loop.add_signal_handler(signal.SIGTERM, main.cancel)
        async with enroller as vendor_client:
            progress.client_stats = vendor_client.stats
            try:
                if preflight:
                    for note in await vendor_client.preflight():
                        err_console().print(note, markup=False)
                books.append(open_journal())
                return await work(vendor_client, books[0])
            finally:
                ending.client = vendor_client.stats()

    try:
        with progress, showing_warnings():
            ending.result = asyncio.run(run())
    except PreflightError as error:
        raise fail(str(error), EXIT_USAGE) from None
    except (KeyboardInterrupt, asyncio.CancelledError):
        ending.interrupted = True
    except (sqlite3.Error, OSError) as error:  # the journal could not be written: disk, rights
        ending.unwritten.append(say("journal_not_written", path=files.journal, reason=error))
    except Exception:  # a bug: its traceback matters, and so does what is kept
        err_console().print(say("crashed", command=command, journal=files.journal), markup=False)
        raise
    finally:
        try:
            if books:
                ending.summary = write_files(books[0], files, ending)
        finally:
            if books:
                # Closing flushes: on a full disk that fails again, and was said already.
                with suppress(sqlite3.Error, OSError):
                    books[0].close()
            lock.release()
    return ending


def write_files(book: Journal, files: Files, ending: Ending) -> Summary | None:
    """Both report files, or a message naming the one that could not be written."""
    try:
        return write_reports(files.source, book, files.report, files.failed, files.defaults)
    except ReportWriteError as error:
        ending.unwritten.append(
            say("report_not_written", path=error.path, reason=error.reason, journal=files.journal)
        )
    except (sqlite3.Error, OSError) as error:  # the journal cannot even be read back
        ending.unwritten.append(say("journal_not_written", path=files.journal, reason=error))
    return None


def finish(
    ending: Ending, journal_path: Path, as_json: bool, heading: str, *, undo: bool = False
) -> None:
    """Print the outcome and exit with the code the ending calls for (for bulk-undo: the
    enrollments not undone, not the rows the campaign never enrolled)."""
    summary, result = ending.summary, ending.result
    if summary is not None and (ending.interrupted or ending.unwritten):
        print_report(summary, None, None, journal_path, heading)
    for message in dict.fromkeys(ending.unwritten):  # once each, in order
        err_console().print(message, markup=False, soft_wrap=True)
    if ending.unwritten:
        raise typer.Exit(EXIT_FAILED)
    if ending.interrupted:
        if summary is None:  # interrupted before the first row
            raise fail(say("interrupted_early"), EXIT_INTERRUPTED)
        raise fail(say("interrupted"), EXIT_INTERRUPTED)
    assert result is not None and summary is not None
    if as_json:
        client = ending.client or ClientStats()
        print_json(
            {"counts": {k: summary.counts[k] for k in sorted(summary.counts)}, "total": summary.total,
             "done_earlier": result.done_earlier, "recovered": result.recovered, "retries": client.retries,
             "rate_limited": client.rate_limited, "limiter_waits": client.limiter_waits,
             "limiter_wait_seconds": round(client.limiter_wait_seconds, 3),
             "elapsed_seconds": round(result.elapsed, 3), "report": str(summary.report_path),
             "failed": str(summary.failed_path), "journal": str(journal_path), "stopped": result.stopped or None}
        )  # fmt: skip
    else:
        print_report(summary, result, ending.client, journal_path, heading)
    if result.stopped:
        raise fail(say("stopped", reason=result.stopped), EXIT_STOPPED)
    left = summary.counts[UNDO_FAILED] + summary.counts[UNDO_IN_FLIGHT]
    if left if undo else summary.not_done:
        raise typer.Exit(EXIT_FAILED)


def checked_file(
    file: Path, vendor: Vendor, encoding: str | None, *, needs_mailbox: bool = True
) -> CsvFile:
    spec = UNIFY_ROWS if vendor == Vendor.unify else BOAST_ROWS
    if not needs_mailbox:
        spec = dataclasses.replace(spec, needs_mailbox=False)
    try:
        return open_csv(file, spec, encoding)
    except CsvInputError as error:
        raise ConfigError(str(error)) from None


def bulk_report(
    file: CsvPath,
    encoding: Encoding = None,
    journal: JournalOption = None,
    report: ReportOption = None,
    failed: FailedOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Write the report and FILE.failed.csv of a campaign from its journal (for a run killed
    with `kill -9`; any other ending writes them itself). Sends nothing."""
    journal_default, report_default, failed_default = default_paths(file)
    journal_path = journal or journal_default
    with handled_errors():
        campaign = read_campaign(journal_path)
        if campaign is None:
            raise ConfigError(say("no_journal", journal=journal_path))
        # Journals from before campaigns were recorded lack the --mailbox: ids alone then.
        source = checked_file(
            file, Vendor(campaign.vendor), encoding, needs_mailbox=campaign.mailboxes is not None
        )
        files = Files(
            source, journal_path, report or report_default, failed or failed_default,
            campaign.mailboxes or (),
        )  # fmt: skip
        ending = Ending()
        book = Journal(journal_path, campaign.vendor, campaign.sequence_id)
        try:
            summary = write_files(book, files, ending)
        finally:
            book.close()
    if summary is None:
        for message in ending.unwritten:
            err_console().print(message, markup=False, soft_wrap=True)
        raise typer.Exit(EXIT_FAILED)
    if as_json:
        print_json(
            {"counts": {k: summary.counts[k] for k in sorted(summary.counts)},
             "total": summary.total, "report": str(summary.report_path),
             "failed": str(summary.failed_path), "journal": str(journal_path)}
        )  # fmt: skip
    else:
        print_report(summary, None, None, journal_path)


@contextmanager
def showing_warnings() -> Iterator[None]:
    """Show the wrapper's warnings (e.g. a shared rate limit fell back to in-process) on
    stderr while a command runs; what it counts comes from the client's own stats."""

    class Show(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            err_console().print(f"warning: {record.getMessage()}", markup=False)

    logger = logging.getLogger("sequence_clients")
    handler = Show(logging.WARNING)
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
