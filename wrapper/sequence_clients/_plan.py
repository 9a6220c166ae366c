"""Request plans: the logic both twins (sync and async) and both vendors share, written once.

A plan is a generator that yields steps — `Call` (one HTTP request: a generated operation) or
`Sleep` — and receives each result, or has the typed error thrown into it. `run_sync` and
`run_async` are the only places that do I/O; they also hold a call's overall deadline. Retries are
a plan too (`with_retries`), driven by tenacity's own retry state machine once an attempt has
failed, so back-off and when to stop are tenacity's, not ours.

Every generated endpoint module has `operation(...)`, returning a typed description of one call
(spec/templates/types.py.jinja): the request to send and the parser of its success answer. The
protocols below are what this package needs of it, so one path serves every vendor's operations.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, cast

import httpx

from . import _clock, _telemetry
from .errors import (
    APIConnectionError,
    APIStatusError,
    DeadlineExceededError,
    RateLimitError,
    SequenceClientError,
    ServerError,
    UnexpectedResponseError,
)

if TYPE_CHECKING:
    import tenacity

    from ._ratelimit import RateLimit

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
PageT = TypeVar("PageT")
ItemT = TypeVar("ItemT")
PageValue = str | int
logger = logging.getLogger("sequence_clients")

RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
MAX_RETRY_AFTER = 120.0


class Operation(Protocol[T_co]):
    """A generated `operation(...)`'s result: `<vendor>.types.Operation`."""

    @property
    def operation_id(self) -> str: ...
    @property
    def request(self) -> dict[str, Any]: ...
    @property
    def success_statuses(self) -> frozenset[int]: ...
    @property
    def parse(self) -> Callable[[httpx.Response], T_co]: ...

    # Also, on generated operations: `url_template` (the spec's path), read with getattr so
    # that any object with the four members above can be sent.


class ListOperation(Operation[PageT], Protocol[PageT, ItemT]):
    """A generated list operation (`<vendor>.types.ListOperation`): one page of a list."""

    @property
    def items(self) -> Callable[[PageT], list[ItemT]]: ...
    @property
    def next_page(self) -> Callable[[PageT, PageValue | None], PageValue | None]: ...
    @property
    def served_page(self) -> Callable[[PageT], PageValue | None]: ...
    @property
    def sent_page(self) -> PageValue | None: ...
    def for_page(self, value: PageValue) -> ListOperation[PageT, ItemT]: ...


@dataclass(frozen=True, slots=True)
class Call(Generic[T_co]):
    """Send `operation` once; the result is its parsed success answer."""

    operation: Operation[T_co]


@dataclass(frozen=True, slots=True)
class Sleep:
    seconds: float


Step = Call[object] | Sleep
# A plan receives each Call's result (typed by the Call) or None after a Sleep.
Plan = Generator[Step, object, T]


@dataclass(frozen=True, slots=True)  # hashable: the key of its tenacity.Retrying
class RetryPolicy:
    """Exponential backoff with full jitter, honouring the server's requested wait."""

    max_retries: int = 4
    base_delay: float = 0.5
    max_delay: float = 30.0
    # A longer requested wait is raised at once, not slept through.
    max_retry_after: float = MAX_RETRY_AFTER

    def is_retryable(self, error: BaseException) -> bool:
        if isinstance(error, DeadlineExceededError):  # the time is up: another try cannot help
            return False
        if isinstance(error, APIConnectionError):
            return True
        if isinstance(error, UnexpectedResponseError):
            return error.truncated
        if isinstance(error, APIStatusError) and error.status_code in RETRYABLE_STATUSES:
            return error.retry_after is None or error.retry_after <= self.max_retry_after
        return False

    def pause_after(self, error: SequenceClientError, backoff: float) -> float:
        """Seconds to wait before the next attempt: the server's Retry-After when a 429 or 5xx
        carried one, else the jittered back-off."""
        if isinstance(error, RateLimitError | ServerError) and error.retry_after is not None:
            return error.retry_after
        return backoff

    def retrying(self) -> tenacity.Retrying:
        import tenacity  # loaded with the first failure: a process whose calls succeed never does

        return tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.max_retries + 1),
            wait=tenacity.wait_random_exponential(multiplier=self.base_delay, max=self.max_delay),
            retry=tenacity.retry_if_exception(self.is_retryable),
            reraise=True,
        )


@functools.lru_cache(maxsize=64)
def _retrying_of(policy: RetryPolicy) -> tenacity.Retrying:
    """One tenacity.Retrying per policy (a frozen, hashable value), built on first use: building
    it and its stop, wait and retry objects was most of a call's own cost. Sharing it is safe —
    tenacity keeps its per-run state in a RetryCallState and, for the one synchronous `iter`,
    in thread-local storage; only its `statistics` (which nothing here reads) mix across calls."""
    return policy.retrying()


def _start_retrying(policy: RetryPolicy) -> tuple[tenacity.Retrying, tenacity.RetryCallState]:
    import tenacity

    try:
        retrying = _retrying_of(policy)
    except TypeError:  # an unhashable subclass of the caller's own: built per call, as before
        retrying = policy.retrying()
    retrying.begin()  # its statistics, which `iter` updates, in this thread
    return retrying, tenacity.RetryCallState(retry_object=retrying, fn=None, args=(), kwargs={})


def _log_retry(error: SequenceClientError, attempt: int, wait: float) -> None:
    # Every error the default policy retries names its request; a caller's own policy may retry
    # one that does not.
    method = getattr(error, "method", "?")
    url = getattr(error, "url", "?")
    reason = type(error).__name__
    if isinstance(error, APIStatusError):
        reason += f" {error.status_code}"
    _telemetry.retrying(
        {"method": method, "url": url, "attempt": attempt, "wait": wait, "reason": reason},
        "retrying %s %s: attempt %d failed (%s); waiting %.2fs",
        method, url, attempt, reason, wait,
    )  # fmt: skip
    if isinstance(error, APIStatusError) and error.retry_after is not None and wait > 0:
        # The wait is the server's (Retry-After), not back-off: this call pauses for it.
        _telemetry.paused(wait, shared=False, status_code=error.status_code)


def with_retries(
    call: Call[T],
    policy: RetryPolicy,
    *,
    failures: list[SequenceClientError] | None = None,
    before_retry: Callable[[SequenceClientError], Plan[T | None]] | None = None,
) -> Plan[T]:
    """Make `call`, retrying what `policy` allows.

    Every failed attempt is appended to `failures`. Before a retry that follows a failure which
    may have been applied (`maybe_applied`), `before_retry` runs; a non-None result ends the
    retries with that result — the hook that keeps a retried create from creating twice.
    """
    # Tenacity is asked only once an attempt failed (its first decision is always to attempt,
    # and it returns a success as it is): a call that succeeds costs it nothing.
    retrying: tenacity.Retrying | None = None
    state: tenacity.RetryCallState | None = None
    error: SequenceClientError | None = None
    while True:
        if error is not None and error.maybe_applied and before_retry is not None:
            resolved = yield from before_retry(error)
            if resolved is not None:
                return resolved
        try:
            return cast(T, (yield call))
        except SequenceClientError as failure:
            error = failure
            if failures is not None:
                failures.append(error)
            if retrying is None or state is None:
                retrying, state = _start_retrying(policy)
            state.set_exception(sys.exc_info())  # type: ignore[arg-type]
        # A DoSleep (a float) to try again; once the policy says stop, tenacity raises the error.
        backoff = cast("tenacity.DoSleep", retrying.iter(retry_state=state))
        wait = policy.pause_after(error, backoff)
        _log_retry(error, state.attempt_number, wait)
        state.prepare_for_next_attempt()
        yield Sleep(wait)


class Plans:
    """The base of a vendor's own plans (`_UnifyPlans`, `_BoastPlans`): generators both twins
    run, with the client's retry policy."""

    def __init__(self, policy: RetryPolicy) -> None:
        self._policy = policy


def call(operation: Operation[T], policy: RetryPolicy) -> Plan[T]:
    """The plan of any generated operation: one request, retried as `policy` allows."""
    return with_retries(Call(operation), policy)


Execute = Callable[[Call[object], float | None], object]  # (call, seconds left) -> result


class _Deadline:
    """A call's overall time bound, retries and back-off included, on the monotonic clock."""

    def __init__(self, seconds: float | None, clock: Callable[[], float]) -> None:
        self.seconds = seconds
        self._clock = clock
        self._ends = None if seconds is None else clock() + seconds
        # Set by the first check: every plan's first step is a Call (a Sleep only follows one).
        self._last: Call[object]
        self._failure: SequenceClientError | None = None
        self._maybe_applied = False

    def left(self) -> float | None:
        return None if self._ends is None else self._ends - self._clock()

    def check(self, step: Step) -> DeadlineExceededError | None:
        """The error to throw into the plan instead of taking `step`, if the deadline forbids it."""
        left = self.left()
        if left is None:
            return None
        if isinstance(step, Call):
            self._last = step
            if left > 0:
                return None
        elif step.seconds < left:
            return None
        return self._exceeded()

    def failed(self, error: SequenceClientError) -> None:
        self._failure = error
        self._maybe_applied = self._maybe_applied or error.maybe_applied

    def _exceeded(self) -> DeadlineExceededError:
        request = self._last.operation.request  # every operation's request has both
        error = DeadlineExceededError(
            f"deadline of {self.seconds:g}s reached (retries and back-off included)",
            method=str(request["method"]).upper(),
            url=str(request["url"]),
            maybe_applied=self._maybe_applied,
        )
        error.__cause__ = self._failure  # what kept the call from finishing in time
        return error


def _shared_pause(error: SequenceClientError, max_pause: float) -> float:
    """The wait a 429 or 503 asked for, which every user of the rate limit should wait out
    (0: none). A longer wait than the retry policy honours is not imposed on everyone."""
    asked = isinstance(error, RateLimitError) or (
        isinstance(error, ServerError) and error.status_code == 503
    )
    wait = error.retry_after if isinstance(error, APIStatusError) else None
    return wait if asked and wait is not None and wait <= max_pause else 0.0


def run_sync(
    plan: Plan[T],
    execute: Execute,
    *,
    deadline: float | None = None,
    limiter: RateLimit | None = None,
    max_pause: float = MAX_RETRY_AFTER,
    stats: _telemetry.ClientStats | None = None,
) -> T:
    """Drive `plan`. With a `limiter`, every Call (each retry too) first waits for its slot,
    here and before a connection is taken, inside the deadline; a shared Retry-After is passed
    on to the limiter. The whole run is one call for `_telemetry` (its span, its counters)."""
    with _telemetry.call(stats):
        return _drive_sync(plan, execute, deadline, limiter, max_pause)


def _drive_sync(
    plan: Plan[T],
    execute: Execute,
    deadline: float | None,
    limiter: RateLimit | None,
    max_pause: float,
) -> T:
    bound = _Deadline(deadline, _clock.current().monotonic)
    result: object = None
    error: SequenceClientError | None = None
    while True:
        try:
            step = plan.send(result) if error is None else plan.throw(error)
        except StopIteration as done:
            return cast(T, done.value)
        result, error = None, bound.check(step)
        if error is not None:
            continue
        try:
            if isinstance(step, Sleep):
                _clock.current().sleep(step.seconds)
                continue
            if limiter is not None:
                while (wait := limiter.wait_time()) > 0:
                    if (error := bound.check(Sleep(wait))) is not None:
                        break
                    _telemetry.limiter_waited(wait)
                    _clock.current().sleep(wait)
                if error is not None:
                    continue
            result = execute(step, bound.left())
        except SequenceClientError as failure:
            bound.failed(failure)
            error = failure
            if limiter is not None and (pause := _shared_pause(failure, max_pause)) > 0:
                _telemetry.paused(pause, shared=True, status_code=_status(failure))
                limiter.pause_for(pause)


def _status(error: SequenceClientError) -> int:
    assert isinstance(error, APIStatusError)  # only a 429 or a 503 asks for a shared pause
    return error.status_code


async def run_async(
    plan: Plan[T],
    execute: Callable[[Call[object], float | None], Awaitable[object]],
    *,
    deadline: float | None = None,
    limiter: RateLimit | None = None,
    max_pause: float = MAX_RETRY_AFTER,
    stats: _telemetry.ClientStats | None = None,
) -> T:
    """`run_sync` on the event loop: cancelling the task cancels a limiter wait like any other."""
    with _telemetry.call(stats):
        return await _drive_async(plan, execute, deadline, limiter, max_pause)


async def _drive_async(
    plan: Plan[T],
    execute: Callable[[Call[object], float | None], Awaitable[object]],
    deadline: float | None,
    limiter: RateLimit | None,
    max_pause: float,
) -> T:
    bound = _Deadline(deadline, _clock.current().monotonic)
    result: object = None
    error: SequenceClientError | None = None
    while True:
        try:
            step = plan.send(result) if error is None else plan.throw(error)
        except StopIteration as done:
            return cast(T, done.value)
        result, error = None, bound.check(step)
        if error is not None:
            continue
        try:
            if isinstance(step, Sleep):
                await _clock.current().asleep(step.seconds)
                continue
            if limiter is not None:
                while (wait := await limiter.wait_time_async()) > 0:
                    if (error := bound.check(Sleep(wait))) is not None:
                        break
                    _telemetry.limiter_waited(wait)
                    await _clock.current().asleep(wait)
                if error is not None:
                    continue
            result = await execute(step, bound.left())
        except SequenceClientError as failure:
            bound.failed(failure)
            error = failure
            if limiter is not None and (pause := _shared_pause(failure, max_pause)) > 0:
                _telemetry.paused(pause, shared=True, status_code=_status(failure))
                await limiter.pause_for_async(pause)
