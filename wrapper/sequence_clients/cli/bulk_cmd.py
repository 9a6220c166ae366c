"""`sequence-clients bulk-enroll VENDOR FILE.csv --sequence ID`: the CLI around bulk.py."""

from __future__ import annotations

import asyncio
import csv
import enum
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from .. import _validate
from .bulk import Report, run_bulk_enroll
from .config import ConfigError, unify_settings
from .journal import Journal
from .output import (
    EXIT_FAILED,
    EXIT_USAGE,
    BaseUrl,
    ConfigFile,
    JsonFlag,
    fail,
    handled_errors,
    print_json,
)
from .progress import BulkProgress, print_report
from .ratelimit import UNIFY_RATE, RateLimiter, parse_rate
from .rows import BOAST_ROWS, UNIFY_ROWS, CsvHeaderError, check_header, count_data_lines, read_rows
from .vendors import boast_enroller, check_mailboxes, unify_enroller


class Vendor(enum.StrEnum):
    unify = "unify"
    boast = "boast"


class Conflict(enum.StrEnum):
    skip = "skip"
    return_existing = "return-existing"
    fail = "fail"


def bulk_enroll(
    vendor: Annotated[Vendor, typer.Argument(help="unify or boast.", show_default=False)],
    file: Annotated[
        Path,
        typer.Argument(
            exists=True,
            dir_okay=False,
            readable=True,
            show_default=False,
            help="CSV with a header: person_id [, mailbox_email] (Unify) or contact_id (Boast).",
        ),
    ],
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
            help="Person already enrolled: skip it, report its enrollment, or fail the row."
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
    journal: Annotated[
        Path | None, typer.Option(help="SQLite journal (default: FILE.csv.journal.sqlite).")
    ] = None,
    report: Annotated[
        Path | None, typer.Option(help="Report CSV (default: FILE.csv.report.csv).")
    ] = None,
    max_retries: Annotated[int, typer.Option(min=0, help="Retries per request.")] = 4,
    as_json: JsonFlag = False,
    base_url: BaseUrl = None,
    config: ConfigFile = None,
) -> None:
    """Enroll every row of a CSV; resumable: re-run the same command after any interruption."""
    try:
        rate = (
            parse_rate(rate_limit)
            if rate_limit
            else (UNIFY_RATE if vendor == Vendor.unify else None)
        )
    except ValueError as error:
        raise fail(f"--rate-limit: {error}", EXIT_USAGE) from None
    journal_path = journal or file.with_name(file.name + ".journal.sqlite")
    report_path = report or file.with_name(file.name + ".report.csv")
    # A tenth of a second of slack: a journal commit or a GC pause must not waste slots that
    # strict spacing never gives back (bench/bulk.py under load: 0.73-0.83 of the limit with a
    # burst of 1, 0.97-1.01 with this). The vendors' own windows are minutes long.
    limiter = RateLimiter(rate, burst=max(1.0, rate / 10)) if rate else None
    with handled_errors():
        sequence_id = str(_validate.as_uuid(sequence, "--sequence"))
        if mailbox and vendor == Vendor.boast:
            raise ConfigError("--mailbox is for Unify; Boast enrollments have no mailbox")
        defaults = check_mailboxes(mailbox or [])
        spec = UNIFY_ROWS if vendor == Vendor.unify else BOAST_ROWS
        try:
            check_header(file, spec)
        except (CsvHeaderError, UnicodeDecodeError) as error:
            raise ConfigError(str(error)) from None
        if vendor == Vendor.unify:
            settings = unify_settings(config, base_url)
            enroller = unify_enroller(
                settings.api_key, sequence_id, base_url=settings.base_url, limiter=limiter,
                concurrency=concurrency, max_retries=max_retries,
            )  # fmt: skip
        else:
            from .boast_cmds import boast_kwargs

            enroller = boast_enroller(
                boast_kwargs(config, base_url), sequence_id, limiter=limiter,
                concurrency=concurrency, max_retries=max_retries,
            )  # fmt: skip
        book = Journal(journal_path, vendor.value, sequence_id)
        progress = BulkProgress(count_data_lines(file), enabled=not as_json)

        async def run() -> Report:
            async with enroller as enroll:
                return await run_bulk_enroll(
                    read_rows(file, spec, defaults), enroll, book, on_conflict=on_conflict.value,
                    concurrency=concurrency, on_progress=progress.advance,
                )  # fmt: skip

        try:
            with progress, counting_retries() as retries:
                result = asyncio.run(run())
            write_report(book, report_path, spec.key_column)
        except KeyboardInterrupt:
            raise fail(
                f"interrupted; finished rows are in {journal_path}. Re-run the same command to resume.",
                130,
            ) from None
        finally:
            book.close()
    if as_json:
        print_json(
            {"counts": {k: result.counts[k] for k in sorted(result.counts)}, "total": result.total,
             "done_earlier": result.done_earlier, "recovered": result.recovered, "retries": retries[0],
             "elapsed_seconds": round(result.elapsed, 3), "report": str(report_path), "journal": str(journal_path)}
        )  # fmt: skip
    else:
        print_report(result, retries[0], report_path, journal_path, spec.key_column)
    if result.failed:
        raise typer.Exit(EXIT_FAILED)


def write_report(journal: Journal, path: Path, key_column: str) -> None:
    """Every row of the file, in line order, straight from the journal (constant memory)."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["line", key_column, "outcome", "enrollment_id", "detail"])
        for line in journal.report_lines():
            writer.writerow([line.line, line.key, line.outcome, line.enrollment_id, line.detail])


@contextmanager
def counting_retries() -> Iterator[list[int]]:
    """Count the wrapper's retry log records (logger `sequence_clients`, INFO) for the report."""
    counter = [0]

    class Count(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage().startswith("retrying"):
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
