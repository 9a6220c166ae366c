"""Knobs shared by both fakes: configuration, rate limiting, latency and fault injection.

The fault middleware is plain ASGI so it wraps any vendor app. It decides per request, in
arrival order, from a seeded RNG, so the same seed and the same request order give the same
fault sequence.
"""

from __future__ import annotations

import asyncio
import json
import random
import socket
import struct
import time
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from .limits import VENDOR, RateLimit, VendorDefault, retry_after, vendor_limits

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Scope extension under which the sandbox's uvicorn protocol exposes the connection's
# transport, so a fault can abort the TCP connection (see server.py).
TRANSPORT_EXTENSION = "sequence_clients.sandbox.transport"
# Sandbox-only endpoint (no vendor has it) answering SandboxApp.inspect() as JSON.
STATS_PATH = "/_sandbox/stats"

FAULT_KINDS = (
    "server_error",
    "rate_limit_burst",
    "reset_before",
    "reset_after_commit",
    "slow",
    "html_502",
    "truncated_json",
)

HTML_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


@dataclass(frozen=True)
class FaultConfig:
    """Probability per request of each fault kind (they are mutually exclusive per request)."""

    server_error: float = 0.0
    rate_limit_burst: float = 0.0
    reset_before: float = 0.0
    reset_after_commit: float = 0.0
    slow: float = 0.0
    html_502: float = 0.0
    truncated_json: float = 0.0
    # How many consecutive requests (including the triggering one) a burst answers with 429.
    burst_length: int = 3
    # Longer than any sensible client read timeout used in tests, short enough for shutdown.
    slow_seconds: float = 3.0
    # Retry-After sent with burst 429s.
    burst_retry_after: int = 1
    # Whether any fault can happen; derived once, as the middleware asks on every request.
    any: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        total = 0.0
        for kind in FAULT_KINDS:
            rate = getattr(self, kind)
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"fault rate {kind}={rate} must be within 0..1")
            total += rate
        if total > 1.0 + 1e-9:
            raise ValueError(f"fault rates add up to {total}, more than 1")
        if self.burst_length < 1:
            raise ValueError("burst_length must be >= 1")
        object.__setattr__(self, "any", total > 0)


@dataclass(frozen=True)
class Exchange:
    """One request/response pair as the observer sees it (only built when an observer is set)."""

    vendor: str
    method: str
    path: str  # vendor-relative, e.g. "/sequences/v1/enrollments" or "/v1/accounts"
    query_string: bytes
    request_headers: list[tuple[bytes, bytes]]
    request_body: bytes
    status: int
    response_headers: list[tuple[bytes, bytes]]
    response_body: bytes
    fault: str | None  # injected fault kind, None for a genuine answer of the fake


Observer = Callable[[Exchange], None]


@dataclass(frozen=True)
class SandboxConfig:
    seed: int = 0
    # "vendor": each vendor's published limits (limits.py); a RateLimit: that fixed window per
    # key for both vendors (plus Unify's Bulk API quotas); None: nothing is limited.
    rate_limit: RateLimit | VendorDefault | str | None = VENDOR
    # Added to every vendor request, in seconds (asyncio sleep, so it does not block others).
    latency: float = 0.0
    faults: FaultConfig = field(default_factory=FaultConfig)
    token_ttl: float = 7200.0
    # Boast's token endpoint revokes the whole grant when a used refresh token comes back
    # (RFC 6819 §5.2.2.3, Doorkeeper's reuse detection; ASSUMPTIONS.md). False tolerates reuse.
    refresh_reuse_detection: bool = True
    # Unify documents that query jobs expire 24 hours after creation.
    job_ttl: float = 86400.0
    # How long a query job runs (sandbox clock) and the share of jobs that end FAILED; Unify
    # says most jobs finish "within a few seconds".
    job_seconds: float = 3.0
    job_failure_rate: float = 0.0
    # Unify people, and contacts of the first Boast account (bulk benchmarks need more).
    people: int = 3000
    clock: Callable[[], float] = time.time
    observer: Observer | None = None

    def __post_init__(self) -> None:
        if self.job_seconds < 0:
            raise ValueError(f"job_seconds must be >= 0, got {self.job_seconds}")
        if not 0.0 <= self.job_failure_rate <= 1.0:
            raise ValueError(f"job_failure_rate must be within 0..1, got {self.job_failure_rate}")
        if isinstance(self.rate_limit, str) and self.rate_limit != VENDOR:
            # Sandbox(rate_limit="100/5s"), as on the command line.
            object.__setattr__(self, "rate_limit", RateLimit.parse(self.rate_limit))
        if not (
            self.rate_limit is None
            or self.rate_limit == VENDOR
            or isinstance(self.rate_limit, RateLimit)
        ):
            raise ValueError(
                f"rate_limit must be 'vendor', a RateLimit, '100/5s' or None, "
                f"got {self.rate_limit!r}"
            )


def header(scope: Scope, name: bytes) -> str:
    """A request header's value ('' when absent); `name` in lower case."""
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return ""


@dataclass
class FaultStats:
    """Counters of one vendor's middleware. Written on the server thread, read by tests."""

    requests: int = 0
    # Vendor API requests by HTTP method: a dry run's writes (anything but GET) must be 0.
    methods: Counter[str] = field(default_factory=Counter)
    rate_limited: int = 0  # 429s sent by the rate limits and quotas (bursts count as faults)
    faults: Counter[str] = field(default_factory=Counter)
    # (request ordinal, kind) of every injected fault, to compare fault sequences.
    fault_log: list[tuple[int, str]] = field(default_factory=list)


ErrorBody = Callable[[int, str, str], dict[str, Any]]


class FaultMiddleware:
    """Latency, rate limit and fault injection in front of one vendor app.

    `applies(path)` says which paths are vendor API calls: only those are rate limited and
    faulted (OAuth endpoints are not). `error_body(status, code, message)` renders an error in
    the vendor's own shape so that 5xx/429 answers look like the vendor's.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        vendor: str,
        config: SandboxConfig,
        error_body: ErrorBody,
        applies: Callable[[str], bool] = lambda path: True,
        limit_key: Callable[[Scope], str] = lambda scope: "",
    ) -> None:
        self.app = app
        self.vendor = vendor
        self.config = config
        self.faults = config.faults
        self.error_body = error_body
        self.applies = applies
        self.stats = FaultStats()
        # A string seed is hashed with SHA-512 by `random`, so this is stable across runs.
        self._rng = random.Random(f"{config.seed}/{vendor}/faults")
        self._burst_left = 0
        self.limits = vendor_limits(vendor, config.rate_limit, config.clock)
        self._limit_key = limit_key
        self._ordinal = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.config.latency > 0:
            await asyncio.sleep(self.config.latency)
        observer = self.config.observer
        if observer is not None:
            receive, send = await self._observed(scope, receive, send, observer)
        if not self.applies(_vendor_path(scope)):
            await self.app(scope, receive, send)
            return
        self.stats.requests += 1
        self.stats.methods[scope["method"]] += 1
        ordinal = self._ordinal
        self._ordinal += 1
        # Draw before the rate limit so that the fault sequence depends on the request ordinal
        # only, never on timing.
        kind, fraction = self._draw()
        if self.limits is not None:
            refusal = self.limits.check(
                self._limit_key(scope), scope["method"], _vendor_path(scope)
            )
            if refusal is not None:
                self.stats.rate_limited += 1
                await self._send_429(send, retry_after(refusal.wait), refusal.message)
                return
        if kind is None:
            await self.app(scope, receive, send)
            return
        self.stats.faults[kind] += 1
        self.stats.fault_log.append((ordinal, kind))
        scope.setdefault("state", {})["sandbox_fault"] = kind
        await self._inject(kind, fraction, scope, receive, send)

    def _draw(self) -> tuple[str | None, float]:
        """The fault for this request, and where in its share of [0, 1) the draw fell."""
        if self._burst_left > 0:
            self._burst_left -= 1
            return "rate_limit_burst", 0.0
        if not self.faults.any:
            return None, 0.0
        # Exactly one draw per request keeps the sequence a function of the ordinal alone.
        u = self._rng.random()
        for kind in FAULT_KINDS:
            rate: float = getattr(self.faults, kind)
            if u < rate:
                if kind == "rate_limit_burst":
                    self._burst_left = self.faults.burst_length - 1
                return kind, u / rate
            u -= rate
        return None, 0.0

    async def _inject(
        self, kind: str, fraction: float, scope: Scope, receive: Receive, send: Send
    ) -> None:
        if kind == "server_error":
            # The position within the fault's share picks the status: no second draw needed.
            status = (500, 502, 503)[min(2, int(fraction * 3))]
            error = self.error_body(status, "internal_server_error", "Injected server error")
            await _send_json(send, status, error)
        elif kind == "rate_limit_burst":
            await self._send_429(send, self.faults.burst_retry_after)
        elif kind == "html_502":
            await _send_bytes(send, 502, HTML_502, b"text/html")
        elif kind == "reset_before":
            await _reset(scope, send)
        else:
            status, headers, body = await _call_buffered(self.app, scope, receive)
            if kind == "reset_after_commit":
                await _reset(scope, send)
                return
            if kind == "slow":
                await asyncio.sleep(self.faults.slow_seconds)
            elif kind == "truncated_json":
                # Keep Content-Length consistent with the cut body: the JSON is broken, HTTP is not.
                body = body[: len(body) // 2]
                headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
                headers.append((b"content-length", str(len(body)).encode()))
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})

    async def _send_429(self, send: Send, seconds: int, message: str = "Too many requests") -> None:
        body = self.error_body(429, "rate_limited", message)
        await _send_json(send, 429, body, [(b"retry-after", str(max(1, seconds)).encode())])

    async def _observed(
        self, scope: Scope, receive: Receive, send: Send, observer: Observer
    ) -> tuple[Receive, Send]:
        """Wrap receive/send to record the exchange, and report it once the body is complete.

        The request body is read up front and replayed, so the observer sees it even when the
        answer (a 429, say) comes before the app would have read it.
        """
        request_body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            request_body.extend(message.get("body", b""))
            if not message.get("more_body", False):
                break
        replayed = False
        response: dict[str, Any] = {"status": 0, "headers": [], "body": bytearray()}

        async def observed_receive() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(request_body), "more_body": False}
            return await receive()

        async def observed_send(message: Message) -> None:
            await send(message)
            if message["type"] == "http.response.start":
                response["status"] = message["status"]
                response["headers"] = list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                response["body"].extend(message.get("body", b""))
                if not message.get("more_body", False):
                    observer(
                        Exchange(
                            vendor=self.vendor,
                            method=scope["method"],
                            path=_vendor_path(scope),
                            query_string=scope.get("query_string", b""),
                            request_headers=list(scope.get("headers", [])),
                            request_body=bytes(request_body),
                            status=response["status"],
                            response_headers=response["headers"],
                            response_body=bytes(response["body"]),
                            fault=scope.get("state", {}).get("sandbox_fault"),
                        )
                    )

        return observed_receive, observed_send


def _vendor_path(scope: Scope) -> str:
    """The path below the vendor's mount point (Starlette convention: root_path is the mount)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


async def _call_buffered(app: ASGIApp, scope: Scope, receive: Receive) -> tuple[int, Any, bytes]:
    """Run the app to completion (side effects included) and keep its response in memory."""
    start: dict[str, Any] = {}
    body = bytearray()

    async def capture(message: Message) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
        elif message["type"] == "http.response.body":
            body.extend(message.get("body", b""))

    await app(scope, receive, capture)
    return start["status"], list(start.get("headers", [])), bytes(body)


async def _send_bytes(
    send: Send,
    status: int,
    body: bytes,
    content_type: bytes,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    headers += extra or []
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _send_json(
    send: Send, status: int, payload: Any, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = json.dumps(payload, separators=(",", ":")).encode()
    await _send_bytes(send, status, body, b"application/json", extra)


async def _reset(scope: Scope, send: Send) -> None:
    """Drop the TCP connection with an RST and no response, as a crashing proxy would."""
    transport = scope.get("extensions", {}).get(TRANSPORT_EXTENSION)
    if transport is None:
        # Not under the sandbox's server: the closest thing an ASGI app can do is to start a
        # response and fail, which makes the server close the connection mid-message.
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise ConnectionAbortedError("sandbox fault: connection reset")
    sock = transport.get_extra_info("socket")
    if sock is not None:
        # Linger on with a zero timeout turns close() into an RST instead of a FIN.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
    # abort() schedules connection_lost; yielding lets it run, so the server knows the client
    # is gone and does not try to answer the request with a 500 of its own.
    for _ in range(3):
        await asyncio.sleep(0)
