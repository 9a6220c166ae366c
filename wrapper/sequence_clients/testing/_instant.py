"""The testing switch: back-off, Retry-After and rate-limit waits become instant, and counted.

Like stamina's `set_testing`: a service's tests call `set_testing(True)` (or use it as a context
manager, or take the plugin's `instant_waits` fixture) and its retries run at once. Each wait
still happens on the request path's clock (`sequence_clients._clock`), which moves forward by the
wait, so a call's `deadline` runs out exactly as it would have.
"""

from __future__ import annotations

import asyncio
import threading
import time
from types import TracebackType

from .. import _clock


class InstantClock:
    """A `_clock.Clock` whose sleeps return at once and are recorded in `waits`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waits: list[float] = []
        self._skipped = 0.0

    @property
    def waits(self) -> list[float]:
        """Every wait taken so far, in seconds, in order (a copy)."""
        with self._lock:
            return list(self._waits)

    @property
    def waited(self) -> float:
        """The seconds the code under test would have slept."""
        with self._lock:
            return sum(self._waits)

    def clear(self) -> None:
        with self._lock:
            self._waits.clear()

    def monotonic(self) -> float:
        with self._lock:
            return time.monotonic() + self._skipped

    def time(self) -> float:
        """Wall time moved by every skipped wait too, so a client's own `rate_limit=` window
        opens after a skipped wait as it would after a real one."""
        with self._lock:
            return time.time() + self._skipped

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self._waits.append(seconds)
            self._skipped += max(seconds, 0.0)

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)
        await asyncio.sleep(0)  # still a suspension point, as a real sleep is

    def __repr__(self) -> str:
        return f"InstantClock(waits={len(self.waits)}, waited={self.waited:g}s)"


class TestingSwitch:
    """What `set_testing` returns: the clock in force, and a context manager that puts the
    previous clock back on exit."""

    __test__ = False  # not a test class, whatever pytest's collection thinks of the name

    def __init__(self, clock: InstantClock | None, before: _clock.Clock) -> None:
        self.clock = clock
        self._before = before

    def __enter__(self) -> InstantClock | None:
        return self.clock

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        _clock.set_clock(self._before)


def set_testing(testing: bool) -> TestingSwitch:
    """`True`: every wait of every client in this process is instant and counted (see
    `counted_waits`); `False`: real waits again. Returns a context manager restoring the
    previous state: `with set_testing(True) as clock: ...; clock.waits`."""
    before = _clock.current()
    clock = InstantClock() if testing else None
    _clock.set_clock(clock)
    return TestingSwitch(clock, before)


def is_testing() -> bool:
    return isinstance(_clock.current(), InstantClock)


def counted_waits() -> list[float]:
    """The waits skipped since testing was switched on ([] when it is off)."""
    clock = _clock.current()
    return clock.waits if isinstance(clock, InstantClock) else []
