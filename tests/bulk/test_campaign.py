"""Campaigns in the bulk engine: the journal's campaign record and refusal, undo through the
engine (only what the campaign enrolled, resumable), claims released when never sent, the
report when the file changed after the run, and the dry run's read-only client (counted at the
sandbox)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from bulk_helpers import conflict, enroll_all, rows, states

from sequence_clients import errors
from sequence_clients.bulk.engine import FAILED, run_bulk_enroll, run_bulk_pause, run_bulk_undo
from sequence_clients.bulk.journal import (
    UNDO_IN_FLIGHT,
    Campaign,
    Journal,
    read_campaign,
    set_aside,
)
from sequence_clients.bulk.report import write_reports
from sequence_clients.bulk.rows import UNIFY_ROWS, Row, open_csv
from sequence_clients.bulk.vendors import WriteRefusedError, unify_enroller
from sequence_clients.sandbox import Sandbox, SandboxConfig

SEQUENCE = str(uuid.uuid4())


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(SandboxConfig(seed=11)) as sandbox:
        yield sandbox


# --- one campaign, one journal -------------------------------------------------------------------


def test_the_first_run_records_the_campaign_and_other_settings_differ(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    Journal(path, "unify", SEQUENCE, mailboxes=("A@x.example",)).close()
    Journal(path, "unify", SEQUENCE, mailboxes=("other@x.example",)).close()  # kept: the first
    found = read_campaign(path)
    assert found == Campaign("unify", SEQUENCE, ("A@x.example",))
    assert found.differences(Campaign("unify", SEQUENCE, ("a@x.example",))) == []
    changed = found.differences(Campaign("boast", "other", ()))
    assert [name for name, _, _ in changed] == ["vendor", "sequence", "mailboxes"]


def test_setting_a_journal_aside_keeps_what_its_wal_held(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    journal = Journal(path, "unify", SEQUENCE, mailboxes=())
    journal.begin_run()
    journal.claim(rows(3))  # committed to the WAL; the connection is left open, as by kill -9
    moved = set_aside(path)
    journal.close()
    assert not path.exists() and moved.exists()
    assert len(states(moved)) == 3


# --- undo through the engine ---------------------------------------------------------------------


async def test_undo_cancels_only_the_rows_the_campaign_enrolled(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    journal = Journal(path, "unify", SEQUENCE, mailboxes=())
    given = rows(6)

    async def enroll(row: Row, resume: bool) -> str:
        if row.key == given[0].key:
            raise conflict(SEQUENCE)  # enrolled before the campaign: skipped
        return "e-" + row.key

    await run_bulk_enroll(given, enroll, journal)
    cancelled: list[tuple[str, bool]] = []

    async def undo(enrollment_id: str, resume: bool) -> None:
        cancelled.append((enrollment_id, resume))

    report = await run_bulk_undo(undo, journal, concurrency=2)
    assert sorted(cancelled) == sorted(("e-" + r.key, False) for r in given[1:])
    assert report.counts == {"undone": 5}
    assert states(path)[given[0].key] == "already_enrolled"  # untouched
    again = await run_bulk_undo(undo, journal)
    assert again.counts == {} and len(cancelled) == 5  # undone stays undone
    # Enrolling the same file again does not enroll the undone people again.
    sent: list[str] = []

    async def record(row: Row, resume: bool) -> str:
        sent.append(row.key)
        return "e-" + row.key

    await run_bulk_enroll(given, record, journal)
    assert sent == []
    journal.close()


async def test_an_interrupted_undo_resumes_looking_first_and_never_claims_unsent_rows(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.sqlite"
    journal = Journal(path, "unify", SEQUENCE, mailboxes=(), flush_every=1)
    await run_bulk_enroll(rows(40), lambda row, resume: enroll_all(row.key), journal)
    calls: list[tuple[str, bool]] = []
    gate = asyncio.Event()

    async def hanging(enrollment_id: str, resume: bool) -> None:
        calls.append((enrollment_id, resume))
        if len(calls) > 3:
            await gate.wait()  # never set: cancelled while in flight

    task = asyncio.create_task(run_bulk_undo(hanging, journal, concurrency=2))
    while len(calls) < 5:
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    after = list(states(path).values())
    # Only the two requests really in flight stay marked; the claimed-but-unsent went back.
    assert after.count(UNDO_IN_FLIGHT) == 2 and after.count("undone") == 3
    assert after.count("enrolled") == 35

    calls.clear()

    async def fine(enrollment_id: str, resume: bool) -> None:
        calls.append((enrollment_id, resume))

    report = await run_bulk_undo(fine, journal)
    assert report.counts == {"undone": 37} and report.recovered == 2
    assert sum(resume for _, resume in calls) == 2
    journal.close()


# --- pause and resume through the engine ---------------------------------------------------------


async def test_pause_and_resume_reach_every_enrollment_the_campaign_still_holds(
    tmp_path: Path,
) -> None:
    journal = Journal(tmp_path / "j.sqlite", "unify", SEQUENCE, mailboxes=())
    given = rows(6)

    async def enroll(row: Row, resume: bool) -> str:
        if row.key == given[0].key:
            raise conflict(SEQUENCE)  # enrolled before the campaign: not ours to pause
        return "e-" + row.key

    await run_bulk_enroll(given, enroll, journal)

    async def undo(enrollment_id: str, resume: bool) -> None:
        pass

    undone = "e-" + given[1].key
    await run_bulk_undo(undo, journal)  # undoes all five
    await run_bulk_enroll(rows(8)[6:], enroll, journal)  # two more, enrolled after the undo
    calls: list[tuple[str, bool]] = []
    seen: list[str] = []

    async def pause(enrollment_id: str, paused: bool) -> None:
        calls.append((enrollment_id, paused))

    report = await run_bulk_pause(pause, journal, True, concurrency=1, on_progress=seen.append)
    ours = sorted("e-" + r.key for r in rows(8)[6:])
    assert sorted(calls) == [(e, True) for e in ours] and undone not in dict(calls)
    assert +report.tally == {"paused": 2} and sorted(seen) == ["paused", "paused"]
    calls.clear()
    report = await run_bulk_pause(pause, journal, False)
    assert sorted(calls) == [(e, False) for e in ours] and +report.tally == {"resumed": 2}
    assert set(states(tmp_path / "j.sqlite").values()) == {"already_enrolled", "undone", "enrolled"}
    journal.close()


async def test_a_refused_pause_is_a_failed_row_with_the_vendors_reason(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite", "unify", SEQUENCE, mailboxes=())
    await run_bulk_enroll(rows(2), lambda row, resume: enroll_all(row.key), journal)

    async def refuse(enrollment_id: str, paused: bool) -> None:
        raise errors.NotFoundError(
            status_code=404, method="POST", url="/pause", codes=("not_found",),
            message="no such enrollment", body=None, retry_after=None,
        )  # fmt: skip

    report = await run_bulk_pause(refuse, journal, True)
    assert +report.tally == {FAILED: 2} and not report.stopped
    details = {result.detail for _, result in report.outcomes}
    assert details == {"404 [not_found]: no such enrollment"}
    journal.close()


async def test_an_interrupted_enroll_leaves_in_flight_only_what_was_sent(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    journal = Journal(path, "unify", SEQUENCE, flush_every=1)
    calls: list[str] = []
    gate = asyncio.Event()

    async def hanging(row: Row, resume: bool) -> str:
        calls.append(row.key)
        if len(calls) > 3:
            await gate.wait()
        return "e-" + row.key

    task = asyncio.create_task(run_bulk_enroll(rows(200), hanging, journal, concurrency=2))
    while len(calls) < 5:
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    journal.close()
    assert sorted(states(path).values()) == ["enrolled"] * 3 + ["in_flight"] * 2


# --- the dry run's client ------------------------------------------------------------------------


async def test_a_read_only_client_reads_but_no_write_leaves(sandbox: Sandbox) -> None:
    state = sandbox.unify
    sequence_id = state.live_sequences()[0]["id"]
    person = next(p["id"] for p in state.people if state.active_enrollment_of(p["id"]) is None)
    stats = sandbox.stats.unify
    before = dict(stats.methods)
    async with unify_enroller(
        sandbox.unify_api_key, sequence_id, base_url=sandbox.unify_base_url,
        read_only=True, max_retries=2,
    ) as enroller:  # fmt: skip
        await enroller.preflight()  # reads are allowed: the sequence is found
        row = Row(2, person, (state.mailboxes[0]["email"],))
        with pytest.raises(WriteRefusedError) as refused:
            await enroller.enroll(row, False)
        with pytest.raises(WriteRefusedError):
            await enroller.undo(str(uuid.uuid4()), False)
    assert refused.value.method == "POST"
    after = dict(stats.methods)
    assert after.get("GET", 0) > before.get("GET", 0)
    assert {m: n for m, n in after.items() if m != "GET"} == {
        m: n for m, n in before.items() if m != "GET"
    }
    assert state.active_enrollment_of(person) is None


async def test_the_report_says_what_the_journal_holds_even_if_a_cell_went_bad(
    tmp_path: Path,
) -> None:
    """A later edit of the file (a mailbox cell broken) never turns an enrolled row into
    "invalid" in the report: the journal's state wins for a valid id it holds."""
    people = rows(2)
    csv_path = tmp_path / "c.csv"
    csv_path.write_text(
        "person_id,mailbox_email\n" + "".join(f"{r.key},rep@x.example\n" for r in people),
        encoding="utf-8",
    )
    journal = Journal(tmp_path / "j.sqlite", "unify", SEQUENCE, mailboxes=())
    source = open_csv(csv_path, UNIFY_ROWS)
    await run_bulk_enroll(source.rows(), lambda row, resume: enroll_all(row.key), journal)
    csv_path.write_text(
        f"person_id,mailbox_email\n{people[0].key},not-an-email\nnot-a-uuid,rep@x.example\n",
        encoding="utf-8",
    )
    summary = write_reports(
        open_csv(csv_path, UNIFY_ROWS), journal, tmp_path / "r.csv", tmp_path / "f.csv"
    )
    journal.close()
    assert summary.counts == {"enrolled": 1, "invalid": 1}
