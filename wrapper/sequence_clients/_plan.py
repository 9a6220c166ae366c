"""Request plans: the logic both twins (sync and async) and both vendors share, written once.

A plan is a generator that yields operations — `Call` (one HTTP request through a generated
endpoint) or `Sleep` — and receives each result, or has the typed error thrown into it. `run_sync`
and `run_async` are the only places that do I/O. Retries are a plan too (`with_retries`), driven by
tenacity's own retry state machine, so backoff, stop and logging are tenacity's, not ours.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Awaitable, Callable, Generator
from types import ModuleType
from typing import Any, TypeVar

import attrs
import tenacity

from .errors import (
    APIConnectionError,
    APIStatusError,
    RateLimitError,
    SequenceClientError,
    ServerError,
    UnexpectedResponseError,
)

T = TypeVar("T")
logger = logging.getLogger("sequence_clients")

RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


@attrs.frozen
class Call:
    """One request through a generated endpoint module (`<pkg>.api.<tag>.<operation_id>`),
    made by its `sync_detailed` or `asyncio_detailed` with `kwargs`."""

    endpoint: ModuleType
    kwargs: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class Sleep:
    seconds: float


Operation = Call | Sleep
Plan = Generator[Operation, Any, T]


@attrs.frozen
class RetryPolicy:
    """Exponential backoff with full jitter, honouring the server's requested wait."""

    max_retries: int = 4
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_retry_after: float = 120.0  # a longer requested wait is raised at once, not slept through

    def is_retryable(self, error: BaseException) -> bool:
        if isinstance(error, APIConnectionError):
            return True
        if isinstance(error, UnexpectedResponseError):
            return error.truncated
        if isinstance(error, APIStatusError) and error.status_code in RETRYABLE_STATUSES:
            return error.retry_after is None or error.retry_after <= self.max_retry_after
        return False

    def retrying(self) -> tenacity.Retrying:
        jitter = tenacity.wait_random_exponential(multiplier=self.base_delay, max=self.max_delay)

        def wait(state: tenacity.RetryCallState) -> float:
            error = state.outcome.exception() if state.outcome else None
            if isinstance(error, RateLimitError | ServerError) and error.retry_after is not None:
                return error.retry_after
            return jitter(state)

        return tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.max_retries + 1),
            wait=wait,
            retry=tenacity.retry_if_exception(self.is_retryable),
            before_sleep=_log_retry,
            reraise=True,
        )


def _log_retry(state: tenacity.RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    method = getattr(error, "method", "?")
    url = getattr(error, "url", "?")
    reason = type(error).__name__
    if isinstance(error, APIStatusError):
        reason += f" {error.status_code}"
    wait = state.upcoming_sleep
    logger.info(
        "retrying %s %s: attempt %d failed (%s); waiting %.2fs",
        method, url, state.attempt_number, reason, wait,
        extra={"method": method, "url": url, "attempt": state.attempt_number, "wait": wait, "reason": reason},
    )  # fmt: skip


def with_retries(
    call: Call,
    policy: RetryPolicy,
    *,
    failures: list[SequenceClientError] | None = None,
    before_retry: Callable[[SequenceClientError], Plan[T | None]] | None = None,
) -> Plan[Any]:
    """Make `call`, retrying what `policy` allows.

    Every failed attempt is appended to `failures`. Before a retry that follows a failure which
    may have been applied (`maybe_applied`), `before_retry` runs; a non-None result ends the
    retries with that result — the hook that keeps a retried create from creating twice.
    """
    retrying = policy.retrying()
    retrying.begin()
    state = tenacity.RetryCallState(retry_object=retrying, fn=None, args=(), kwargs={})
    last_error: SequenceClientError | None = None
    while True:
        action = retrying.iter(retry_state=state)
        if isinstance(action, tenacity.DoAttempt):
            if last_error is not None and last_error.maybe_applied and before_retry is not None:
                resolved = yield from before_retry(last_error)
                if resolved is not None:
                    return resolved
            try:
                result = yield call
            except SequenceClientError as error:
                last_error = error
                if failures is not None:
                    failures.append(error)
                state.set_exception(sys.exc_info())  # type: ignore[arg-type]
            else:
                state.set_result(result)
        elif isinstance(action, tenacity.DoSleep):
            state.prepare_for_next_attempt()
            yield Sleep(float(action))
        else:
            return action


def run_sync(plan: Plan[T], execute: Callable[[Call], Any]) -> T:
    result: Any = None
    error: SequenceClientError | None = None
    while True:
        try:
            operation = plan.send(result) if error is None else plan.throw(error)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        result, error = None, None
        try:
            if isinstance(operation, Sleep):
                time.sleep(operation.seconds)
            else:
                result = execute(operation)
        except SequenceClientError as failure:
            error = failure


async def run_async(plan: Plan[T], execute: Callable[[Call], Awaitable[Any]]) -> T:
    result: Any = None
    error: SequenceClientError | None = None
    while True:
        try:
            operation = plan.send(result) if error is None else plan.throw(error)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        result, error = None, None
        try:
            if isinstance(operation, Sleep):
                await asyncio.sleep(operation.seconds)
            else:
                result = await execute(operation)
        except SequenceClientError as failure:
            error = failure
