"""The request pipeline: one request's life, in the order it lives.

How a request travels
---------------------
A named method (`unify.get_enrollment(...)`) or `client.call(operation)` makes a *plan*
(`_plan.call`, or a vendor plan such as enroll's) and the client runs it with `_plan.run_sync` /
`run_async`, inside `_telemetry.call` (the call's span; giving up is logged there). For each
`Call` step the plan yields:

1. **Check the client can send** — `Connection.current`: not closed, on its event loop, and in
   a forked child a fresh connection pool (never a socket shared with the parent).
2. **Wait for the rate limit** — `_plan.run_sync` / `run_async` ask the `RateLimit` for a slot
   before anything is built, inside the deadline (`_plan._Deadline`).
3. **Build the request** — `build`: the base URL joined to the operation's path, the vendor's
   headers, the timeout cut to what is left of the deadline (`_transport.within`), and the
   deadline itself as the `sequence_clients.deadline` extension (the Boast auth flow reads it).
   All per request: the caller's httpx client is never modified.
4. **Send** — `send_sync` / `send_async`: `http.send(request, auth=…, stream=True)`. The auth
   flow (Boast's `oauth.BoastOAuth`) signs it and answers a 401 by refreshing and replaying,
   before anything here sees the answer. An httpx error becomes a typed one (`_transport.translate`).
5. **Read the body** — `read_body` / `aread_body`: streamed under `max_response_bytes` and
   within the deadline, so memory and time stay bounded.
6. **Classify the answer** — `classify`: the operation's success model, or the typed error for
   the status (`errors.error_from_response`) or for a body the spec does not allow.
7. **Decide** — back in the plan: `_plan.with_retries` retries what the `RetryPolicy` allows
   (sleeping as a `Sleep` step), vendor plans keep a retried create single (idempotency), and
   for a list `_pagination` reads the page and asks for the next (`page_plan`, the pagers'
   guards): the one place paging lives.

Every decision on the way is logged and traced by `_telemetry`.
"""

from __future__ import annotations

import functools
import os
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import httpx

from . import _clock, _telemetry
from ._plan import Call, Operation
from ._transport import parse, translate, within
from .errors import (
    ClientClosedError,
    DeadlineExceededError,
    EventLoopMismatchError,
    ForkedClientError,
    ResponseTooLargeError,
    SequenceClientError,
    error_from_response,
    redact_url,
)

if TYPE_CHECKING:
    import asyncio

    from httpx._client import UseClientDefault

T = TypeVar("T")
H = TypeVar("H", httpx.Client, httpx.AsyncClient)

# The absolute `_clock.current().monotonic()` time at which the call's deadline ends (None: no
# deadline), on every request sent: an auth flow bounds its own work (a token refresh) by it.
DEADLINE_EXTENSION = "sequence_clients.deadline"
# A body bigger than any answer these APIs document, small enough that a runaway one cannot
# exhaust a worker's memory.
DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024


# --- 1. the connection: one per client, checked before every request -----------------------


class Connection(Generic[H]):
    """The httpx client a client sends on (its own, or the caller's), and the checks that make
    sending on it safe: open, on its event loop, and not inherited through fork.

    After `os.fork()` the child's copy of a pool holds the parent's sockets: sending on them
    interleaves two processes' answers. Like redis-py's and psycopg's pools, a pid change is
    noticed and the pool replaced (the parent's is dropped, not closed: closing would end the
    parent's TLS sessions). A caller's httpx client cannot be rebuilt: ForkedClientError.
    """

    def __init__(self, given: H | None, make: Callable[[], H]) -> None:
        self._make: Callable[[], H] = make
        self.owned = given is None
        self.http: H = make() if given is None else given
        self._pid = os.getpid()
        self._loop: weakref.ref[asyncio.AbstractEventLoop] | None = None
        self.closed = False
        self._riders: list[H] = []  # httpx clients of ours sending over this one (`forwarding`)

    def current(self) -> H:
        """The httpx client to send on now, or the typed error saying why there is none."""
        if self.closed:
            raise ClientClosedError("the client is closed; build a new one to send again")
        if os.getpid() != self._pid:
            if not self.owned:
                raise ForkedClientError(
                    "this client's httpx_client was made before os.fork(): build the client "
                    "(and its httpx client) in the child process"
                )
            self.http, self._pid, self._loop = self._make(), os.getpid(), None
        if self.http.is_closed:
            raise ClientClosedError("the httpx client given as httpx_client= is closed")
        if isinstance(self.http, httpx.AsyncClient):
            self._check_loop()
        return self.http

    def _check_loop(self) -> None:
        import asyncio  # here: a sync user of the package pays no event loop at import

        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = weakref.ref(loop)
        elif self._loop() is not loop:
            raise EventLoopMismatchError(
                "this async client first sent on another event loop (a second asyncio.run()?); "
                "its connections belong to that loop: build the client inside the loop using it"
            )

    def _closing(self) -> bool:
        """Mark closed; True when the pool is ours to close here (not the parent's copy)."""
        self.closed = True
        return self.owned and os.getpid() == self._pid

    def close(self) -> None:
        for rider in self._riders:
            assert isinstance(rider, httpx.Client)
            rider.close()
        if self._closing():
            assert isinstance(self.http, httpx.Client)
            self.http.close()

    async def aclose(self) -> None:
        for rider in self._riders:
            assert isinstance(rider, httpx.AsyncClient)
            await rider.aclose()
        if self._closing():
            assert isinstance(self.http, httpx.AsyncClient)
            await self.http.aclose()

    def forwarding(self, target: Target) -> H:
        """An httpx client of ours with `target`'s base URL, headers, auth and timeout as its
        defaults, sending over this connection (closed with it). For the generated client
        under `raw`, which sends with the client's defaults."""
        rider = self._make_forwarding(**_defaults(self, target))
        self._riders.append(rider)
        return rider

    def _make_forwarding(self, **defaults: Any) -> H:
        if isinstance(self.http, httpx.AsyncClient):
            return httpx.AsyncClient(**defaults)
        return httpx.Client(**defaults)


AnyConnection = Connection[httpx.Client] | Connection[httpx.AsyncClient]


def connection_of(http: httpx.Client | httpx.AsyncClient | AnyConnection) -> AnyConnection:
    """`http` as a Connection (the caller's: never rebuilt, never closed here)."""
    if isinstance(http, httpx.AsyncClient):
        return Connection(http, httpx.AsyncClient)
    if isinstance(http, httpx.Client):
        return Connection(http, httpx.Client)
    return http


@dataclass(frozen=True, slots=True)
class Target:
    """Where and how a client's requests go: set per request, never on the httpx client."""

    base_url: str
    headers: Mapping[str, str]
    auth: httpx.Auth | None
    timeout: httpx.Timeout
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES


# --- 3. build ---------------------------------------------------------------------------------


def build(
    http: httpx.Client | httpx.AsyncClient,
    target: Target,
    operation: Operation[object],
    seconds_left: float | None,
) -> httpx.Request:
    """The request for `operation`: absolute URL, headers, timeout and deadline of its own."""
    sent = dict(operation.request)
    ends = None if seconds_left is None else _clock.current().monotonic() + seconds_left
    headers = {**target.headers, **sent.pop("headers", {})}
    return http.build_request(
        sent.pop("method"),
        _absolute_url(target.base_url + sent.pop("url")),
        headers=headers,
        timeout=within(target.timeout, seconds_left),
        extensions={DEADLINE_EXTENSION: ends},
        **sent,
    )


@functools.lru_cache(maxsize=256)
def _absolute_url(url: str) -> httpx.URL:
    """`url` parsed once: most calls of a client go to the same few URLs (a bulk run, all
    its rows to one), and httpx's parse is about a tenth of its CPU per request. Not for a
    URL httpx refuses: the error is raised, not kept."""
    return httpx.URL(url)


# --- 4-6. send, read, classify ----------------------------------------------------------------

# The stream of an answer read and closed. httpx's own stream wrapper points back at its
# response, so each answer (headers, body, the transport's response) would outlive its call as
# a reference cycle, freed only when the garbage collector runs: on the bulk path that was
# about a sixth of the CPU per row. The body stays readable (`content`).
_SPENT = httpx.ByteStream(b"")


def send_sync(
    connection: Connection[httpx.Client], target: Target, step: Call[T], seconds_left: float | None
) -> T:
    """One attempt of `step`: build, send, read, classify — the answer or a typed error."""
    http = connection.current()
    request = build(http, target, step.operation, seconds_left)
    with _telemetry.attempt(step, request, **_described(step.operation)) as attempt:
        started, status = time.perf_counter(), None
        try:
            try:
                response = http.send(request, auth=_auth(target), stream=True)
            except httpx.HTTPError as error:
                raise translate(error) from error
            status = response.status_code
            try:
                answer = read_body(response, target.max_response_bytes)
            finally:
                response.close()
                response.stream = _SPENT
            result = classify(step.operation, answer)
        except SequenceClientError as error:
            attempt.answered(status, time.perf_counter() - started, error)
            raise
        attempt.answered(status, time.perf_counter() - started, None)
        return result


async def send_async(
    connection: Connection[httpx.AsyncClient],
    target: Target,
    step: Call[T],
    seconds_left: float | None,
) -> T:
    """`send_sync` on the event loop."""
    http = connection.current()
    request = build(http, target, step.operation, seconds_left)
    with _telemetry.attempt(step, request, **_described(step.operation)) as attempt:
        started, status = time.perf_counter(), None
        try:
            try:
                response = await http.send(request, auth=_auth(target), stream=True)
            except httpx.HTTPError as error:
                raise translate(error) from error
            status = response.status_code
            try:
                answer = await aread_body(response, target.max_response_bytes)
            finally:
                await response.aclose()
                response.stream = _SPENT
            result = classify(step.operation, answer)
        except SequenceClientError as error:
            attempt.answered(status, time.perf_counter() - started, error)
            raise
        attempt.answered(status, time.perf_counter() - started, None)
        return result


def _auth(target: Target) -> httpx.Auth | UseClientDefault:
    # No auth of ours (Unify's key is a header): the caller's httpx client keeps its own.
    return httpx.USE_CLIENT_DEFAULT if target.auth is None else target.auth


def _described(operation: Operation[object]) -> dict[str, Any]:
    return {
        "template": getattr(operation, "url_template", None),
        "operation_id": operation.operation_id,
    }


def read_body(response: httpx.Response, limit: int) -> httpx.Response:
    """`response` with its body read: at most `limit` bytes (decoded), before the deadline."""
    reader = _BodyReader(response, limit)
    try:
        for chunk in response.iter_bytes():
            reader.take(chunk)
    except httpx.HTTPError as error:
        raise translate(error) from error
    return reader.read()


async def aread_body(response: httpx.Response, limit: int) -> httpx.Response:
    reader = _BodyReader(response, limit)
    try:
        async for chunk in response.aiter_bytes():
            reader.take(chunk)
    except httpx.HTTPError as error:
        raise translate(error) from error
    return reader.read()


class _BodyReader:
    """Collects a streamed body and stops it as soon as it is too big or too late."""

    def __init__(self, response: httpx.Response, limit: int) -> None:
        self._response = response
        self._limit = limit
        self._chunks: list[bytes] = []
        self._size = 0
        ends = response.request.extensions.get(DEADLINE_EXTENSION)
        self._ends: float | None = ends if isinstance(ends, int | float) else None
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:  # say so before reading a byte
            raise self._too_large()

    def take(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if self._size > self._limit:
            raise self._too_large()
        # Past the deadline with more body still coming: stop. (A body that came whole with
        # its headers is kept: the deadline then speaks through the plan, with this answer.)
        if self._chunks and self._ends is not None and _clock.current().monotonic() > self._ends:
            request = self._response.request
            raise DeadlineExceededError(
                "deadline reached while reading the answer's body",
                method=request.method, url=redact_url(request.url), maybe_applied=True,
            )  # fmt: skip
        self._chunks.append(chunk)

    def _too_large(self) -> ResponseTooLargeError:
        request = self._response.request
        _telemetry.logger.warning(
            "%s %s: body over max_response_bytes=%d, not read", request.method,
            redact_url(request.url), self._limit,
            extra={"event": "sequence_clients.body.too_large", "limit": self._limit},
        )  # fmt: skip
        return ResponseTooLargeError(
            method=request.method, url=redact_url(request.url),
            status_code=self._response.status_code, limit=self._limit,
        )  # fmt: skip

    def read(self) -> httpx.Response:
        """The response, its body read: what httpx's own `Response.read()` leaves after the same
        iteration (the decoded body kept as `_content`). A new Response built from the bytes
        would decode them a second time: a third more client time per call on loopback."""
        self._response._content = b"".join(self._chunks)
        return self._response


def classify(operation: Operation[T], response: httpx.Response) -> T:
    """The answer as the operation's success model, or the typed error it is."""
    if not response.is_success:
        raise error_from_response(response)
    return parse(operation, response)


# --- the generated client under `client.raw`, on the same connection ---------------------------


class _Forward(httpx.BaseTransport):
    """A transport that sends through a Connection's current httpx client (the caller's own
    settings, hooks and pool), so a second httpx client of ours can sit on top of it."""

    def __init__(self, connection: Connection[httpx.Client]) -> None:
        self._connection = connection

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        inner = self._connection.current().send(request, stream=True)
        return httpx.Response(
            inner.status_code, headers=inner.headers, stream=inner.stream,
            extensions=inner.extensions,
        )  # fmt: skip


class _AsyncForward(httpx.AsyncBaseTransport):
    def __init__(self, connection: Connection[httpx.AsyncClient]) -> None:
        self._connection = connection

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        inner = await self._connection.current().send(request, stream=True)
        return httpx.Response(
            inner.status_code, headers=inner.headers, stream=inner.stream,
            extensions=inner.extensions,
        )  # fmt: skip


def _defaults(
    connection: Connection[httpx.Client] | Connection[httpx.AsyncClient], target: Target
) -> dict[str, Any]:
    forward: httpx.BaseTransport | httpx.AsyncBaseTransport
    if isinstance(connection.http, httpx.AsyncClient):
        forward = _AsyncForward(connection)
    else:
        forward = _Forward(connection)
    defaults: dict[str, Any] = {
        "base_url": target.base_url,
        "headers": dict(target.headers),
        "timeout": target.timeout,
        "transport": forward,
    }
    if target.auth is not None:
        defaults["auth"] = target.auth
    return defaults


G = TypeVar("G")


def generated_client(
    make: Callable[..., G],
    connection: Connection[httpx.Client] | Connection[httpx.AsyncClient],
    target: Target,
) -> G:
    """A generated client (`make`: a vendor's generated `Client` class) that sends like ours
    — base URL, headers, auth, timeout — over `connection`, without touching the httpx client
    underneath. Its `with_headers()` copies keep all of that."""
    defaults = _defaults(connection, target)
    extra = {name: defaults.pop(name) for name in ("transport", "auth") if name in defaults}
    made: Any = make(**defaults, httpx_args=extra)
    rider = connection.forwarding(target)
    if isinstance(rider, httpx.AsyncClient):
        return made.set_async_httpx_client(rider)  # type: ignore[no-any-return]
    return made.set_httpx_client(rider)  # type: ignore[no-any-return]


__all__ = [
    "DEADLINE_EXTENSION",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "Connection",
    "Target",
    "build",
    "classify",
    "connection_of",
    "generated_client",
    "read_body",
    "send_async",
    "send_sync",
]
