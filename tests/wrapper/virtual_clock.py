"""A clock that moves only when the code under test sleeps: retries, deadlines and rate-limit
waits run instantly and can be asserted exactly."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

import limits.storage.memory
import pytest

from sequence_clients import _clock, _ratelimit
from sequence_clients._ratelimit import RateLimit


class VirtualClock:
    """The request path's clock (`_clock`) (and, where a test patches it, for the
    wall clock of the rate limiter: `start` then looks like a real epoch time)."""

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
    monkeypatch.setattr(_clock, "_current", clock)
    return clock


def drive_plans_and_limits_with(
    monkeypatch: pytest.MonkeyPatch, clock: VirtualClock
) -> VirtualClock:
    """`drive_plans_with`, and the rate limiter's wall clock too (ours and limits' memory
    storage), so a wait for a slot is a virtual sleep like any other."""
    drive_plans_with(monkeypatch, clock)
    monkeypatch.setattr(_ratelimit, "time", SimpleNamespace(time=clock.time))
    monkeypatch.setattr(limits.storage.memory, "time", SimpleNamespace(time=clock.time))
    return clock


def fresh_limit(text: str) -> RateLimit:
    """A window of its own for one test (the string form shares one per process and key)."""
    return RateLimit(text, key=f"test-{uuid.uuid4()}")
