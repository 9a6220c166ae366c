"""The dry run's preview decides each row as a run would: invalid, a repeated id, finished by
this campaign's journal (read only, another campaign's never counts), or to be sent."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from sequence_clients.bulk.engine import run_bulk_enroll
from sequence_clients.bulk.journal import Campaign, Journal
from sequence_clients.bulk.preview import preview
from sequence_clients.bulk.rows import BadRow, Row

SEQUENCE = str(uuid.UUID(int=99))
CAMPAIGN = Campaign("unify", SEQUENCE, ())


def people(n: int) -> list[Row]:
    return [Row(line=i + 2, key=str(uuid.UUID(int=i + 1))) for i in range(n)]


def finish(path: Path, rows: list[Row], vendor: str = "unify") -> None:
    async def enroll(row: Row, resume: bool) -> str:
        return "e-" + row.key

    journal = Journal(path, vendor, SEQUENCE, mailboxes=())
    asyncio.run(run_bulk_enroll(rows, enroll, journal))
    journal.close()


def test_each_row_is_counted_once_as_a_run_would_treat_it(tmp_path: Path) -> None:
    rows = people(8)
    journal = tmp_path / "j.sqlite"
    finish(journal, rows[:3])
    bad = [BadRow(20 + i, f"junk{i}", "not a UUID") for i in range(3)]
    given: list[Row | BadRow] = [*rows, bad[0], rows[4], bad[1], rows[0], bad[2]]
    found = preview(given, journal, CAMPAIGN, first_rows=2, max_listed=2)
    assert found.tally == {"done": 3, "send": len(rows) - 3, "duplicate": 2, "invalid": 3}
    assert found.first == rows[3:5]  # the first rows that would be sent, up to first_rows
    assert found.invalid == bad[:2]
    assert sum(found.tally.values()) == len(given)


def test_without_a_journal_or_with_another_campaigns_every_valid_row_is_sent(
    tmp_path: Path,
) -> None:
    rows = people(4)
    missing = tmp_path / "none.sqlite"
    assert preview(rows, missing, CAMPAIGN).tally == {"send": 4}
    assert not missing.exists()  # read only: a preview creates no journal
    other = tmp_path / "boast.sqlite"
    finish(other, rows, vendor="boast")
    assert preview(rows, other, CAMPAIGN).tally == {"send": 4}
    assert preview(rows, other, Campaign("boast", SEQUENCE, ())).tally == {"done": 4}
