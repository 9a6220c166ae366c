"""`sequence-clients bulk-enroll VENDOR FILE.csv --sequence ID` (the CLI around bulk.py) and
`sequence-clients bulk-report FILE.csv` (the report of a journal, e.g. after `kill -9`).

Order of a run: the whole file is checked, the journal is locked, preflight asks the vendor,
and only then is the first row sent. The report is written however the run ends.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import logging
import signal
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager, contextmanager
from pathlib import Path
from typing import Annotated

import typer

from .. import _validate
from .._ratelimit import parse_limit
from ..errors import InvalidRequestError
from .bulk import Report, run_bulk_enroll
from .config import ConfigError, unify_settings
from .journal import Journal, JournalBusy, JournalLock, last_run
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
from .report import Summary, default_paths, write_reports
from .rows import BOAST_ROWS, UNIFY_ROWS, CsvFile, CsvInputError, open_csv
from .vendors import Enroller, PreflightError, boast_enroller, check_mailboxes, unify_enroller

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
ReportOption = Annotated[
    Path | None, typer.Option(help="Report CSV (default: FILE.csv.report.csv).")
]
FailedOption = Annotated[
    Path | None,
    typer.Option(help="Rows not enrolled, with the file's columns (default: FILE.failed.csv)."),
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
    as_json: JsonFlag = False,
    base_url: BaseUrl = None,
    config: ConfigFile = None,
) -> None:
    """Enroll every row of a CSV; resumable: re-run the same command after any interruption.

    Exit codes: 0 every row enrolled (or already in the sequence); 1 some rows not enrolled
    (see FILE.failed.csv); 2 bad input or preflight failed, nothing sent; 3 stopped by the
    circuit breaker (credentials, network, sequence gone): fix it and re-run to resume;
    130 interrupted: re-run to resume.
    """
    limit = rate_limit or (UNIFY_PUBLISHED_LIMIT if vendor == Vendor.unify else None)
    try:
        if limit is not None:
            parse_limit(limit)
        elif rate_limit_storage is not None:
            raise InvalidRequestError("--rate-limit-storage needs a --rate-limit for Boast")
    except InvalidRequestError as error:
        raise fail(f"--rate-limit: {error}", EXIT_USAGE) from None
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
        enroller: AbstractAsyncContextManager[Enroller]
        if vendor == Vendor.unify:
            settings = unify_settings(config, base_url)
            enroller = unify_enroller(
                settings.api_key, sequence_id, base_url=settings.base_url, rate_limit=limit, rate_limit_storage=rate_limit_storage,
                concurrency=concurrency, max_retries=max_retries,
            )  # fmt: skip
        else:
            from .boast_cmds import boast_kwargs

            enroller = boast_enroller(
                boast_kwargs(config, base_url), sequence_id, rate_limit=limit, rate_limit_storage=rate_limit_storage,
                concurrency=concurrency, max_retries=max_retries,
            )  # fmt: skip
        lock = JournalLock(journal_path)
        try:
            lock.acquire()
        except JournalBusy as busy:
            raise fail(str(busy), EXIT_USAGE) from None
        progress = BulkProgress(source.data_rows, enabled=True)
        books: list[Journal] = []  # opened after preflight: a refused run leaves no journal
        result: Report | None = None
        summary: Summary | None = None
        interrupted = False

        async def run() -> Report:
            loop = asyncio.get_running_loop()
            main = asyncio.current_task()
            assert main is not None
            # `kill` (SIGTERM) ends the run as Ctrl-C does: in-flight rows marked, report written.
            loop.add_signal_handler(signal.SIGTERM, main.cancel)
            async with enroller as vendor_client:
                for note in await vendor_client.preflight():
                    err_console().print(note, markup=False)
                books.append(Journal(journal_path, vendor.value, sequence_id))
                return await run_bulk_enroll(
                    source.rows(defaults), vendor_client.enroll, books[0],
                    on_conflict=on_conflict.value, concurrency=concurrency,
                    on_progress=progress.advance,
                )  # fmt: skip

        try:
            with progress, counting_retries() as retries:
                result = asyncio.run(run())
        except PreflightError as error:
            raise fail(str(error), EXIT_USAGE) from None
        except (KeyboardInterrupt, asyncio.CancelledError):
            interrupted = True
        except Exception:  # a bug: its traceback matters, and so does the report
            if books:
                err_console().print(
                    f"bulk-enroll crashed; {report_path} and {failed_path} cover every row so "
                    "far. Re-running the same command resumes.",
                    markup=False,
                )
            raise
        finally:
            if books:
                if books[0].run_id:
                    summary = write_reports(source, books[0], report_path, failed_path, defaults)
                books[0].close()
            lock.release()
    if summary is None:  # interrupted before the first row
        raise fail("interrupted before the first row; nothing was sent.", EXIT_INTERRUPTED)
    if interrupted:
        print_report(summary, None, 0, journal_path)
        raise fail(
            "interrupted; the report covers every row (rows caught mid-request are marked). "
            "Re-run the same command to resume.",
            EXIT_INTERRUPTED,
        )
    assert result is not None
    if as_json:
        print_json(
            {"counts": {k: summary.counts[k] for k in sorted(summary.counts)}, "total": summary.total,
             "done_earlier": result.done_earlier, "recovered": result.recovered, "retries": retries[0],
             "elapsed_seconds": round(result.elapsed, 3), "report": str(report_path),
             "failed": str(failed_path), "journal": str(journal_path), "stopped": result.stopped or None}
        )  # fmt: skip
    else:
        print_report(summary, result, retries[0], journal_path)
    if result.stopped:
        raise fail(
            f"stopped: {result.stopped}. Every row's state is in the journal; "
            "re-run the same command to resume.",
            EXIT_STOPPED,
        )
    if summary.not_done:
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
    """Write the report and FILE.failed.csv of a bulk-enroll run from its journal (for a run
    killed with `kill -9`; any other ending writes them itself). Sends nothing."""
    journal_default, report_default, failed_default = default_paths(file)
    journal_path = journal or journal_default
    with handled_errors():
        found = last_run(journal_path)
        if found is None:
            raise ConfigError(f"no bulk-enroll journal at {journal_path}")
        vendor, sequence_id = found
        # The run's --mailbox is not recorded: rows are judged by their ids alone here.
        source = checked_file(file, Vendor(vendor), encoding, needs_mailbox=False)
        book = Journal(journal_path, vendor, sequence_id)
        try:
            summary = write_reports(
                source, book, report or report_default, failed or failed_default
            )
        finally:
            book.close()
    if as_json:
        print_json(
            {"counts": {k: summary.counts[k] for k in sorted(summary.counts)},
             "total": summary.total, "report": str(summary.report_path),
             "failed": str(summary.failed_path), "journal": str(journal_path)}
        )  # fmt: skip
    else:
        print_report(summary, None, 0, journal_path)


@contextmanager
def counting_retries() -> Iterator[list[int]]:
    """Count the wrapper's retry log records (logger `sequence_clients`, INFO) for the report,
    and show its warnings (e.g. a shared rate limit fell back to in-process) on stderr."""
    counter = [0]

    class Count(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.levelno >= logging.WARNING:
                err_console().print(f"warning: {record.getMessage()}", markup=False)
            elif record.getMessage().startswith("retrying"):
                counter[0] += 1

    logger = logging.getLogger("sequence_clients")
    handler, level = Count(logging.INFO), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield counter
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
