"""The bulk engine without HTTP: concurrency bound, bounded read-ahead, journal states,
conflict modes, with fake enroll callables."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from bulk_helpers import FullDisk, conflict, rows, states

from sequence_clients import errors
from sequence_clients.bulk.engine import run_bulk_enroll
from sequence_clients.bulk.journal import Journal
from sequence_clients.bulk.rows import BadRow, Row

SEQUENCE = str(uuid.uuid4())


async def test_concurrency_bound_and_read_ahead_stay_bounded(tmp_path: Path) -> None:
    """Memory stays flat: the producer never reads far ahead of the workers."""
    consumed = 0
    in_flight = peak = 0
    concurrency, batch = 4, 8

    def source() -> Iterator[Row]:
        nonlocal consumed
        for row in rows(500):
            consumed += 1
            yield row

    done = 0

    async def enroll(row: Row, resume: bool) -> str:
        nonlocal in_flight, peak, done
        in_flight += 1
        peak = max(peak, in_flight)
        # Started rows never outrun finished ones by more than workers + queue + one batch.
        assert consumed - done <= concurrency + 2 * concurrency + batch
        await asyncio.sleep(0)
        in_flight -= 1
        done += 1
        return "e-" + row.key

    journal = Journal(tmp_path / "j.sqlite", "unify", SEQUENCE)
    report = await run_bulk_enroll(
        source(), enroll, journal, concurrency=concurrency, claim_batch=batch
    )
    assert peak == concurrency
    assert report.counts == {"enrolled": 500} and report.failed == 0
    journal.close()
    assert set(states(tmp_path / "j.sqlite").values()) == {"enrolled"}


@pytest.mark.parametrize(
    ("mode", "same", "other"),
    [
        ("skip", "already_enrolled", "other_sequence"),
        ("return-existing", "existing", "failed"),
        ("fail", "failed", "failed"),
    ],
)
async def test_conflict_modes(tmp_path: Path, mode: str, same: str, other: str) -> None:
    same_row, other_row, fine_row = rows(3)

    async def enroll(row: Row, resume: bool) -> str:
        if row == same_row:
            raise conflict(SEQUENCE)
        if row == other_row:
            raise conflict(str(uuid.uuid4()))
        return "e-new"

    journal = Journal(tmp_path / "j.sqlite", "unify", SEQUENCE)
    report = await run_bulk_enroll(
        [same_row, other_row, fine_row], enroll, journal, on_conflict=mode
    )  # type: ignore[arg-type]
    outcomes = {line.key: (line.outcome, line.enrollment_id) for line in journal.report_lines()}
    assert outcomes[same_row.key] == (same, "e-1")
    assert outcomes[other_row.key] == (other, "e-1")
    assert outcomes[fine_row.key] == ("enrolled", "e-new")
    assert report.failed == [same, other].count("failed")


async def test_interrupted_run_leaves_in_flight_and_resumes_in_resume_mode(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    calls: list[tuple[str, bool]] = []
    gate = asyncio.Event()

    async def hanging(row: Row, resume: bool) -> str:
        calls.append((row.key, resume))
        if len(calls) > 3:
            await gate.wait()  # never set: the run is cancelled while these are in flight
        return "e-" + row.key

    journal = Journal(path, "unify", SEQUENCE, flush_every=1)
    task = asyncio.create_task(run_bulk_enroll(rows(10), hanging, journal, concurrency=2))
    while len(calls) < 5:
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    journal.close()
    before = states(path)
    assert list(before.values()).count("enrolled") == 3
    # Every row claimed (at least the two hanging ones) is in_flight: nothing was lost.
    assert list(before.values()).count("in_flight") == len(before) - 3 >= 2

    calls.clear()
    journal = Journal(path, "unify", SEQUENCE)
    report = await run_bulk_enroll(rows(10), hanging_free(calls), journal)
    assert report.counts == {"enrolled": 10}
    assert report.done_earlier == 3 and report.recovered == len(before) - 3
    resumed = {key for key, resume in calls if resume}
    assert resumed == {key for key, state in before.items() if state == "in_flight"}
    assert len(calls) == 7  # the three finished rows were not sent again


def hanging_free(calls: list[tuple[str, bool]]):  # type: ignore[no-untyped-def]
    async def enroll(row: Row, resume: bool) -> str:
        calls.append((row.key, resume))
        return "e-" + row.key

    return enroll


async def test_failures_are_retried_on_rerun_in_resume_mode_only_when_maybe_applied(
    tmp_path: Path,
) -> None:
    refused, reset = rows(2)

    async def failing(row: Row, resume: bool) -> str:
        if row == refused:
            raise errors.InvalidRequestError("nope")
        raise errors.APIConnectionError("reset", method="POST", url="/x", maybe_applied=True)

    journal = Journal(tmp_path / "j.sqlite", "unify", SEQUENCE)
    first = await run_bulk_enroll([refused, reset, BadRow(4, "zz", "not a UUID")], failing, journal)
    assert first.counts == {"failed": 2, "invalid": 1}
    assert [p.line for p in first.problems] == [2, 3, 4]
    assert "APIConnectionError" in first.problems[1].detail

    calls: list[tuple[str, bool]] = []
    second = await run_bulk_enroll([refused, reset], hanging_free(calls), journal)
    assert second.counts == {"enrolled": 2}
    assert sorted(calls) == sorted([(refused.key, False), (reset.key, True)])


async def test_duplicate_ids_in_one_file_are_sent_once(tmp_path: Path) -> None:
    row = rows(1)[0]
    calls: list[tuple[str, bool]] = []
    journal = Journal(tmp_path / "j.sqlite", "unify", SEQUENCE)
    report = await run_bulk_enroll([row, Row(9, row.key)], hanging_free(calls), journal)
    assert len(calls) == 1
    assert report.counts == {"enrolled": 1, "duplicate": 1} and report.failed == 0


def status_error(
    kind: type[errors.APIStatusError], status: int, message: str, *codes: str
) -> errors.APIStatusError:
    return kind(
        status_code=status, method="POST", url="/enrollments", codes=codes, message=message,
        body=None, retry_after=None,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (
            status_error(errors.AuthenticationError, 401, "Invalid API key"),
            "refused the credentials",
        ),
        (status_error(errors.PermissionDeniedError, 403, "no"), "refused the credentials"),
        (
            errors.APIConnectionError("refused", method="POST", url="/x", maybe_applied=False),
            "cannot reach the vendor",
        ),
        (status_error(errors.NotFoundError, 404, "Sequence not found"), "the sequence is gone"),
        (
            status_error(errors.BadRequestError, 422, "Sequence is paused", "sequence_not_active"),
            "takes no enrollments",
        ),
        (
            status_error(errors.BadRequestError, 422, "Unknown mailbox", "mailbox_not_found"),
            "--mailbox is unknown",
        ),
    ],
)
async def test_breaker_stops_at_the_first_failure_that_is_not_about_the_row(
    tmp_path: Path, error: errors.SequenceClientError, reason: str
) -> None:
    calls = 0

    async def enroll(row: Row, resume: bool) -> str:
        nonlocal calls
        calls += 1
        if calls > 10:
            raise error
        return "e-" + row.key

    journal = Journal(tmp_path / "j.sqlite", "unify", SEQUENCE)
    report = await run_bulk_enroll(rows(500), enroll, journal, concurrency=4)
    assert reason in report.stopped
    assert calls <= 10 + 4  # the failing one and those already in flight, no more
    assert report.counts["enrolled"] == 10
    assert report.counts["failed"] + report.counts["in_flight"] >= 1


async def test_row_level_failures_keep_going(tmp_path: Path) -> None:
    """A person unknown to the vendor, a row's own bad mailbox: the run goes on."""
    own_mailbox = Row(line=2, key=str(uuid.uuid4()), mailboxes=("x@y.co",), own_mailbox=True)
    failures = {
        own_mailbox.key: status_error(errors.BadRequestError, 422, "Unknown", "mailbox_not_found"),
    }

    async def enroll(row: Row, resume: bool) -> str:
        if row.key in failures:
            raise failures[row.key]
        if row.line % 2:
            raise status_error(errors.NotFoundError, 404, "Person not found")
        return "e-" + row.key

    journal = Journal(tmp_path / "j.sqlite", "unify", SEQUENCE)
    report = await run_bulk_enroll([own_mailbox, *rows(100)], enroll, journal, concurrency=4)
    assert report.stopped == ""
    assert report.counts == {"enrolled": 50, "failed": 51}


async def test_a_run_of_server_errors_outlasting_retries_trips_the_breaker(tmp_path: Path) -> None:
    calls = 0

    async def enroll(row: Row, resume: bool) -> str:
        nonlocal calls
        calls += 1
        if calls in (3, 7) or calls > 20:  # isolated 5xx are row failures; a run is an outage
            raise status_error(errors.ServerError, 503, "Service Unavailable")
        return "e-" + row.key

    journal = Journal(tmp_path / "j.sqlite", "unify", SEQUENCE)
    report = await run_bulk_enroll(rows(500), enroll, journal, concurrency=1)
    assert report.stopped.startswith("5 rows in a row failed with server errors")
    assert "503" in report.stopped
    assert calls == 20 + 5
    assert report.counts["enrolled"] == 18


# --- a journal that cannot be written ----------------------------------------------------------


async def test_a_journal_that_cannot_be_written_stops_the_run_with_its_error(
    tmp_path: Path,
) -> None:
    """Not an exception group, not a report: the storage error itself. What was sent is
    still written once the disk has room, and the rows claimed but never sent are released."""
    path = tmp_path / "j.sqlite"
    journal = FullDisk(path, "unify", SEQUENCE, flush_every=1)
    sent: list[str] = []

    async def enroll(row: Row, resume: bool) -> str:
        sent.append(row.key)
        return "e-" + row.key

    with pytest.raises(sqlite3.OperationalError, match="disk is full"):
        await run_bulk_enroll(rows(20), enroll, journal, concurrency=1)
    journal.close()
    assert len(sent) == 1 and states(path) == {sent[0]: "enrolled"}
