"""`bulk-enroll --dry-run`: what a run would do, from the file, the campaign's journal (read
only) and the vendor's preflight on a client whose writes cannot leave (vendors.pooled_http)."""

from __future__ import annotations

import asyncio
from collections import Counter
from contextlib import AbstractAsyncContextManager
from pathlib import Path

from ..bulk.journal import Campaign, ReportLine, finished_keys, read_campaign
from ..bulk.rows import BadRow, CsvFile
from ..bulk.vendors import Enroller, PreflightError
from .bulk_cmd import check_campaign
from .messages import count, say
from .output import EXIT_FAILED, EXIT_USAGE, console, err_console, fail, print_table
from .progress import print_problems

PREVIEW_ROWS = 5
MAX_LISTED = 20


def dry_run_preview(
    source: CsvFile,
    defaults: tuple[str, ...],
    wanted: Campaign,
    journal_path: Path,
    enroller: AbstractAsyncContextManager[Enroller],
    new_campaign: bool,
) -> int:
    """What the run would do, from the file, the journal (read-only) and a read-only
    preflight; returns the exit code the real run's problems call for."""
    check_campaign(journal_path, wanted, new_campaign)  # refuses another campaign's journal
    found = read_campaign(journal_path)

    async def ask() -> list[str]:
        async with enroller as vendor_client:
            return await vendor_client.preflight()

    try:
        notes = asyncio.run(ask())
    except PreflightError as error:
        raise fail(str(error), EXIT_USAGE) from None
    for note in notes:
        err_console().print(note, markup=False)
    same_campaign = found is not None and not found.differences(wanted)
    done = (
        finished_keys(journal_path, wanted.vendor, wanted.sequence_id) if same_campaign else set()
    )
    tally: Counter[str] = Counter()
    seen: set[str] = set()
    first: list[list[str]] = []
    invalid: list[BadRow] = []
    for parsed in source.rows(defaults):
        if isinstance(parsed, BadRow):
            tally["invalid"] += 1
            if len(invalid) < MAX_LISTED:
                invalid.append(parsed)
        elif parsed.key in seen:
            tally["duplicate"] += 1
        elif parsed.key in done:
            seen.add(parsed.key)
            tally["done"] += 1
        else:
            seen.add(parsed.key)
            tally["send"] += 1
            if len(first) < PREVIEW_ROWS:
                first.append([str(parsed.line), parsed.key, ", ".join(parsed.mailboxes)])
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
    if first:
        columns = ["line", source.spec.key_column]
        rows = [cells[:2] for cells in first]
        if source.spec.mailbox_column is not None:
            columns.append("mailboxes")
            rows = first
        print_table(f"First rows to send ({len(first)} of {tally['send']:,})", columns, rows)
    print_problems(
        [ReportLine(bad.line, bad.raw_key, "invalid", "", bad.reason) for bad in invalid],
        tally["invalid"],
        "dry_run_problems",
    )
    out.print(say("dry_run_end"), markup=False)
    return EXIT_FAILED if tally["invalid"] else 0
