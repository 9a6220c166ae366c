"""The limiter on its own, in one process: limit strings, the moving window, pauses, secrets."""

from __future__ import annotations

import time

import pytest

from sequence_clients._ratelimit import RateLimit, parse_limit
from sequence_clients.errors import InvalidRequestError


@pytest.mark.parametrize(
    ("text", "expected"),
    [("100000/5m", (100_000, 300)), ("333/s", (333, 1)), ("333/1s", (333, 1)),
     ("600 / 1h", (600, 3600)), ("10/2min", (10, 120))],
)  # fmt: skip
def test_limit_strings(text: str, expected: tuple[int, int]) -> None:
    assert parse_limit(text) == expected


@pytest.mark.parametrize("text", ["", "100000", "0/s", "10/0s", "1.5/s", "10/5w", "fast"])
def test_a_bad_limit_is_a_typed_error_naming_it(text: str) -> None:
    with pytest.raises(InvalidRequestError, match="rate limit"):
        RateLimit(text)


def test_an_unknown_storage_is_a_typed_error_without_the_password() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        RateLimit("10/s", "memcached://user:hunter2@cache:11211")
    assert "hunter2" not in str(caught.value)


def test_repr_hides_the_storage_password() -> None:
    limiter = RateLimit("10/s", "redis://:hunter2@redis.internal:6379/0", key="unify")
    assert "hunter2" not in repr(limiter)
    assert "redis.internal:6379" in repr(limiter)


def test_memory_window_grants_the_limit_then_says_how_long_to_wait() -> None:
    limiter = RateLimit("5/1s")
    assert [limiter.wait_time() for _ in range(5)] == [0.0] * 5
    wait = limiter.wait_time()
    assert 0 < wait <= 1.0
    time.sleep(wait)
    assert limiter.wait_time() == 0.0  # the oldest slot has left the window


def test_a_pause_delays_without_spending_slots() -> None:
    limiter = RateLimit("3/1s")
    limiter.pause_for(0.3)
    assert 0.2 < limiter.wait_time() <= 0.3
    time.sleep(0.3)
    assert [limiter.wait_time() for _ in range(3)] == [0.0] * 3


def test_a_shorter_pause_does_not_cut_a_longer_one() -> None:
    limiter = RateLimit("3/1s")
    limiter.pause_for(0.5)
    limiter.pause_for(0.1)
    assert limiter.wait_time() > 0.4


async def test_async_memory_limit_is_the_same_window_as_sync() -> None:
    limiter = RateLimit("4/1s")
    assert limiter.wait_time() == 0.0
    assert limiter.wait_time() == 0.0
    assert [await limiter.wait_time_async() for _ in range(2)] == [0.0, 0.0]
    assert await limiter.wait_time_async() > 0
    await limiter.pause_for_async(0.4)
    assert limiter.wait_time() > 0.3
