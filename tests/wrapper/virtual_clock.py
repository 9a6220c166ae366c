"""A clock that moves only when the code under test sleeps: retries, deadlines and rate-limit
waits run instantly and can be asserted exactly."""

from __future__ import annotations

import uuid

import pytest

from sequence_clients import _clock
from sequence_clients._ratelimit import RateLimit


class VirtualClock:
    """The request path's clock (`_clock`): monotonic time for waits and deadlines, wall time
    (`time()`) for the rate limiter's windows and pauses; both move only when code sleeps."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)

    def time(self) -> float:
        return self.now

    monotonic = time


def drive_plans_with(monkeypatch: pytest.MonkeyPatch, clock: VirtualClock) -> VirtualClock:
    """Put `clock` in force (the one switch every wait goes through) until the test ends."""
    monkeypatch.setattr(_clock, "_current", clock)
    return clock


# The rate limiter reads its wall time through the same clock: one switch drives both.
drive_plans_and_limits_with = drive_plans_with


def fresh_limit(text: str) -> RateLimit:
    """A window of its own for one test (the string form shares one per process and key)."""
    return RateLimit(text, key=f"test-{uuid.uuid4()}")
