"""Rate limits and quotas of the fakes, modelled the way each vendor states them.

Every limit is a fixed window per key: the first request of a key opens a window of `seconds`,
at most `requests` are answered in it, and a refused request is told (Retry-After) when the
window ends. That is the literal reading of "N requests per window" and how a counter with an
expiry (the usual gateway implementation, and `limits`' FixedWindowRateLimiter) behaves. It is
also the model under which the Retry-After a vendor sends is exact: under a sliding window the
answer would depend on when old requests age out, which no vendor here documents.

`limits` itself is not used: its storages read `time.time()`, and the sandbox needs its own
injectable clock (tests drive windows with a fake one, recordings freeze it).

Published limits (none of these numbers is in the OpenAPI documents; the sources are named):
- Unify: 100,000 requests per 5-minute window per API key (Unify's developer docs state it for
  the Data API, "rate-limited to 100,000 requests per five minute window"; issue 15 takes it as
  the Sequences API's too). The Bulk API adds, per key, about 100 query
  jobs per day, about 10 job-status requests per second and 5 results requests per second
  (issue 15; Unify's Bulk API guide asks for back-off rather than tight polling). Every refusal
  is the spec's 429 `{"status": "rate_limited", ...}`.
- Boast: publishes no limit, so by default nothing is limited. An explicit limit (e.g.
  `--rate-limit 100/5s`) applies to both vendors, the Bulk API quotas stay Unify's.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

VendorDefault = Literal["vendor"]
VENDOR: VendorDefault = "vendor"
_UNITS = {"": 1.0, "s": 1.0, "ms": 0.001, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}


@dataclass(frozen=True)
class RateLimit:
    """At most `requests` per fixed window of `seconds`."""

    requests: int
    seconds: float

    def __post_init__(self) -> None:
        if self.requests < 1 or self.seconds <= 0:
            raise ValueError(f"a rate limit needs requests >= 1 and seconds > 0, got {self}")

    @classmethod
    def parse(cls, text: str) -> RateLimit:
        """'100/5s', '100000/5m', '10/s', '333' (per second) -> RateLimit."""
        match = re.fullmatch(r"\s*(\d+)\s*(?:/\s*([0-9]*\.?[0-9]+)?\s*([a-z]*))?\s*", text)
        if not match or (match.group(3) or "") not in _UNITS:
            raise ValueError(f"not a rate limit: {text!r} (try 100000/5m or 100/5s)")
        seconds = float(match.group(2) or 1) * _UNITS[match.group(3) or ""]
        return cls(int(match.group(1)), seconds)

    def __str__(self) -> str:
        return f"{self.requests}/{self.seconds:g}s"


# Unify's published limit per API key.
UNIFY_LIMIT = RateLimit(100_000, 300.0)
# Bulk API quotas per API key.
JOBS_PER_DAY = RateLimit(100, 86_400.0)
STATUS_PER_SECOND = RateLimit(10, 1.0)
RESULTS_PER_SECOND = RateLimit(5, 1.0)


class FixedWindows:
    """One fixed window per key; `take(key)` is 0 when allowed, else seconds to the window's end."""

    def __init__(self, limit: RateLimit, clock: Callable[[], float]) -> None:
        self.limit = limit
        self._clock = clock
        self._windows: dict[str, tuple[float, int]] = {}  # key -> (window end, requests in it)
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        with self._lock:
            now = self._clock()
            end, used = self._windows.get(key, (now, 0))
            if now >= end:
                end, used = now + self.limit.seconds, 0
            if used >= self.limit.requests:
                self._windows[key] = (end, used)
                return end - now
            self._windows[key] = (end, used + 1)
            return 0.0


def retry_after(wait: float) -> int:
    """Whole seconds a client must wait: rounded up, so retrying then is never early."""
    return max(1, math.ceil(wait - 1e-9))


# Which Bulk API requests a quota counts: (method, path pattern, quota, what the 429 says).
_JOBS = r"/sequences/v1/(?:enrollments|enrollment-steps)/query-jobs"
UNIFY_QUOTAS: tuple[tuple[str, re.Pattern[str], RateLimit, str], ...] = (
    ("POST", re.compile(_JOBS), JOBS_PER_DAY, "Daily query job quota exceeded"),
    ("GET", re.compile(_JOBS + r"/[^/]+"), STATUS_PER_SECOND, "Too many job status requests"),
    ("GET", re.compile(_JOBS + r"/[^/]+/results"), RESULTS_PER_SECOND, "Too many results requests"),
)


@dataclass(frozen=True)
class Refusal:
    """A request over a limit: how long until it would be allowed, and what the 429 says."""

    wait: float
    message: str


class VendorLimits:
    """A vendor's request limit (per key) plus its endpoint quotas, checked in that order."""

    def __init__(
        self,
        limit: RateLimit | None,
        quotas: tuple[tuple[str, re.Pattern[str], RateLimit, str], ...],
        clock: Callable[[], float],
    ) -> None:
        self._all = FixedWindows(limit, clock) if limit is not None else None
        self._quotas = [
            (method, pattern, FixedWindows(quota, clock), message)
            for method, pattern, quota, message in quotas
        ]

    def check(self, key: str, method: str, path: str) -> Refusal | None:
        if self._all is not None:
            wait = self._all.take(key)
            if wait > 0:
                return Refusal(wait, "Too many requests")
        for quota_method, pattern, windows, message in self._quotas:
            if method == quota_method and pattern.fullmatch(path):
                wait = windows.take(key)
                if wait > 0:
                    return Refusal(wait, message)
        return None

    @property
    def active(self) -> bool:
        return self._all is not None or bool(self._quotas)


def vendor_limits(
    vendor: str, setting: RateLimit | str | None, clock: Callable[[], float]
) -> VendorLimits | None:
    """The limits a vendor's fake enforces for a SandboxConfig.rate_limit setting.

    "vendor": the published limits (Unify's window and Bulk quotas; nothing for Boast).
    A RateLimit: that window for both vendors, plus Unify's Bulk quotas (a scaled-down model).
    None (`--rate-limit off`): nothing is limited.
    """
    if setting is None:
        return None
    quotas = UNIFY_QUOTAS if vendor == "unify" else ()
    if isinstance(setting, RateLimit):
        limit: RateLimit | None = setting
    elif setting == VENDOR:
        limit = UNIFY_LIMIT if vendor == "unify" else None
    else:
        limit = RateLimit.parse(setting)
    limits = VendorLimits(limit, quotas, clock)
    return limits if limits.active else None
