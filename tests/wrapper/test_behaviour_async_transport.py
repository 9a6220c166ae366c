"""The async clients' promises on each HTTP transport (the `async_http` fixture: httpx's own and
aiohttp's), over real loopback sockets: the other async behaviour suites answer through
httpx.MockTransport, which replaces the transport, so only real connections tell the two apart.

Timeouts, the deadline, cancellation, Retry-After, the typed errors of a failed connection
(and whether the request may have been applied), proxies (given, and from the environment),
redirects refused, and enrollment through faults without a duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
import httpx
import pytest

from sequence_clients import AsyncUnifyClient, RetryPolicy, errors
from sequence_clients._aiohttp import typed_failure
from sequence_clients._transport import translate
from sequence_clients.sandbox import Sandbox

# The `async_http` fixture (conftest): an httpx.AsyncClient on the parametrized transport.
AsyncHttp = Callable[..., httpx.AsyncClient]
FAST = RetryPolicy(base_delay=0.001, max_delay=0.01)
SEQUENCE_ID = uuid.UUID("3d1f0e2c-5b4a-4c3d-9e8f-7a6b5c4d3e2f")
PAUSED = b'{"id": "3d1f0e2c-5b4a-4c3d-9e8f-7a6b5c4d3e2f", "is_paused": true}'
PAUSE_PATH = f"/sequences/v1/sequences/{SEQUENCE_ID}/pause"


def answer(status: int, body: bytes = b"{}", **headers: str) -> bytes:
    lines = [
        f"HTTP/1.1 {status} X",
        f"content-length: {len(body)}",
        "content-type: application/json",
    ]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


# What the server does with one request: bytes to answer, "close" (drop the connection after
# reading it), or "hang" (never answer).
Action = bytes | str


@dataclass
class Server:
    """A loopback HTTP/1.1 server playing `actions` in order (the last one repeated)."""

    actions: list[Action]
    requests: list[str] = field(default_factory=list)  # request lines, as received
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                length = next(
                    (int(line.split(":", 1)[1]) for line in lines
                     if line.lower().startswith("content-length:")),
                    0,
                )  # fmt: skip
                await reader.readexactly(length)
                self.requests.append(lines[0])
                action = self.actions[min(len(self.requests), len(self.actions)) - 1]
                if action == "close":
                    break
                if action == "hang":
                    await asyncio.sleep(3600)
                assert isinstance(action, bytes)
                writer.write(action)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()


@contextlib.asynccontextmanager
async def serving(*actions: Action) -> AsyncIterator[Server]:
    server = Server(list(actions))
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    server.port = listener.sockets[0].getsockname()[1]
    try:
        yield server
    finally:
        listener.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(listener.wait_closed(), 1)


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def elapsed(work: Awaitable[object]) -> tuple[float, BaseException | None]:
    start = time.monotonic()
    try:
        await work
    except BaseException as error:  # the test inspects it
        return time.monotonic() - start, error
    return time.monotonic() - start, None


def client(http: httpx.AsyncClient, url: str, **options: object) -> AsyncUnifyClient:
    options.setdefault("retry_policy", FAST)
    return AsyncUnifyClient("key", base_url=url, httpx_client=http, **options)  # type: ignore[arg-type]


# Typed errors of a failed connection ---------------------------------------------------------


async def test_a_refused_connection_is_a_connection_error_never_sent(
    async_http: AsyncHttp,
) -> None:
    unify = client(async_http(), f"http://127.0.0.1:{free_port()}", max_retries=0)
    with pytest.raises(errors.APIConnectionError) as raised:
        await unify.pause_sequence(SEQUENCE_ID)
    assert type(raised.value) is errors.APIConnectionError
    assert raised.value.maybe_applied is False
    assert raised.value.method == "POST"


@pytest.mark.parametrize("method", ["POST", "GET"])
async def test_a_connection_dropped_after_the_request_may_have_been_applied(
    async_http: AsyncHttp, method: str
) -> None:
    async with serving("close") as server:
        unify = client(async_http(), server.url, max_retries=0)
        call = unify.pause_sequence if method == "POST" else unify.get_sequence
        with pytest.raises(errors.APIConnectionError) as raised:
            await call(SEQUENCE_ID)
    assert type(raised.value) is errors.APIConnectionError  # not a timeout
    assert raised.value.maybe_applied is True
    assert len(server.requests) == 1  # sent once: no resend behind max_retries=0


async def test_a_dropped_connection_is_retried_and_the_retry_answers(
    async_http: AsyncHttp,
) -> None:
    async with serving("close", answer(200, PAUSED)) as server:
        unify = client(async_http(), server.url, max_retries=2)
        paused = await unify.pause_sequence(SEQUENCE_ID)
    assert paused.id == SEQUENCE_ID
    assert len(server.requests) == 2


# Timeouts, the deadline, cancellation --------------------------------------------------------


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


async def test_the_deadline_bounds_a_call_whose_timeouts_are_longer(
    async_http: AsyncHttp,
) -> None:
    async with serving("hang") as server:
        unify = client(async_http(), server.url, timeout=30.0, deadline=0.5, max_retries=3)
        took, error = await elapsed(unify.pause_sequence(SEQUENCE_ID))
    assert isinstance(error, errors.APITimeoutError)
    assert 0.4 <= took < 2.5


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


# Answers: Retry-After, redirects -------------------------------------------------------------


async def test_a_429_with_retry_after_is_waited_out_and_retried(async_http: AsyncHttp) -> None:
    refused = answer(429, b'{"status": "x", "message": "slow down"}', retry_after="1")
    async with serving(refused, answer(200, PAUSED)) as server:
        unify = client(async_http(), server.url, max_retries=2)
        took, error = await elapsed(unify.pause_sequence(SEQUENCE_ID))
    assert error is None
    assert len(server.requests) == 2
    assert 0.9 <= took < 5


async def test_a_redirect_is_an_error_and_its_target_never_asked(async_http: AsyncHttp) -> None:
    moved = answer(302, location="/elsewhere")
    async with serving(moved) as server:
        unify = client(async_http(), server.url, max_retries=0)
        with pytest.raises(errors.SequenceClientError) as raised:
            await unify.pause_sequence(SEQUENCE_ID)
    assert getattr(raised.value, "status_code", None) == 302
    assert [line.split()[1] for line in server.requests] == [PAUSE_PATH]


# Proxies ----------------------------------------------------------------------------------------

TARGET = "http://api.unify.test"  # never resolved: only the proxy is ever connected to


async def test_a_proxy_given_carries_every_request(async_http: AsyncHttp) -> None:
    async with serving(answer(200, PAUSED)) as proxy:
        unify = client(async_http(proxy=proxy.url), TARGET, allow_insecure_http=True)
        await unify.pause_sequence(SEQUENCE_ID)
    assert proxy.requests == [f"POST {TARGET}{PAUSE_PATH} HTTP/1.1"]


@pytest.mark.parametrize("trust_env", [True, False])
async def test_the_environments_proxy_is_used_only_with_trust_env(
    async_http: AsyncHttp, monkeypatch: pytest.MonkeyPatch, trust_env: bool
) -> None:
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    async with serving(answer(200, PAUSED)) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        # Direct, the target is a loopback server of its own.
        async with serving(answer(200, PAUSED)) as direct:
            target = TARGET if trust_env else direct.url
            unify = client(async_http(trust_env=trust_env), target, allow_insecure_http=True)
            await unify.pause_sequence(SEQUENCE_ID)
    assert len(proxy.requests) == (1 if trust_env else 0)
    assert len(direct.requests) == (0 if trust_env else 1)


# The whole path through faults ------------------------------------------------------------------


async def test_enrollments_through_resets_and_5xx_end_enrolled_once_each(
    async_http: AsyncHttp, make_sandbox: Callable[..., Sandbox]
) -> None:
    sandbox = make_sandbox(faults={"server_error": 0.1, "reset_after_commit": 0.1})
    state = sandbox.unify
    sequence_id = next(
        s["id"] for s in state.live_sequences() if state.active_enrollment_count(s["id"]) == 0
    )
    people = [p["id"] for p in state.people[:120]]
    mailbox = state.mailboxes[0]["email"]
    async with AsyncUnifyClient(
        sandbox.unify_api_key,
        base_url=sandbox.unify_base_url,
        httpx_client=async_http(),
        max_retries=10,
        retry_policy=FAST,
    ) as unify:
        limit = asyncio.Semaphore(8)

        async def enroll(person: str) -> str:
            async with limit:
                done = await unify.enroll(sequence_id, person, mailbox_emails=[mailbox])
                return str(done.person.id)

        enrolled = await asyncio.gather(*(enroll(p) for p in people))
    assert sorted(enrolled) == sorted(people)
    assert state.active_enrollment_count(sequence_id) == len(people)
    assert state.duplicate_active_enrollments() == []
    assert sandbox.stats.unify.faults["reset_after_commit"] > 0


# Failures no loopback server provokes on demand ------------------------------------------------


@pytest.mark.parametrize(
    ("raised", "kind", "never_sent"),
    [
        (aiohttp.ServerDisconnectedError(), errors.APIConnectionError, False),
        (aiohttp.ClientOSError(104, "reset"), errors.APIConnectionError, False),
        (aiohttp.ClientPayloadError("cut short"), errors.APIConnectionError, False),
        (aiohttp.ConnectionTimeoutError("connect"), errors.APITimeoutError, True),
        (aiohttp.SocketTimeoutError("read"), errors.APITimeoutError, False),
        (aiohttp.ClientError("other"), errors.APIConnectionError, False),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else str(value),
)
@pytest.mark.parametrize("wrapped", [False, True], ids=["raw", "as httpx-aiohttp maps it"])
def test_each_aiohttp_failure_is_the_typed_error_httpx_would_give(
    raised: Exception, kind: type[errors.APIConnectionError], never_sent: bool, wrapped: bool
) -> None:
    # httpx-aiohttp raises e.g. ConnectTimeout *from* a ServerDisconnectedError: the cause decides.
    failure: Exception = raised
    if wrapped:
        failure = httpx.ConnectTimeout("as mapped upstream")
        failure.__cause__ = raised
    typed = typed_failure(failure)
    typed.request = httpx.Request("POST", "http://127.0.0.1/x")
    error = translate(typed)
    assert type(error) is kind
    assert error.maybe_applied is (not never_sent)
