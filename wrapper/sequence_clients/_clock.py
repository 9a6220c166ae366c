"""The one clock the request path reads and sleeps on.

Back-off, `Retry-After` pauses, rate-limit waits and the call's deadline all go through
`current()`, so one switch (`use`) replaces every wait at once: the testing kit's instant clock
and the test suite's virtual clock are both just another `Clock`.

`monotonic()` measures waits and deadlines; `time()` is wall time, which the rate limiter's
windows and pauses are kept in (Redis shares them between machines, so they must be epoch
seconds). A clock without `time()` (one written against the older protocol) still works: the
rate limiter then reads the process's wall clock (`wall_time`), as the testing kit's
`InstantClock` does.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol, runtime_checkable


class Clock(Protocol):
    def monotonic(self) -> float: ...
    def sleep(self, seconds: float) -> None: ...
    async def asleep(self, seconds: float) -> None: ...


@runtime_checkable
class WallClock(Clock, Protocol):
    """A clock that also tells wall time: the rate limiter's windows then follow it too."""

    def time(self) -> float: ...


class RealClock:
    """The process's monotonic and wall clocks and real sleeps."""

    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    async def asleep(self, seconds: float) -> None:
        import asyncio  # here: a sync-only user never pays asyncio's import

        await asyncio.sleep(seconds)


REAL = RealClock()
_current: Clock = REAL


def current() -> Clock:
    """The clock in force now (read at every use, so a switch reaches calls already running)."""
    return _current


def wall_time() -> float:
    """Wall time (epoch seconds) by the clock in force; the real one for a clock without it."""
    # `getattr`, not `isinstance(clock, WallClock)`: a runtime protocol check looks up every
    # member each time, and the rate limiter asks twice per request.
    told = getattr(_current, "time", None)
    return float(told()) if callable(told) else time.time()


def set_clock(clock: Clock | None) -> None:
    """Put `clock` in force for the whole process; None puts the real clock back."""
    global _current
    _current = REAL if clock is None else clock


@contextmanager
def use(clock: Clock) -> Iterator[Clock]:
    """`clock` in force inside the block; whatever was in force before comes back after it."""
    before = _current
    set_clock(clock)
    try:
        yield clock
    finally:
        set_clock(before)
