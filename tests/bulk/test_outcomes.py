"""What an ops person reads after a bulk run, error by error: the row's outcome and the reason in
the problems table, and, when the failure is not about the row, why the run stopped. Also the
report's totals and the engine's own argument checks. In process, with fake enroll callables."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import SimpleNamespace

import pytest
from bulk_helpers import ENROLLMENTS_URL, status

from sequence_clients import errors
from sequence_clients.bulk import engine
from sequence_clients.bulk.engine import (
    MAX_LISTED_PROBLEMS,
    SERVER_TROUBLE_RUN,
    Operation,
    Report,
    Result,
    run_bulk_enroll,
    run_rows,
)
from sequence_clients.bulk.journal import Claim, Journal, ReportLine
from sequence_clients.bulk.rows import BadRow, Row

# Fixed ids: they appear in parameter ids, which every xdist worker must collect alike.
SEQUENCE = "4b1f0c2e-8a3d-4e5f-9b6a-7c8d9e0f1a2b"
URL = ENROLLMENTS_URL


def rows(n: int, *, own_mailbox: bool = False) -> list[Row]:
    return [
        Row(line=i + 2, key=str(uuid.UUID(int=i + 1)), own_mailbox=own_mailbox) for i in range(n)
    ]


def failing(error: errors.SequenceClientError) -> Callable[[Row, bool], Awaitable[str]]:
    async def enroll(row: Row, resume: bool) -> str:
        raise error

    return enroll


async def run(
    tmp_path: Path, error: errors.SequenceClientError, given: list[Row | BadRow]
) -> tuple[Report, Journal]:
    journal = Journal(tmp_path / "run.journal", "unify", SEQUENCE)
    report = await run_bulk_enroll(given, failing(error), journal, concurrency=1)
    return report, journal


TOKEN_STORE = errors.TokenStoreError(token=None, cause=PermissionError("read-only"))
STOPS = [
    pytest.param(
        status(errors.AuthenticationError, 401, "Invalid API key", "unauthorized"),
        "401 [unauthorized]: Invalid API key",
        "401 [unauthorized]: Invalid API key",
        id="401",
    ),
    pytest.param(
        status(errors.PermissionDeniedError, 403, "Forbidden"),
        "403: Forbidden",
        "403: Forbidden",
        id="403",
    ),
    pytest.param(
        TOKEN_STORE,
        f"TokenStoreError: {TOKEN_STORE}",
        str(TOKEN_STORE),
        id="token-store",
    ),
    pytest.param(
        errors.APIConnectionError(
            "[Errno 111]   Connection\n refused", method="POST", url=URL, maybe_applied=False
        ),
        "APIConnectionError: [Errno 111] Connection refused",
        "APIConnectionError: [Errno 111] Connection refused",
        id="refused",
    ),
    pytest.param(
        status(errors.NotFoundError, 404, "Sequence not found"),
        "404: Sequence not found",
        "404: Sequence not found",
        id="sequence-gone",
    ),
    pytest.param(
        status(errors.BadRequestError, 422, "Sequence is paused", "sequence_not_active"),
        "422 [sequence_not_active]: Sequence is paused",
        "422 [sequence_not_active]: Sequence is paused",
        id="sequence-inactive",
    ),
    pytest.param(
        status(errors.BadRequestError, 422, "Unknown mailbox", "mailbox_not_found", "other"),
        "422 [mailbox_not_found, other]: Unknown mailbox",
        "422 [mailbox_not_found, other]: Unknown mailbox",
        id="mailbox-option",
    ),
]


# Each stop reason quotes what the vendor (or the library) said; the sentence around it, one
# for each kind of stop, is in the golden table (tests/golden/messages.py, bulk-stop-*).
@pytest.mark.parametrize(("error", "reason", "quoted"), STOPS)
async def test_a_failure_that_is_not_about_the_row_stops_the_run_saying_why(
    tmp_path: Path, error: errors.SequenceClientError, reason: str, quoted: str
) -> None:
    report, _ = await run(tmp_path, error, list(rows(3)))
    assert quoted in report.stopped
    assert report.problems[0] == ReportLine(2, rows(1)[0].key, "failed", "", reason)
    # The other rows were never sent: still in flight, or never claimed at all.
    assert report.counts["failed"] == 1 and report.counts["enrolled"] == 0


ROW_LEVEL = [
    pytest.param(status(errors.NotFoundError, 404, "Person not found"), "404: Person not found"),
    pytest.param(
        status(errors.ConflictError, 409, "Mailbox busy", "mailbox_busy"),
        "409 [mailbox_busy]: Mailbox busy",
    ),
    pytest.param(
        status(errors.RateLimitError, 429, "Slow down"), "429: Slow down", id="429-retries-spent"
    ),
    pytest.param(
        errors.InvalidRequestError("person_id is not a UUID"),
        "InvalidRequestError: person_id is not a UUID",
    ),
]


@pytest.mark.parametrize(("error", "reason"), ROW_LEVEL)
async def test_a_failure_about_the_row_is_its_problem_and_the_run_goes_on(
    tmp_path: Path, error: errors.SequenceClientError, reason: str
) -> None:
    report, _ = await run(tmp_path, error, list(rows(SERVER_TROUBLE_RUN + 2)))
    assert report.stopped == ""
    assert report.counts == {"failed": SERVER_TROUBLE_RUN + 2}
    assert {line.detail for line in report.problems} == {reason}


async def test_an_unknown_mailbox_from_the_rows_own_column_is_that_rows_problem(
    tmp_path: Path,
) -> None:
    error = status(errors.BadRequestError, 422, "Unknown mailbox", "mailbox_not_found")
    report, _ = await run(tmp_path, error, list(rows(3, own_mailbox=True)))
    assert report.stopped == "" and report.counts == {"failed": 3}


SERVER_TROUBLE = [
    pytest.param(status(errors.ServerError, 503, "Unavailable"), "503: Unavailable", id="503"),
    pytest.param(
        errors.APITimeoutError("read timed out", method="POST", url=URL, maybe_applied=True),
        "APITimeoutError: read timed out",
        id="timeout",
    ),
    pytest.param(
        errors.APITimeoutError("connect timed out", method="POST", url=URL, maybe_applied=False),
        "APITimeoutError: connect timed out",
        id="connect-timeout",
    ),
    pytest.param(
        errors.APIConnectionError("reset by peer", method="POST", url=URL, maybe_applied=True),
        "APIConnectionError: reset by peer",
        id="reset",
    ),
    pytest.param(
        errors.UnexpectedResponseError(
            "not JSON", method="POST", url=URL, status_code=502, body=b"<html>", truncated=False
        ),
        "UnexpectedResponseError: -> 502: not JSON; body starts '<html>'",
        id="html-502",
    ),
]


@pytest.mark.parametrize(("error", "reason"), SERVER_TROUBLE)
async def test_server_trouble_stops_the_run_only_when_it_lasts_row_after_row(
    tmp_path: Path, error: errors.SequenceClientError, reason: str
) -> None:
    sent = 0

    async def enroll(row: Row, resume: bool) -> str:
        nonlocal sent
        sent += 1
        if sent % SERVER_TROUBLE_RUN == 0:  # one good answer in every run resets the count
            return f"e-{sent}"
        raise error

    steady_journal = Journal(tmp_path / "steady.journal", "unify", SEQUENCE)
    steady = await run_bulk_enroll(
        rows(3 * SERVER_TROUBLE_RUN), enroll, steady_journal, concurrency=1
    )
    assert steady.stopped == "" and steady.counts["enrolled"] == 3

    report, journal = await run(tmp_path, error, list(rows(3 * SERVER_TROUBLE_RUN)))
    assert reason in report.stopped  # the last failure (wording: tests/golden, bulk-stop-*)
    failed = [line for line in report.problems if line.outcome == "failed"]
    assert [line.detail for line in failed] == [reason] * SERVER_TROUBLE_RUN
    # A row whose request may have landed is re-sent in resume mode, so it is not enrolled twice.
    resumed: list[bool] = []

    async def succeed(row: Row, resume: bool) -> str:
        resumed.append(resume)
        return "e-1"

    await run_bulk_enroll(rows(1), succeed, journal)
    assert resumed == [error.maybe_applied]


async def test_a_long_vendor_message_is_cut_for_the_table(tmp_path: Path) -> None:
    error = status(errors.BadRequestError, 400, "x" * 250)
    report, _ = await run(tmp_path, error, list(rows(1)))
    assert report.problems[0].detail == ("400: " + "x" * 250)[:200]


async def test_a_long_library_message_is_cut_for_the_table(tmp_path: Path) -> None:
    error = errors.InvalidRequestError("y " * 200)
    report, _ = await run(tmp_path, error, list(rows(1)))
    detail = report.problems[0].detail
    assert detail == ("InvalidRequestError: " + " ".join(["y"] * 200))[:300]


# --- the report ------------------------------------------------------------------------------


async def test_the_report_lists_the_first_problems_in_line_order_and_counts_every_row(
    tmp_path: Path,
) -> None:
    bad = [BadRow(1000 + n, f"junk-{n}", "person_id is not a UUID") for n in range(3)]

    async def enroll(row: Row, resume: bool) -> str:
        if row.line % 2:
            raise status(errors.NotFoundError, 404, "Person not found")
        return f"e-{row.line}"

    good = rows(2 * MAX_LISTED_PROBLEMS + 10)
    journal = Journal(tmp_path / "run.journal", "unify", SEQUENCE)
    report = await run_bulk_enroll([*good, *bad], enroll, journal, concurrency=3)
    failed = MAX_LISTED_PROBLEMS + 5
    assert report.counts == {"enrolled": len(good) - failed, "failed": failed, "invalid": 3}
    assert report.failed == failed + 3
    assert report.total == len(good) + 3
    assert len(report.problems) == MAX_LISTED_PROBLEMS
    assert [line.line for line in report.problems] == [3 + 2 * n for n in range(20)]
    assert report.done_earlier == 0 and report.recovered == 0 and report.elapsed >= 0


async def test_progress_hears_once_from_every_row_of_the_file(tmp_path: Path) -> None:
    heard: list[str] = []
    first, second = rows(2)
    given: list[Row | BadRow] = [first, BadRow(3, "x", "bad"), second, Row(9, first.key)]

    async def enroll(row: Row, resume: bool) -> str:
        if row is second:
            raise status(errors.NotFoundError, 404, "Person not found")
        return "e-1"

    journal = Journal(tmp_path / "run.journal", "unify", SEQUENCE)
    await run_bulk_enroll(given, enroll, journal, on_progress=heard.append, claim_batch=1)
    assert sorted(heard) == ["duplicate", "enrolled", "failed", "invalid"]
    heard.clear()
    report = await run_bulk_enroll(given, enroll, journal, on_progress=heard.append)
    assert sorted(heard) == ["duplicate", "enrolled", "failed", "invalid"]
    assert report.done_earlier == 1  # the enrolled row is not sent again


async def test_a_resumed_row_says_it_was_enrolled_once(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "run.journal", "unify", SEQUENCE)
    journal.begin_run()
    journal.claim(rows(2))  # an earlier run died with both in flight
    seen: list[bool] = []

    async def enroll(row: Row, resume: bool) -> str:
        seen.append(resume)
        if row.line == 3:
            raise status(errors.NotFoundError, 404, "Person not found")
        return "e-1"

    report = await run_bulk_enroll(rows(2), enroll, journal, concurrency=1)
    assert seen == [True, True]
    assert report.recovered == 1  # the one that failed again is not "recovered"
    lines = list(journal.report_lines())
    assert lines[0].detail == "resumed after an interrupted run; enrolled once"
    assert lines[1].detail == "404: Person not found"


@pytest.mark.parametrize(
    ("options", "named"),
    [({"on_conflict": "overwrite"}, "on_conflict"), ({"concurrency": 0}, "concurrency")],
)
async def test_the_engine_refuses_options_it_cannot_honour_before_any_row(
    tmp_path: Path, options: dict[str, object], named: str
) -> None:
    """The message names the option (wording: tests/golden, bulk-on-conflict-unknown, ...)."""
    journal = Journal(tmp_path / "run.journal", "unify", SEQUENCE)
    with pytest.raises(ValueError) as raised:
        await run_bulk_enroll(rows(1), failing(TOKEN_STORE), journal, **options)  # type: ignore[arg-type]
    assert str(raised.value).startswith(named)
    assert journal.row_count() == 0


# --- conflicts, word for word ------------------------------------------------------------------

OTHER_SEQUENCE_ID = "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b"


@pytest.mark.parametrize(
    ("mode", "active_in", "outcome", "detail"),
    [
        ("skip", SEQUENCE, "already_enrolled", "already active in this sequence"),
        ("skip", None, "already_enrolled", "already active in this sequence"),  # Boast
        ("skip", OTHER_SEQUENCE_ID, "other_sequence",
         f"active in sequence {OTHER_SEQUENCE_ID}; not enrolled"),
        ("return-existing", SEQUENCE, "existing", "already active in this sequence"),
        ("return-existing", OTHER_SEQUENCE_ID, "failed",
         f"already enrolled in sequence {OTHER_SEQUENCE_ID}"),
        ("fail", SEQUENCE, "failed", "already enrolled in this sequence"),
        ("fail", OTHER_SEQUENCE_ID, "failed", f"already enrolled in sequence {OTHER_SEQUENCE_ID}"),
    ],
)  # fmt: skip
async def test_each_conflict_says_where_the_person_is_active(
    tmp_path: Path, mode: str, active_in: str | None, outcome: str, detail: str
) -> None:
    conflict = errors.AlreadyEnrolledError(
        active_enrollment_id="e-active", active_sequence_id=active_in, status_code=409,
        method="POST", url=URL, codes=("already_enrolled",), message="already", body=None,
        retry_after=None,
    )  # fmt: skip
    journal = Journal(tmp_path / "run.journal", "unify", SEQUENCE)
    await run_bulk_enroll(rows(1), failing(conflict), journal, on_conflict=mode)  # type: ignore[arg-type]
    [line] = journal.report_lines()
    assert (line.outcome, line.enrollment_id, line.detail) == (outcome, "e-active", detail)


async def test_a_row_enrolled_on_the_first_try_carries_no_note(tmp_path: Path) -> None:
    async def enroll(row: Row, resume: bool) -> str:
        return "e-1"

    journal = Journal(tmp_path / "run.journal", "unify", SEQUENCE)
    await run_bulk_enroll(rows(1), enroll, journal)
    assert list(journal.report_lines()) == [ReportLine(2, rows(1)[0].key, "enrolled", "e-1", "")]


async def test_a_connection_message_keeps_its_own_first_letters(tmp_path: Path) -> None:
    error = errors.APIConnectionError(
        "XML-RPC proxy: connection reset", method="POST", url=URL, maybe_applied=True
    )
    report, _ = await run(tmp_path, error, list(rows(1)))
    assert report.problems[0].detail == "APIConnectionError: XML-RPC proxy: connection reset"


async def test_a_long_connection_message_is_cut_for_the_table(tmp_path: Path) -> None:
    error = errors.APIConnectionError("z" * 280, method="POST", url=URL, maybe_applied=True)
    report, _ = await run(tmp_path, error, list(rows(1)))
    assert report.problems[0].detail == ("APIConnectionError: " + "z" * 280)[:200]


# --- defaults an embedding program relies on ---------------------------------------------------


async def test_sixteen_rows_in_flight_at_most_by_default(tmp_path: Path) -> None:
    in_flight = peak = 0

    async def enroll(row: Row, resume: bool) -> str:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.001)
        in_flight -= 1
        return "e-1"

    journal = Journal(tmp_path / "run.journal", "unify", SEQUENCE)
    report = await run_bulk_enroll(rows(60), enroll, journal)
    assert peak == 16 and report.counts == {"enrolled": 60}


@pytest.mark.parametrize(("claim_batch", "claimed"), [({}, 64), ({"claim_batch": 10}, 10)])
async def test_rows_are_marked_in_flight_a_batch_at_a_time_before_the_first_is_sent(
    tmp_path: Path, claim_batch: dict[str, int], claimed: int
) -> None:
    """What a crash can leave to resume: the claimed batch, not the whole file."""
    path = tmp_path / "run.journal"
    on_disk: list[int] = []

    async def enroll(row: Row, resume: bool) -> str:
        if not on_disk:
            with sqlite3.connect(path) as db:
                on_disk.append(db.execute("SELECT COUNT(*) FROM rows").fetchone()[0])
        return "e-1"

    journal = Journal(path, "unify", SEQUENCE)
    await run_bulk_enroll(rows(200), enroll, journal, concurrency=1, **claim_batch)
    assert on_disk == [claimed]


async def test_run_rows_claims_64_rows_at_a_time_and_sends_16_at_once_by_default(
    tmp_path: Path,
) -> None:
    """The loop an embedding program drives with its own operation."""
    journal = Journal(tmp_path / "run.journal", "unify", SEQUENCE)
    journal.begin_run()
    batches: list[int] = []
    in_flight = peak = 0

    def claim(batch: list[Row]) -> list[Claim]:
        batches.append(len(batch))
        return journal.claim(batch)

    async def send(claim: Claim) -> Result:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.001)
        in_flight -= 1
        return Result("enrolled", "e-" + claim.row.key)

    stats = await run_rows(rows(100), journal, Operation(claim, send))
    journal.close()
    assert batches == [64, 36] and peak == 16
    assert +stats.tally == {"enrolled": 100} and stats.stopped == ""


async def test_the_report_says_how_long_the_run_took(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    readings = iter([1000.0, 1012.5])
    monkeypatch.setattr(engine, "time", SimpleNamespace(monotonic=lambda: next(readings)))

    async def enroll(row: Row, resume: bool) -> str:
        return "e-1"

    journal = Journal(tmp_path / "run.journal", "unify", SEQUENCE)
    report = await run_bulk_enroll(rows(3), enroll, journal)
    assert report.elapsed == 12.5
