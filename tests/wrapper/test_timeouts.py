"""Every network call has a timeout: the configured ones are sent with each request, connecting
is bounded, and an unanswered request or a full connection pool ends at its timeout."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest
from twin_harness import Twin
from virtual_clock import VirtualClock, drive_plans_and_limits_with
from wrapper_helpers import SEQUENCE_ID, Action, AsyncHttp, SocketServer, elapsed, paused, timeouts

from sequence_clients import (
    AsyncUnifyClient,
    RetryPolicy,
    errors,
)

FAST = RetryPolicy(base_delay=0.001, max_delay=0.01)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> VirtualClock:
    """One clock for the driver (monotonic, sleep) and the limiter (wall clock)."""
    return drive_plans_and_limits_with(monkeypatch, VirtualClock(start=1_800_000_000.0))


class Server:
    """Answers in order (the last one repeated), noting each request and when it arrived; each
    answer takes `takes` seconds of the virtual clock."""

    def __init__(self, clock: VirtualClock, *answers: httpx.Response, takes: float = 0.0) -> None:
        self.clock = clock
        self.answers = answers or (paused(),)
        self.takes = takes
        self.received: list[httpx.Request] = []
        self.arrivals: list[float] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.received.append(request)
        self.arrivals.append(self.clock.now)
        self.clock.now += self.takes
        answer = self.answers[min(len(self.received), len(self.answers)) - 1]
        # A fresh response each time: httpx binds a response to the request it answers.
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)


@contextlib.asynccontextmanager
async def serving(*actions: Action) -> AsyncIterator[SocketServer]:
    server = SocketServer(list(actions))
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    server.port = listener.sockets[0].getsockname()[1]
    try:
        yield server
    finally:
        listener.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(listener.wait_closed(), 1)


def client(http: httpx.AsyncClient, url: str, **options: object) -> AsyncUnifyClient:
    options.setdefault("retry_policy", FAST)
    return AsyncUnifyClient("key", base_url=url, httpx_client=http, **options)  # type: ignore[arg-type]


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
