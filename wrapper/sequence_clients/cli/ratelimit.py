"""Client-side rate limiting, so that the vendor's 429s stay the exception.

A GCRA (virtual scheduling) limiter: each acquire reserves the next free slot, spaced 1/rate
apart, and sleeps until it. With a burst of 1 requests leave evenly spaced; a larger burst lets
a caller catch up on slots lost to a pause (bulk-enroll allows a tenth of a second's worth).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

_UNITS = {"": 1.0, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}
# Unify publishes 100,000 requests per 5 minutes.
UNIFY_RATE = 100_000 / 300


def parse_rate(text: str) -> float:
    """'333/s', '333', '100000/5m', '100000/300s' -> requests per second."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(?:/\s*([0-9]*\.?[0-9]+)?\s*([a-z]*))?\s*", text)
    if not match or (match.group(3) or "") not in _UNITS:
        raise ValueError(f"not a rate: {text!r} (try 333/s or 100000/5m)")
    count = float(match.group(1))
    window = float(match.group(2) or 1) * _UNITS[match.group(3) or ""]
    if count <= 0 or window <= 0:
        raise ValueError(f"rate must be positive: {text!r}")
    return count / window


class RateLimiter:
    """At most `rate` acquisitions per second on average, `burst` at once."""

    def __init__(
        self,
        rate: float,
        burst: float = 1.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = rate
        self._interval = 1.0 / rate
        self._tolerance = (burst - 1.0) * self._interval
        self._clock = clock
        self._sleep = sleep
        self._next = clock()  # theoretical arrival time of the next request

    async def acquire(self) -> None:
        # No await between reading and advancing `_next`: asyncio makes the reservation atomic.
        now = self._clock()
        slot = max(self._next, now)
        self._next = slot + self._interval
        wait = slot - self._tolerance - now  # up to `burst` slots may be taken early
        if wait > 0:
            await self._sleep(wait)

    async def httpx_hook(self, request: Any) -> None:
        """An httpx `request` event hook: every attempt, retries included, takes a slot."""
        await self.acquire()
