"""The bulk-enroll engine's loop, vendor-neutral and free of CLI dependencies.

A producer streams rows, claims them in the journal in small batches (committing `in_flight`
before anything is sent) and feeds a bounded queue; a fixed pool of workers sends them. Memory
stays flat however long the file: at most `concurrency * 2` rows wait in the queue.

A circuit breaker stops the run when a failure is not about the row (credentials refused, the
server unreachable, the sequence gone, server errors outlasting the retries row after row):
every other row would fail the same way. The rows in flight are cancelled and stay `in_flight`
in the journal, so re-running the same command resumes without enrolling anyone twice.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from ..errors import (
    AlreadyEnrolledError,
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    NotFoundError,
    PermissionDeniedError,
    SequenceClientError,
    ServerError,
    TokenStoreError,
    UnexpectedResponseError,
)
from .journal import FAILED, UNDO_FAILED, UNDONE, Claim, Journal, ReportLine
from .rows import BadRow, Row

OnConflict = Literal["skip", "return-existing", "fail"]
ON_CONFLICT_CHOICES: tuple[OnConflict, ...] = ("skip", "return-existing", "fail")
# enroll(row, resume) -> the enrollment id. `resume` is True when an earlier attempt may have
# been applied: the vendor's active enrollment in this sequence must then count as ours.
EnrollFn = Callable[[Row, bool], Awaitable[str]]
# on_progress(outcome) once per row of the file, whatever happened to it.
ProgressFn = Callable[[str], None]
OTHER_SEQUENCE = "other_sequence"
OUTCOMES = (
    "enrolled", "existing", "already_enrolled", OTHER_SEQUENCE, "duplicate", "failed", "invalid",
    UNDONE, UNDO_FAILED, "paused", "resumed",
)  # fmt: skip
MAX_LISTED_PROBLEMS = 20
# Outcomes of a sent row that leave it to be retried.
PROBLEM_STATES = frozenset({FAILED, UNDO_FAILED})
# Rows in a row whose last attempt was a server error or a dropped connection, retries spent:
# past this the service is down, not the rows bad.
SERVER_TROUBLE_RUN = 5


@dataclass(frozen=True)
class Result:
    outcome: str
    enrollment_id: str | None = None
    detail: str = ""
    maybe_applied: bool = False
    # Why every other row would fail too (the breaker trips), or "server" for one more row of
    # server trouble, or "" for a row-level outcome.
    trouble: str = ""


@dataclass
class Report:
    counts: Counter[str]  # outcome -> rows of the file (this run and earlier ones)
    done_earlier: int  # rows skipped because an earlier run finished them
    recovered: int  # in_flight rows of an interrupted run, resolved without a second enrollment
    elapsed: float
    problems: list[ReportLine] = field(default_factory=list)  # the first few failed/invalid
    stopped: str = ""  # why the breaker stopped the run; "" when every row was tried

    @property
    def failed(self) -> int:
        return self.counts["failed"] + self.counts["invalid"] + self.counts["in_flight"]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class Operation:
    """What the engine does to each row: how rows are claimed in the journal (the claim is
    committed before anything is sent) and the one request a claimed row makes."""

    claim: Callable[[list[Row]], list[Claim]]
    attempt: Callable[[Claim], Awaitable[Result]]
    # False: outcomes are counted, not written to the journal (pausing changes no row's state).
    journaled: bool = True


@dataclass
class RunStats:
    tally: Counter[str]  # outcome -> rows decided by this run; "done" and "recovered" too
    stopped: str = ""
    outcomes: list[tuple[Claim, Result]] = field(default_factory=list)  # when not journaled


async def run_bulk_enroll(
    rows: Iterable[Row | BadRow],
    enroll: EnrollFn,
    journal: Journal,
    *,
    on_conflict: OnConflict = "skip",
    concurrency: int = 16,
    on_progress: ProgressFn | None = None,
    claim_batch: int = 64,
) -> Report:
    """Enroll every row once; see the module docstring. Only `enroll` does I/O to the vendor."""
    if on_conflict not in ON_CONFLICT_CHOICES:
        raise ValueError(f"on_conflict must be one of {ON_CONFLICT_CHOICES}, got {on_conflict!r}")
    started = time.monotonic()
    journal.begin_run()

    async def send(claim: Claim) -> Result:
        return await attempt(enroll, claim, journal.sequence_id, on_conflict)

    stats = await run_rows(
        rows, journal, Operation(journal.claim, send),
        concurrency=concurrency, on_progress=on_progress, claim_batch=claim_batch,
    )  # fmt: skip
    return Report(
        counts=journal.counts(),
        done_earlier=stats.tally["done"],
        recovered=stats.tally["recovered"],
        elapsed=time.monotonic() - started,
        problems=first_problems(journal),
        stopped=stats.stopped,
    )


# undo(enrollment_id, resume) cancels or removes one enrollment; `resume` is True when an
# earlier attempt may have been applied (an enrollment already gone then counts as undone).
UndoFn = Callable[[str, bool], Awaitable[None]]


async def run_bulk_undo(
    undo: UndoFn,
    journal: Journal,
    *,
    concurrency: int = 16,
    on_progress: ProgressFn | None = None,
    claim_batch: int = 64,
) -> Report:
    """Cancel every enrollment this campaign created and has not undone yet — the journal's
    `enrolled` rows, never the ones found already enrolled — through the same claim, worker
    and breaker code as enrolling."""
    started = time.monotonic()

    async def send(claim: Claim) -> Result:
        try:
            await undo(claim.enrollment_id, claim.action == "resume")
        except SequenceClientError as error:
            return Result(
                UNDO_FAILED, claim.enrollment_id, short_reason(error),
                maybe_applied=error.maybe_applied, trouble=trouble(error, claim.row),
            )  # fmt: skip
        return Result(UNDONE, claim.enrollment_id)

    stats = await run_rows(
        journal.undo_candidates(), journal, Operation(journal.claim_undo, send),
        concurrency=concurrency, on_progress=on_progress, claim_batch=claim_batch,
    )  # fmt: skip
    counts = Counter({k: v for k, v in stats.tally.items() if k not in ("done", "recovered")})
    return Report(
        counts=counts,
        done_earlier=stats.tally["done"],
        recovered=stats.tally["recovered"],
        elapsed=time.monotonic() - started,
        stopped=stats.stopped,
    )


# pause(enrollment_id, paused) pauses or resumes one enrollment.
PauseFn = Callable[[str, bool], Awaitable[None]]


async def run_bulk_pause(
    pause: PauseFn,
    journal: Journal,
    paused: bool,
    *,
    concurrency: int = 16,
    on_progress: ProgressFn | None = None,
) -> RunStats:
    """Pause (or resume) every enrollment this campaign created and has not undone, through
    the same workers, limiter and breaker as enrolling. Nothing is journaled: pausing twice
    changes nothing, so an interrupted run is simply run again."""
    outcome = "paused" if paused else "resumed"

    def claim(rows: list[Row]) -> list[Claim]:
        claims = []
        for row in rows:
            found = journal.lookup(row.key)
            if found is not None and found[0] == "enrolled" and found[1]:
                claims.append(Claim(row, "send", "enrolled", enrollment_id=found[1]))
        return claims

    async def send(claim: Claim) -> Result:
        try:
            await pause(claim.enrollment_id, paused)
        except SequenceClientError as error:
            return Result(
                FAILED, claim.enrollment_id, short_reason(error),
                trouble=trouble(error, claim.row),
            )  # fmt: skip
        return Result(outcome, claim.enrollment_id)

    return await run_rows(
        journal.undo_candidates(("enrolled",)), journal, Operation(claim, send, journaled=False),
        concurrency=concurrency, on_progress=on_progress,
    )  # fmt: skip


def first_problems(journal: Journal) -> list[ReportLine]:
    problems = []
    for line in journal.report_lines(problems_only=True):
        problems.append(line)
        if len(problems) >= MAX_LISTED_PROBLEMS:
            break
    return problems


async def run_rows(
    rows: Iterable[Row | BadRow],
    journal: Journal,
    operation: Operation,
    *,
    concurrency: int = 16,
    on_progress: ProgressFn | None = None,
    claim_batch: int = 64,
) -> RunStats:
    """Claim rows in batches, send them from a fixed pool of workers, record each outcome;
    stop on the breaker. Claims never taken by a worker are released, whatever the ending."""
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    progress = on_progress or (lambda outcome: None)
    tally: Counter[str] = Counter()
    queue: asyncio.Queue[Claim | None] = asyncio.Queue(maxsize=concurrency * 2)
    # Claimed (in the journal) but not yet taken by a worker: never sent if the run ends now.
    waiting: dict[int, Claim] = {}
    outcomes: list[tuple[Claim, Result]] = []  # of an operation that is not journaled

    async def dispatch(batch: list[Row]) -> None:
        claims = operation.claim(batch)
        sendable = [c for c in claims if c.action in ("send", "resume")]
        waiting.update((id(c), c) for c in sendable)
        for claim in claims:
            if claim.action == "send" or claim.action == "resume":
                await queue.put(claim)
            else:
                tally[claim.action] += 1
                progress(claim.state if claim.action == "done" else "duplicate")

    async def produce() -> None:
        batch: list[Row] = []
        for item in rows:
            if isinstance(item, BadRow):
                journal.note(item.line, item.raw_key, "invalid", item.reason)
                progress("invalid")
                continue
            batch.append(item)
            if len(batch) >= claim_batch:
                await dispatch(batch)
                batch = []
        await dispatch(batch)
        for _ in range(concurrency):
            await queue.put(None)

    server_trouble = 0
    stopped = ""

    async def work() -> None:
        nonlocal server_trouble
        while (claim := await queue.get()) is not None:
            del waiting[id(claim)]
            result = await operation.attempt(claim)
            tally[result.outcome] += 1
            tally["recovered"] += claim.action == "resume" and result.outcome not in PROBLEM_STATES
            if operation.journaled:
                journal.record(
                    claim.row, result.outcome, result.enrollment_id, result.detail,
                    result.maybe_applied,
                )  # fmt: skip
            else:
                outcomes.append((claim, result))
            progress(result.outcome)
            server_trouble = server_trouble + 1 if result.trouble == "server" else 0
            if result.trouble == "server" and server_trouble >= SERVER_TROUBLE_RUN:
                raise BreakerTripped(
                    f"{server_trouble} rows in a row failed with server errors or dropped "
                    f"connections after every retry (last: {result.detail})"
                )
            if result.trouble not in ("", "server"):
                raise BreakerTripped(result.trouble)

    broken: list[BaseException] = []  # the journal could not be written (disk full, rights)
    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(produce())
            for _ in range(concurrency):
                group.create_task(work())
    except* BreakerTripped as tripped:
        stopped = str(tripped.exceptions[0])
    except* (sqlite3.Error, OSError) as storage:
        broken.extend(storage.exceptions)
    finally:
        try:
            journal.flush()  # whatever finished is kept, even on Ctrl-C
            if waiting and operation.journaled:
                journal.release(list(waiting.values()))
        except (sqlite3.Error, OSError):
            # The same storage failing again: the rows it could not record stay in flight,
            # which the next run resolves without a second request taking effect.
            if not broken:
                raise
    if broken:
        raise broken[0]
    return RunStats(tally, stopped, outcomes)


class BreakerTripped(Exception):
    """A failure that is not about the row: stop sending (the message says why)."""


async def attempt(
    enroll: EnrollFn, claim: Claim, sequence_id: str, on_conflict: OnConflict
) -> Result:
    """One row's request, its error turned into an outcome per `on_conflict`."""
    resume = claim.action == "resume"
    try:
        enrollment_id = await enroll(claim.row, resume)
    except AlreadyEnrolledError as conflict:
        # Boast's duplicate check is per (contact, sequence), so no sequence id means ours.
        same = conflict.active_sequence_id in (None, sequence_id)
        where = "this sequence" if same else f"sequence {conflict.active_sequence_id}"
        active = conflict.active_enrollment_id
        if on_conflict == "skip" and same:
            return Result("already_enrolled", active, "already active in this sequence")
        if on_conflict == "skip":
            return Result(OTHER_SEQUENCE, active, f"active in {where}; not enrolled")
        if on_conflict == "return-existing" and same:
            return Result("existing", active, "already active in this sequence")
        return Result(FAILED, active, f"already enrolled in {where}")
    except SequenceClientError as error:
        return Result(
            FAILED,
            None,
            short_reason(error),
            maybe_applied=error.maybe_applied,
            trouble=trouble(error, claim.row),
        )
    detail = "resumed after an interrupted run; enrolled once" if resume else ""
    return Result("enrolled", enrollment_id, detail)


def trouble(error: SequenceClientError, row: Row) -> str:
    """Why this error would fail every row ("" if it is about this row; "server" if it is one
    more row of server trouble)."""
    if isinstance(error, AuthenticationError | PermissionDeniedError):
        return f"the vendor refused the credentials ({short_reason(error)}); check them"
    if isinstance(error, TokenStoreError):
        return f"the rotated Boast token could not be saved: {error}"
    unreachable = isinstance(error, APIConnectionError) and not isinstance(error, APITimeoutError)
    if unreachable and not error.maybe_applied:  # refused, DNS: nothing reached a server
        return f"cannot reach the vendor ({short_reason(error)})"
    if isinstance(error, APIConnectionError | ServerError | UnexpectedResponseError):
        return "server"
    if isinstance(error, APIStatusError):
        codes = set(error.codes)
        if isinstance(error, NotFoundError) and "sequence" in error.message.lower():
            return f"the sequence is gone ({short_reason(error)})"
        if "sequence_not_active" in codes:
            return f"the sequence takes no enrollments ({short_reason(error)})"
        if "mailbox_not_found" in codes and not row.own_mailbox:
            return f"the --mailbox is unknown to the vendor ({short_reason(error)})"
    return ""


def short_reason(error: SequenceClientError) -> str:
    """What went wrong, short enough for a table cell: status, the vendor's codes, its message;
    no method or URL (every row of a run has the same)."""
    if isinstance(error, APIStatusError):
        codes = f" [{', '.join(error.codes)}]" if error.codes else ""
        return f"{error.status_code}{codes}: {error.message}"[:200]
    if isinstance(error, APIConnectionError | UnexpectedResponseError):
        text = str(error).removeprefix(f"{error.method} {error.url}").lstrip(": ")
        return f"{type(error).__name__}: {' '.join(text.split())}"[:200]
    return one_line(error)


def one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}"[:300]
