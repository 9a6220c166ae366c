"""The client's own lifecycle and the answers it reads: a closed client, an async client on a
second event loop, a body that never ends or is too big — each a typed error saying what to do,
in bounded time and memory."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import tracemalloc
import uuid
from collections.abc import Iterator

import httpx
import pytest
from virtual_clock import VirtualClock, drive_plans_with

from sequence_clients import AsyncUnifyClient, BoastClient, RetryPolicy, UnifyClient, errors
from sequence_clients._pipeline import DEADLINE_EXTENSION

SEQUENCE_ID = uuid.UUID("3d1f0e2c-5b4a-4c3d-9e8f-7a6b5c4d3e2f")


def sequence_answer(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"status": "success", "sequences": [], "next_cursor": None})


async def listed(client: AsyncUnifyClient) -> list[object]:
    return [sequence async for sequence in client.list_sequences()]


# --- lifecycle -----------------------------------------------------------------------------------


def test_a_call_on_a_closed_client_says_so() -> None:
    unify = UnifyClient(
        "key", httpx_client=httpx.Client(transport=httpx.MockTransport(sequence_answer))
    )
    assert list(unify.list_sequences()) == []
    unify.close()
    with pytest.raises(errors.ClientClosedError):
        list(unify.list_sequences())
    own = UnifyClient("key")
    with own:
        pass
    with pytest.raises(errors.ClientClosedError) as raised:
        own.list_sequences().pages().__next__()
    assert isinstance(raised.value, errors.ClientLifecycleError)


def test_a_closed_httpx_client_of_the_callers_is_a_typed_error() -> None:
    http = httpx.Client(transport=httpx.MockTransport(sequence_answer))
    unify = UnifyClient("key", httpx_client=http)
    http.close()
    with pytest.raises(errors.ClientClosedError, match="httpx_client"):
        list(unify.list_sequences())


def test_an_async_client_on_a_second_event_loop_says_what_to_do() -> None:
    async def answer(request: httpx.Request) -> httpx.Response:
        return sequence_answer(request)

    unify = AsyncUnifyClient(
        "key", httpx_client=httpx.AsyncClient(transport=httpx.MockTransport(answer))
    )
    assert asyncio.run(listed(unify)) == []
    with pytest.raises(errors.EventLoopMismatchError) as raised:
        asyncio.run(listed(unify))
    assert "inside the loop" in str(raised.value)


def test_an_async_client_of_its_own_on_a_second_loop_and_after_close() -> None:
    async def use(client: AsyncUnifyClient) -> None:
        with pytest.raises(errors.APIConnectionError):  # nothing listens there
            await client.get_sequence(SEQUENCE_ID)

    unify = AsyncUnifyClient("key", base_url="http://127.0.0.1:9", max_retries=0)
    asyncio.run(use(unify))
    with pytest.raises(errors.EventLoopMismatchError):
        asyncio.run(unify.get_sequence(SEQUENCE_ID))

    async def closed_then_used() -> None:
        async with AsyncUnifyClient("key", base_url="http://127.0.0.1:9") as client:
            pass
        with pytest.raises(errors.ClientClosedError):
            await client.get_sequence(SEQUENCE_ID)

    asyncio.run(closed_then_used())


# --- bodies --------------------------------------------------------------------------------------


class EndlessBody:
    """A loopback HTTP server whose every answer is a 200 with a chunked body that never ends:
    `pause` seconds between chunks of `chunk` bytes."""

    def __init__(self, chunk: int, pause: float) -> None:
        self._chunk, self._pause = chunk, pause
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self.sent = 0
        self._stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(connection,), daemon=True).start()

    def _answer(self, connection: socket.socket) -> None:
        with connection:
            connection.recv(65536)
            head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
            piece = b"%x\r\n%s\r\n" % (self._chunk, b" " * self._chunk)
            try:
                connection.sendall(head + b"%x\r\n[\r\n" % 1)
                while not self._stop.is_set():
                    connection.sendall(piece)
                    self.sent += self._chunk
                    if self._pause:
                        time.sleep(self._pause)
            except OSError:  # the client hung up: what we want
                return

    def close(self) -> None:
        self._stop.set()
        self._server.close()


@pytest.fixture
def trickling() -> Iterator[EndlessBody]:
    server = EndlessBody(chunk=1024, pause=0.02)
    yield server
    server.close()


@pytest.fixture
def flooding() -> Iterator[EndlessBody]:
    server = EndlessBody(chunk=64 * 1024, pause=0)
    yield server
    server.close()


def test_a_body_that_never_ends_stops_at_the_deadline(trickling: EndlessBody) -> None:
    unify = UnifyClient("key", base_url=f"http://127.0.0.1:{trickling.port}", deadline=3)
    started = time.monotonic()
    with unify, pytest.raises(errors.DeadlineExceededError) as raised:
        unify.get_sequence(SEQUENCE_ID)
    took = time.monotonic() - started
    assert 2.9 < took < 4.0
    assert raised.value.maybe_applied is True and trickling.sent > 0


async def test_an_async_body_that_never_ends_stops_at_the_deadline(trickling: EndlessBody) -> None:
    unify = AsyncUnifyClient("key", base_url=f"http://127.0.0.1:{trickling.port}", deadline=1)
    started = time.monotonic()
    async with unify:
        with pytest.raises(errors.DeadlineExceededError):
            await unify.get_sequence(SEQUENCE_ID)
    assert 0.9 < time.monotonic() - started < 2.0


def test_a_flood_stops_at_max_response_bytes_in_bounded_memory(flooding: EndlessBody) -> None:
    limit = 4 * 1024 * 1024
    unify = UnifyClient(
        "key", base_url=f"http://127.0.0.1:{flooding.port}", deadline=3, max_response_bytes=limit
    )
    tracemalloc.start()
    try:
        with unify, pytest.raises(errors.ResponseTooLargeError) as raised:
            unify.get_sequence(SEQUENCE_ID)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert raised.value.limit == limit and raised.value.status_code == 200
    assert peak < 3 * limit  # the chunks kept, and one copy: never the whole flood


def test_a_declared_length_over_the_cap_is_refused_before_reading() -> None:
    big = httpx.Response(200, headers={"content-length": str(10**12)}, content=b"")
    http = httpx.Client(transport=httpx.MockTransport(lambda request: big))
    with pytest.raises(errors.ResponseTooLargeError):
        UnifyClient("key", httpx_client=http, max_retries=3).get_sequence(SEQUENCE_ID)


@pytest.mark.parametrize("limit", [0, -1, 1.5, True])
def test_max_response_bytes_must_be_a_positive_int(limit: object) -> None:
    with pytest.raises(errors.InvalidRequestError, match="max_response_bytes"):
        UnifyClient("key", max_response_bytes=limit)  # type: ignore[arg-type]
    with pytest.raises(errors.InvalidRequestError, match="max_response_bytes"):
        BoastClient(access_token="t", max_response_bytes=limit)  # type: ignore[arg-type]


def test_with_options_changes_max_response_bytes() -> None:
    body = b'{"status": "success", "data": ' + b" " * 2000 + b'{"id": "x"}}'
    http = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(200, content=body)))
    unify = UnifyClient("key", httpx_client=http, max_response_bytes=1000)
    with pytest.raises(errors.ResponseTooLargeError):
        unify.get_sequence(SEQUENCE_ID)
    roomy = unify.with_options(max_response_bytes=10_000)
    with pytest.raises(errors.UnexpectedResponseError):  # read whole, then judged by the spec
        roomy.get_sequence(SEQUENCE_ID)


# --- the deadline travels with each request ------------------------------------------------------


@pytest.mark.parametrize("deadline", [None, 5.0])
def test_every_request_carries_when_its_calls_deadline_ends(
    deadline: float | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What an auth flow reads to bound a token refresh by the call's deadline."""
    clock = drive_plans_with(monkeypatch, VirtualClock(start=100.0))
    seen: list[httpx.Request] = []
    answers = iter([httpx.Response(503), sequence_answer(httpx.Request("GET", "/"))])

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return next(answers)

    http = httpx.Client(transport=httpx.MockTransport(answer))
    policy = RetryPolicy(base_delay=0.5, max_delay=0.5)
    with UnifyClient("key", httpx_client=http, deadline=deadline, retry_policy=policy) as unify:
        list(unify.list_sequences())
    ends = [request.extensions[DEADLINE_EXTENSION] for request in seen]
    assert len(ends) == 2 and clock.now > 100.0  # the retry slept on the call's clock
    expected = [None, None] if deadline is None else [pytest.approx(100.0 + deadline)] * 2
    assert ends == expected
