"""What a bulk-enroll run would do with a file, without sending anything: the engine's half of
`--dry-run` (the CLI asks the vendor's read-only preflight and prints the preview).

The same decisions as a run, from the same inputs: invalid rows, ids repeated in the file,
rows the campaign's journal (read only, never created) holds as finished, and the rest, which
would be sent.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .journal import Campaign, finished_keys, read_campaign
from .rows import BadRow, Row

FIRST_ROWS = 5  # rows to send shown as a sample
MAX_LISTED = 20  # invalid rows listed


@dataclass
class Preview:
    # "send", "done" (finished by an earlier run), "duplicate", "invalid" -> rows of the file.
    tally: Counter[str] = field(default_factory=Counter)
    first: list[Row] = field(default_factory=list)  # the first rows that would be sent
    invalid: list[BadRow] = field(default_factory=list)  # the first invalid rows


def preview(
    rows: Iterable[Row | BadRow],
    journal_path: Path,
    wanted: Campaign,
    *,
    first_rows: int = FIRST_ROWS,
    max_listed: int = MAX_LISTED,
) -> Preview:
    """Tally `rows` as a run of campaign `wanted` would treat them. Only a journal of that
    campaign counts rows as finished; the caller refuses another campaign's journal first."""
    found = read_campaign(journal_path)
    same_campaign = found is not None and not found.differences(wanted)
    done = (
        finished_keys(journal_path, wanted.vendor, wanted.sequence_id) if same_campaign else set()
    )
    result = Preview()
    seen: set[str] = set()
    for parsed in rows:
        if isinstance(parsed, BadRow):
            result.tally["invalid"] += 1
            if len(result.invalid) < max_listed:
                result.invalid.append(parsed)
        elif parsed.key in seen:
            result.tally["duplicate"] += 1
        elif parsed.key in done:
            seen.add(parsed.key)
            result.tally["done"] += 1
        else:
            seen.add(parsed.key)
            result.tally["send"] += 1
            if len(result.first) < first_rows:
                result.first.append(parsed)
    return result
