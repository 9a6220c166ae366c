"""Campaigns in the bulk engine: the journal's campaign record and refusal, undo through the
engine (only what the campaign enrolled, resumable), claims released when never sent, the
report when the file changed after the run, and the dry run's read-only client (counted at the
sandbox)."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from bulk_helpers import ENROLLMENTS_URL, FullDisk, conflict, enroll_all, rows, states, status

from sequence_clients import errors
from sequence_clients.bulk import engine
from sequence_clients.bulk.engine import FAILED, run_bulk_enroll, run_bulk_pause, run_bulk_undo
from sequence_clients.bulk.journal import (
    UNDO_FAILED,
    UNDO_IN_FLIGHT,
    Campaign,
    Journal,
    read_campaign,
    set_aside,
    state_counts,
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


def test_the_mailboxes_that_differ_are_listed_as_given_and_an_empty_list_is_named(
    tmp_path: Path,
) -> None:
    first = Campaign("unify", SEQUENCE, ("A@x.example", "b@x.example"))
    assert first.differences(Campaign("unify", SEQUENCE, ("B@X.example", "a@x.example"))) == []
    assert first.differences(Campaign("unify", SEQUENCE, ())) == [
        ("mailboxes", "A@x.example, b@x.example", "(none)")
    ]
    # Case is folded, nothing else: ß and ss are two mailboxes.
    german = Campaign("unify", SEQUENCE, ("straße@x.example",))
    assert len(german.differences(Campaign("unify", SEQUENCE, ("STRASSE@x.example",)))) == 1
    # A journal from before the mailboxes were recorded differs in nothing it cannot know.
    assert first.differences(Campaign("unify", SEQUENCE, None)) == []


def test_a_journal_from_before_campaigns_were_recorded_names_its_last_run(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    journal = Journal(path, "unify", SEQUENCE, mailboxes=("a@x.example",))
    journal.begin_run()
    journal.close()
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE campaign")  # as an older release wrote it
    assert read_campaign(path) == Campaign("unify", SEQUENCE, None)


def test_a_journal_never_run_and_without_settings_belongs_to_no_campaign(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    Journal(path, "unify", SEQUENCE).close()
    assert read_campaign(path) is None
    assert read_campaign(tmp_path / "missing.sqlite") is None


def test_the_states_of_one_campaign_are_counted_apart_from_the_others(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    journal = Journal(path, "unify", SEQUENCE, mailboxes=())
    journal.begin_run()
    given = rows(5)
    journal.claim(given)
    for row in given[:3]:
        journal.record(row, "enrolled", "e-" + row.key, "", False)
    journal.record(given[3], FAILED, None, "404: Person not found", False)
    other = Journal(path, "unify", "another-sequence")
    other.begin_run()
    other.claim(rows(2))
    other.close()
    journal.close()
    assert state_counts(path, "unify", SEQUENCE) == {"enrolled": 3, FAILED: 1, "in_flight": 1}
    assert state_counts(path, "boast", SEQUENCE) == {}
    assert state_counts(tmp_path / "missing.sqlite", "unify", SEQUENCE) == {}


def test_journals_set_aside_in_the_same_second_keep_their_own_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The name says when, in UTC, and a later set-aside never replaces an earlier one."""
    when = time.struct_time((2026, 3, 1, 12, 34, 56, 6, 60, 0))
    monkeypatch.setattr(time, "gmtime", lambda *seconds: when)
    path = tmp_path / "j.sqlite"
    moved = []
    for n in range(3):
        journal = Journal(path, "unify", SEQUENCE, mailboxes=())
        journal.begin_run()
        journal.claim(rows(n + 1))
        journal.close()
        moved.append(set_aside(path))
    assert [p.name for p in moved] == [
        "j.20260301T123456.sqlite", "j.20260301T123456-2.sqlite", "j.20260301T123456-3.sqlite",
    ]  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in moved)
    assert [len(states(p)) for p in moved] == [1, 2, 3]


def test_a_journal_set_aside_while_open_leaves_no_wal_behind(tmp_path: Path) -> None:
    """A WAL left beside the old name would be read as part of the next campaign's journal."""
    path = tmp_path / "j.sqlite"
    journal = Journal(path, "unify", SEQUENCE, mailboxes=())
    journal.begin_run()
    journal.claim(rows(2))
    moved = set_aside(path)
    assert re.fullmatch(r"j\.\d{8}T\d{6}\.sqlite", moved.name)
    assert sorted(p.name for p in tmp_path.iterdir()) == [moved.name]
    journal.close()


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


async def test_a_failed_cancel_keeps_the_vendors_reason_and_the_next_undo_tries_it_again(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.sqlite"
    journal = Journal(path, "unify", SEQUENCE, mailboxes=())
    given = rows(3)
    await run_bulk_enroll(given, lambda row, resume: enroll_all(row.key), journal)
    refused, timed_out, fine = ("e-" + row.key for row in given)

    async def undo(enrollment_id: str, resume: bool) -> None:
        if enrollment_id == refused:
            raise status(errors.BadRequestError, 422, "Enrollment is finished", "finished")
        if enrollment_id == timed_out:
            raise errors.APITimeoutError(
                "read timed out", method="POST", url=ENROLLMENTS_URL, maybe_applied=True
            )

    report = await run_bulk_undo(undo, journal)
    assert report.counts == {UNDO_FAILED: 2, "undone": 1} and report.stopped == ""
    with sqlite3.connect(path) as db:
        found = {
            key: rest
            for key, *rest in db.execute(
                "SELECT key, state, enrollment_id, detail, maybe_applied FROM rows"
            )
        }
    assert found[given[0].key] == [
        UNDO_FAILED,
        refused,
        "422 [finished]: Enrollment is finished",
        0,
    ]
    assert found[given[1].key] == [UNDO_FAILED, timed_out, "APITimeoutError: read timed out", 1]
    assert found[given[2].key] == ["undone", fine, "", 0]  # which enrollment was cancelled

    tried: list[str] = []

    async def accept(enrollment_id: str, resume: bool) -> None:
        tried.append(enrollment_id)

    again = await run_bulk_undo(accept, journal)
    assert sorted(tried) == sorted([refused, timed_out]) and again.counts == {"undone": 2}
    journal.close()


# Failures that would fail every row (the credentials, the campaign's mailbox), with the short
# reason a row keeps: undo and pause stop on them as enrolling does.
NOT_ABOUT_THE_ROW = [
    pytest.param(
        status(errors.AuthenticationError, 401, "Invalid API key"), "401: Invalid API key",
        id="credentials",
    ),
    pytest.param(
        status(errors.BadRequestError, 422, "Unknown mailbox", "mailbox_not_found"),
        "422 [mailbox_not_found]: Unknown mailbox", id="mailbox",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("error", "reason"), NOT_ABOUT_THE_ROW)
async def test_a_failure_that_is_not_about_the_row_stops_the_undo_as_it_stops_enrolling(
    tmp_path: Path, error: errors.SequenceClientError, reason: str
) -> None:
    path = tmp_path / "j.sqlite"
    journal = Journal(path, "unify", SEQUENCE, mailboxes=())
    await run_bulk_enroll(rows(5), lambda row, resume: enroll_all(row.key), journal)

    async def undo(enrollment_id: str, resume: bool) -> None:
        raise error

    report = await run_bulk_undo(undo, journal, concurrency=1)
    journal.close()
    assert reason in report.stopped and report.counts == {UNDO_FAILED: 1}
    assert sorted(states(path).values()) == ["enrolled"] * 4 + [UNDO_FAILED]


async def test_an_undo_hears_every_row_and_leaves_an_enrollment_without_an_id_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = Journal(tmp_path / "j.sqlite", "unify", SEQUENCE, mailboxes=())
    given = rows(4)

    async def enroll(row: Row, resume: bool) -> str:
        return "" if row is given[0] else "e-" + row.key  # the vendor gave no id: none to cancel

    await run_bulk_enroll(given, enroll, journal)
    readings = iter([1000.0, 1012.5])
    monkeypatch.setattr(engine, "time", SimpleNamespace(monotonic=lambda: next(readings)))
    heard: list[str] = []
    cancelled: list[str] = []

    async def undo(enrollment_id: str, resume: bool) -> None:
        cancelled.append(enrollment_id)

    report = await run_bulk_undo(undo, journal, on_progress=heard.append)
    journal.close()
    assert sorted(heard) == ["enrolled", "undone", "undone", "undone"]
    assert "" not in cancelled and len(cancelled) == 3
    assert report.counts == {"undone": 3} and report.done_earlier == 1
    assert report.recovered == 0 and report.elapsed == 12.5


async def test_sixteen_cancels_in_flight_at_most_by_default(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite", "unify", SEQUENCE, mailboxes=())
    await run_bulk_enroll(rows(60), lambda row, resume: enroll_all(row.key), journal)
    in_flight = peak = 0

    async def undo(enrollment_id: str, resume: bool) -> None:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.001)
        in_flight -= 1

    report = await run_bulk_undo(undo, journal)
    journal.close()
    assert peak == 16 and report.counts == {"undone": 60}


@pytest.mark.parametrize(("claim_batch", "claimed"), [({}, 64), ({"claim_batch": 10}, 10)])
async def test_undo_marks_a_batch_at_a_time_before_the_first_cancel_is_sent(
    tmp_path: Path, claim_batch: dict[str, int], claimed: int
) -> None:
    """What a crash can leave to resume: the claimed batch, not the whole campaign."""
    path = tmp_path / "j.sqlite"
    journal = Journal(path, "unify", SEQUENCE, mailboxes=())
    await run_bulk_enroll(rows(200), lambda row, resume: enroll_all(row.key), journal)
    on_disk: list[int] = []

    async def undo(enrollment_id: str, resume: bool) -> None:
        if not on_disk:
            on_disk.append(list(states(path).values()).count(UNDO_IN_FLIGHT))

    await run_bulk_undo(undo, journal, concurrency=1, **claim_batch)
    journal.close()
    assert on_disk == [claimed]


async def test_undo_outcomes_that_cannot_be_written_fail_the_run(tmp_path: Path) -> None:
    """The disk fills before the cancels' outcomes are written: the undo raises the storage
    error rather than report them undone, and the rows stay marked for the next undo."""
    path = tmp_path / "j.sqlite"

    enrolling = Journal(path, "unify", SEQUENCE, mailboxes=())
    await run_bulk_enroll(rows(3), lambda row, resume: enroll_all(row.key), enrolling)
    enrolling.close()

    async def undo(enrollment_id: str, resume: bool) -> None:
        pass

    journal = FullDisk(path, "unify", SEQUENCE)
    with pytest.raises(sqlite3.OperationalError):
        await run_bulk_undo(undo, journal)
    assert sorted(states(path).values()) == [UNDO_IN_FLIGHT] * 3


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
    # What bulk-pause lists: each row of the file with the enrollment it paused.
    assert sorted((c.row.line, c.row.key, r.enrollment_id) for c, r in report.outcomes) == [
        (r.line, r.key, "e-" + r.key) for r in rows(8)[6:]
    ]
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
    assert sorted(result.enrollment_id for _, result in report.outcomes) == sorted(
        "e-" + r.key for r in rows(2)
    )
    journal.close()


@pytest.mark.parametrize(("error", "reason"), NOT_ABOUT_THE_ROW)
async def test_a_failure_that_is_not_about_the_row_stops_the_pause_as_it_stops_enrolling(
    tmp_path: Path, error: errors.SequenceClientError, reason: str
) -> None:
    journal = Journal(tmp_path / "j.sqlite", "unify", SEQUENCE, mailboxes=())
    await run_bulk_enroll(rows(5), lambda row, resume: enroll_all(row.key), journal)
    calls: list[str] = []

    async def pause(enrollment_id: str, paused: bool) -> None:
        calls.append(enrollment_id)
        raise error

    report = await run_bulk_pause(pause, journal, True, concurrency=1)
    journal.close()
    assert reason in report.stopped and len(calls) == 1 and +report.tally == {FAILED: 1}


async def test_an_enrollment_undone_while_the_pause_runs_is_not_paused(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    journal = Journal(path, "unify", SEQUENCE, mailboxes=())
    given = rows(70)  # two claimed batches: the last row is looked up after the first pause
    await run_bulk_enroll(given, lambda row, resume: enroll_all(row.key), journal)
    last = given[-1]
    paused: list[str] = []

    async def pause(enrollment_id: str, paused_: bool) -> None:
        if not paused:  # meanwhile another process undoes the last one
            other = Journal(path, "unify", SEQUENCE)
            other.record(last, "undone", "e-" + last.key, "", False)
            other.close()
        paused.append(enrollment_id)

    report = await run_bulk_pause(pause, journal, True, concurrency=1)
    journal.close()
    assert +report.tally == {"paused": 69} and "e-" + last.key not in paused


@pytest.mark.parametrize(("concurrency", "peak"), [({}, 16), ({"concurrency": 2}, 2)])
async def test_sixteen_pauses_in_flight_at_most_by_default(
    tmp_path: Path, concurrency: dict[str, int], peak: int
) -> None:
    journal = Journal(tmp_path / "j.sqlite", "unify", SEQUENCE, mailboxes=())
    await run_bulk_enroll(rows(60), lambda row, resume: enroll_all(row.key), journal)
    in_flight = most = 0

    async def pause(enrollment_id: str, paused: bool) -> None:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await asyncio.sleep(0.001)
        in_flight -= 1

    report = await run_bulk_pause(pause, journal, True, **concurrency)
    journal.close()
    assert most == peak and +report.tally == {"paused": 60}


async def test_an_interrupted_pause_leaves_the_journal_as_it_was(tmp_path: Path) -> None:
    """Pausing is not journaled: rows claimed for it but never sent are not the journal's to
    release."""
    path = tmp_path / "j.sqlite"
    journal = Journal(path, "unify", SEQUENCE, mailboxes=(), flush_every=1)
    await run_bulk_enroll(rows(40), lambda row, resume: enroll_all(row.key), journal)
    before = states(path)
    calls: list[str] = []
    gate = asyncio.Event()

    async def hanging(enrollment_id: str, paused: bool) -> None:
        calls.append(enrollment_id)
        await gate.wait()  # never set: cancelled while in flight

    task = asyncio.create_task(run_bulk_pause(hanging, journal, True, concurrency=2))
    while len(calls) < 2:
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    journal.close()
    assert states(path) == before


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
