"""The client's own lifecycle: a closed client (or the caller's closed httpx client), an async
client on another event loop, a client used across `os.fork()`, a cancelled call, and bodies
that never end or are too big — each a typed error saying what to do, never a hang."""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator

import httpx
import pytest
from twin_harness import Twin
from wrapper_helpers import (
    PAUSE_PATH,
    PAUSED,
    SEQUENCE_ID,
    AsyncHttp,
    Streamed,
    answer,
    client,
    elapsed,
    sequence_answer,
    serving,
)

from sequence_clients import AsyncUnifyClient, BoastClient, UnifyClient, errors

CHILDREN = 4


CALLS = 60  # per process: with one socket shared, answers cross within a few


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def unify_sandbox() -> Iterator[dict[str, str]]:
    """`python -m sequence_clients.sandbox` as its own process; its banner's variables."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "sequence_clients.sandbox", "--port", str(port), "--seed", "5"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        fields: dict[str, str] = {}
        ends = time.monotonic() + 30
        while "UNIFY_API_KEY" not in fields and time.monotonic() < ends:
            line = process.stdout.readline()
            if line.startswith("export "):
                fields |= dict(w.split("=", 1) for w in line.split("#")[0].split()[1:])
        assert "UNIFY_API_KEY" in fields, f"no banner (exit code {process.poll()})"
        yield fields
    finally:
        process.kill()
        process.wait(timeout=10)


def crossed_answers(unify: UnifyClient, ids: list[str], seed: int) -> int:
    """How many of CALLS reads by id came back with another id."""
    chooser = random.Random(seed)
    crossed = 0
    for _ in range(CALLS):
        wanted = chooser.choice(ids)
        crossed += str(unify.get_sequence(wanted).id) != wanted
    return crossed


def in_children(work: Callable[[int], int]) -> list[int]:
    """Run `work(n)` in CHILDREN forked processes while the parent runs `work(0)`: each one's
    result (an exit status: 0 good, 1 wrong, 2 an exception, 3 a typed ForkedClientError)."""
    pids = []
    for n in range(1, CHILDREN + 1):
        pid = os.fork()
        if pid == 0:  # the child: never return into pytest
            try:
                status = work(n)
            except errors.ForkedClientError:
                status = 3
            except BaseException:
                status = 2
            os._exit(status)
        pids.append(pid)
    results = [work(0)]
    for pid in pids:
        _, status = os.waitpid(pid, 0)
        results.append(os.waitstatus_to_exitcode(status))
    return results


async def listed(client: AsyncUnifyClient) -> list[object]:
    return [sequence async for sequence in client.list_sequences()]


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


async def test_cancelling_a_call_waiting_for_its_answer_ends_it_and_the_client_goes_on(
    async_http: AsyncHttp,
) -> None:
    async with serving("hang", answer(200, PAUSED)) as server:
        unify = client(async_http(), server.url, max_retries=0)
        waiting = asyncio.create_task(unify.pause_sequence(SEQUENCE_ID))
        while not server.requests:
            await asyncio.sleep(0.01)
        waiting.cancel()
        took, error = await elapsed(waiting)
        assert isinstance(error, asyncio.CancelledError)
        assert took < 1.0
        again = await unify.pause_sequence(SEQUENCE_ID)
    assert again.id == SEQUENCE_ID


def test_a_client_used_before_fork_never_crosses_answers(unify_sandbox: dict[str, str]) -> None:
    unify = UnifyClient(
        unify_sandbox["UNIFY_API_KEY"], base_url=unify_sandbox["UNIFY_BASE_URL"], max_retries=0
    )
    ids = [str(sequence.id) for sequence in unify.list_sequences()]
    assert len(ids) > 1
    unify.get_sequence(ids[0])  # a kept-alive connection in the pool at the fork

    results = in_children(lambda n: 1 if crossed_answers(unify, ids, seed=n) else 0)

    assert results == [0] * (CHILDREN + 1)
    assert str(unify.get_sequence(ids[-1]).id) == ids[-1]  # the parent's pool still works
    unify.close()


def test_a_callers_httpx_client_in_a_child_is_a_typed_error(
    unify_sandbox: dict[str, str],
) -> None:
    http = httpx.Client()
    unify = UnifyClient(
        unify_sandbox["UNIFY_API_KEY"], base_url=unify_sandbox["UNIFY_BASE_URL"], httpx_client=http
    )
    ids = [str(sequence.id) for sequence in unify.list_sequences()]

    def read(n: int) -> int:
        return 1 if crossed_answers(unify, ids, seed=n) else 0

    results = in_children(read)
    assert results == [0] + [3] * CHILDREN  # the parent reads; every child is told why not
    http.close()


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


def test_a_declared_length_over_the_cap_is_refused_before_reading(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, headers={"content-length": str(10**12)}, content=b"")

    http = httpx.Client(transport=httpx.MockTransport(answer))
    unify = UnifyClient("key", httpx_client=http, max_retries=3, max_response_bytes=1000)
    with pytest.raises(errors.ResponseTooLargeError) as raised:
        unify.get_sequence(SEQUENCE_ID)
    error = raised.value
    url = f"https://api.unifygtm.com/sequences/v1/sequences/{SEQUENCE_ID}"
    assert (error.method, error.url, error.status_code, error.limit) == ("GET", url, 200, 1000)
    assert error.maybe_applied is True  # it was answered: it may have been applied
    assert len(sent) == 1  # the same request would get the same body: not retried
    # Operators see one warning naming the request and the limit, as fields too.
    (said,) = [
        r for r in caplog.records if getattr(r, "event", None) == "sequence_clients.body.too_large"
    ]
    assert said.levelno == logging.WARNING and said.limit == 1000  # type: ignore[attr-defined]
    assert "GET" in said.getMessage() and url in said.getMessage()


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "streamed"])
async def test_a_body_of_exactly_max_response_bytes_is_read_one_byte_more_is_not(
    twin: Twin, declared: bool
) -> None:
    """The limit is the largest body read: with its length declared up front, and streamed
    without one (counted as it comes, in chunks)."""
    body = PAUSED[:-1] + b" " * 40 + b"}"  # JSON whitespace: the same answer, 40 bytes longer

    def answer(request: httpx.Request) -> httpx.Response:
        if declared:
            return httpx.Response(200, content=body)  # content-length: len(body)
        return httpx.Response(200, stream=Streamed(body[:30], body[30:60], body[60:]))

    exact = twin(answer, max_retries=0, max_response_bytes=len(body))
    assert getattr(await exact.pause(), "is_paused", None) is True

    short = twin(answer, max_retries=0, max_response_bytes=len(body) - 1)
    with pytest.raises(errors.ResponseTooLargeError) as raised:
        await short.pause()
    error = raised.value
    url = f"https://api.unifygtm.com{PAUSE_PATH}"
    assert (error.method, error.url, error.status_code) == ("POST", url, 200)
    assert error.limit == len(body) - 1


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
