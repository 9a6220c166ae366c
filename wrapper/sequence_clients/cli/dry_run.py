"""`bulk-enroll --dry-run`: what a run would do, from the file, the campaign's journal (read
only; bulk/preview.py) and the vendor's preflight on a client whose writes cannot leave
(bulk/vendors.py: pooled_http). The caller has checked the journal belongs to this campaign."""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager
from pathlib import Path

from ..bulk.journal import Campaign, ReportLine
from ..bulk.preview import preview
from ..bulk.rows import CsvFile
from ..bulk.vendors import Enroller, PreflightError
from .messages import count, say
from .output import EXIT_FAILED, EXIT_USAGE, console, err_console, fail, print_table
from .progress import print_problems


def dry_run_preview(
    source: CsvFile,
    defaults: tuple[str, ...],
    wanted: Campaign,
    journal_path: Path,
    enroller: AbstractAsyncContextManager[Enroller],
) -> int:
    """Print what the run would do after a read-only preflight; returns the exit code the real
    run's problems call for."""

    async def ask() -> list[str]:
        async with enroller as vendor_client:
            return await vendor_client.preflight()

    try:
        notes = asyncio.run(ask())
    except PreflightError as error:
        raise fail(str(error), EXIT_USAGE) from None
    for note in notes:
        err_console().print(note, markup=False)
    found = preview(source.rows(defaults), journal_path, wanted)
    tally = found.tally
    out = console()
    out.print(
        say("dry_run_heading", rows=count(source.data_rows, "row"), file=source.path),
        markup=False,
    )
    lines = [
        say("dry_run_would_send", rows=count(tally["send"], "row"), vendor=wanted.vendor,
            sequence=wanted.sequence_id),
    ]  # fmt: skip
    if tally["done"]:
        lines.append(say("dry_run_done_earlier", rows=count(tally["done"], "row")))
    if tally["duplicate"]:
        lines.append(say("dry_run_duplicates", rows=count(tally["duplicate"], "row")))
    if tally["invalid"]:
        lines.append(say("dry_run_invalid", rows=count(tally["invalid"], "row")))
    for line in lines:
        out.print(f"  {line}", markup=False)
    if found.first:
        columns = ["line", source.spec.key_column]
        with_mailboxes = source.spec.mailbox_column is not None
        if with_mailboxes:
            columns.append("mailboxes")
        rows = [
            [str(row.line), row.key, *([", ".join(row.mailboxes)] if with_mailboxes else [])]
            for row in found.first
        ]
        title = f"First rows to send ({len(found.first)} of {tally['send']:,})"
        print_table(title, columns, rows)
    print_problems(
        [ReportLine(bad.line, bad.raw_key, "invalid", "", bad.reason) for bad in found.invalid],
        tally["invalid"],
        "dry_run_problems",
    )
    out.print(say("dry_run_end"), markup=False)
    return EXIT_FAILED if tally["invalid"] else 0
