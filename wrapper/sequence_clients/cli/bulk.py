"""The bulk-enroll engine, vendor-neutral and free of CLI dependencies (bench/ reuses it).

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
from .journal import FAILED, Claim, Journal, ReportLine
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
)  # fmt: skip
MAX_LISTED_PROBLEMS = 20
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
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    progress = on_progress or (lambda outcome: None)
    started = time.monotonic()
    journal.begin_run()
    tally: Counter[str] = Counter()
    queue: asyncio.Queue[Claim | None] = asyncio.Queue(maxsize=concurrency * 2)

    async def dispatch(batch: list[Row]) -> None:
        for claim in journal.claim(batch):
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
            result = await attempt(enroll, claim, journal.sequence_id, on_conflict)
            tally["recovered"] += claim.action == "resume" and result.outcome != FAILED
            journal.record(
                claim.row, result.outcome, result.enrollment_id, result.detail, result.maybe_applied
            )
            progress(result.outcome)
            server_trouble = server_trouble + 1 if result.trouble == "server" else 0
            if result.trouble == "server" and server_trouble >= SERVER_TROUBLE_RUN:
                raise BreakerTripped(
                    f"{server_trouble} rows in a row failed with server errors or dropped "
                    f"connections after every retry (last: {result.detail})"
                )
            if result.trouble not in ("", "server"):
                raise BreakerTripped(result.trouble)

    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(produce())
            for _ in range(concurrency):
                group.create_task(work())
    except* BreakerTripped as tripped:
        stopped = str(tripped.exceptions[0])
    finally:
        journal.flush()  # whatever finished is kept, even on Ctrl-C
    problems = []
    for line in journal.report_lines(problems_only=True):
        problems.append(line)
        if len(problems) >= MAX_LISTED_PROBLEMS:
            break
    return Report(
        counts=journal.counts(),
        done_earlier=tally["done"],
        recovered=tally["recovered"],
        elapsed=time.monotonic() - started,
        problems=problems,
        stopped=stopped,
    )


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
