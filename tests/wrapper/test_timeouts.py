"""Every network call has a timeout: the configured ones are sent with each request, connecting
is bounded, and an unanswered request or a full connection pool ends at its timeout."""

from __future__ import annotations

import asyncio
import contextlib

import httpx
import pytest
from twin_harness import Twin
from virtual_clock import VirtualClock
from wrapper_helpers import (
    SEQUENCE_ID,
    AsyncHttp,
    Server,
    client,
    elapsed,
    serving,
    timeouts,
)

from sequence_clients import (
    errors,
)


@pytest.mark.parametrize(
    ("seconds", "sent"),
    [
        (10, {"connect": 5.0, "read": 10.0, "write": 10.0, "pool": 10.0}),  # connecting: 5 s at most
        (2.5, {"connect": 2.5, "read": 2.5, "write": 2.5, "pool": 2.5}),
        (None, {"connect": 5.0, "read": 30.0, "write": 30.0, "pool": 30.0}),  # the default
    ],
)  # fmt: skip
async def test_a_timeout_in_seconds_bounds_connecting_to_five_at_most(
    twin: Twin, clock: VirtualClock, seconds: float | None, sent: dict[str, float]
) -> None:
    server = Server(clock)
    client = twin(server, timeout=seconds)
    await client.pause()
    assert timeouts(server.received[0]) == sent


async def test_without_a_deadline_the_timeouts_are_sent_as_configured(
    twin: Twin, clock: VirtualClock
) -> None:
    server = Server(clock, takes=5.0)
    timeout = httpx.Timeout(connect=0.5, read=20.0, write=0.9, pool=None)
    client = twin(server, timeout=timeout)
    await client.pause()
    await client.pause()
    for request in server.received:
        assert timeouts(request) == {"connect": 0.5, "read": 20.0, "write": 0.9, "pool": None}


async def test_an_unanswered_request_ends_at_its_read_timeout(async_http: AsyncHttp) -> None:
    async with serving("hang") as server:
        unify = client(async_http(), server.url, max_retries=0, timeout=httpx.Timeout(5, read=0.3))
        took, error = await elapsed(unify.pause_sequence(SEQUENCE_ID))
    assert isinstance(error, errors.APITimeoutError)
    assert error.maybe_applied is True
    assert 0.25 <= took < 2.5


async def test_waiting_for_a_pooled_connection_ends_at_the_pool_timeout_unsent(
    async_http: AsyncHttp,
) -> None:
    async with serving("hang") as server:
        http = async_http(limits=httpx.Limits(max_connections=1))
        unify = client(http, server.url, max_retries=0, timeout=httpx.Timeout(5, pool=0.3))
        holder = asyncio.create_task(unify.pause_sequence(SEQUENCE_ID))
        while not server.requests:  # the one connection is now busy
            await asyncio.sleep(0.01)
        took, error = await elapsed(unify.pause_sequence(SEQUENCE_ID))
        holder.cancel()
        with contextlib.suppress(BaseException):
            await holder
    assert isinstance(error, errors.APITimeoutError)
    assert error.maybe_applied is False
    assert took < 2.5
    assert len(server.requests) == 1
