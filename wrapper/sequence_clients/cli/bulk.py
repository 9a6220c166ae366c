"""The bulk-enroll engine, vendor-neutral and free of CLI dependencies (bench/ reuses it).

A producer streams rows, claims them in the journal in small batches (committing `in_flight`
before anything is sent) and feeds a bounded queue; a fixed pool of workers sends them. Memory
stays flat however long the file: at most `concurrency * 2` rows wait in the queue.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from ..errors import AlreadyEnrolledError, SequenceClientError
from .journal import FAILED, Claim, Journal, ReportLine
from .rows import BadRow, Row

OnConflict = Literal["skip", "return-existing", "fail"]
ON_CONFLICT_CHOICES: tuple[OnConflict, ...] = ("skip", "return-existing", "fail")
# enroll(row, resume) -> the enrollment id. `resume` is True when an earlier attempt may have
# been applied: the vendor's active enrollment in this sequence must then count as ours.
EnrollFn = Callable[[Row, bool], Awaitable[str]]
# on_progress(outcome) once per row of the file, whatever happened to it.
ProgressFn = Callable[[str], None]
OUTCOMES = ("enrolled", "existing", "already_enrolled", "duplicate", "failed", "invalid")
MAX_LISTED_PROBLEMS = 20


@dataclass(frozen=True)
class Result:
    outcome: str
    enrollment_id: str | None = None
    detail: str = ""
    maybe_applied: bool = False


@dataclass
class Report:
    counts: Counter[str]  # outcome -> rows of the file (this run and earlier ones)
    done_earlier: int  # rows skipped because an earlier run finished them
    recovered: int  # in_flight rows of an interrupted run, resolved without a second enrollment
    elapsed: float
    problems: list[ReportLine] = field(default_factory=list)  # the first few failed/invalid

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

    async def work() -> None:
        while (claim := await queue.get()) is not None:
            result = await attempt(enroll, claim, journal.sequence_id, on_conflict)
            tally["recovered"] += claim.action == "resume" and result.outcome != FAILED
            journal.record(
                claim.row, result.outcome, result.enrollment_id, result.detail, result.maybe_applied
            )
            progress(result.outcome)

    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(produce())
            for _ in range(concurrency):
                group.create_task(work())
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
    )


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
        if on_conflict == "skip":
            return Result("already_enrolled", active, f"already active in {where}")
        if on_conflict == "return-existing" and same:
            return Result("existing", active, "already active in this sequence")
        return Result(FAILED, active, f"already enrolled in {where}")
    except SequenceClientError as error:
        return Result(FAILED, None, one_line(error), maybe_applied=error.maybe_applied)
    detail = "resumed after an interrupted run; enrolled once" if resume else ""
    return Result("enrolled", enrollment_id, detail)


def one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}"[:300]
