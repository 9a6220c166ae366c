"""A clock that moves only when the code under test sleeps: retries, deadlines and rate-limit
waits run instantly and can be asserted exactly."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from sequence_clients import _plan


class VirtualClock:
    """Stands in for `time` and `asyncio` inside _plan (and, where a test patches it, for the
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
    monkeypatch.setattr(_plan, "time", SimpleNamespace(sleep=clock.sleep, monotonic=clock.time))
    monkeypatch.setattr(_plan, "asyncio", SimpleNamespace(sleep=clock.asleep))
    return clock
