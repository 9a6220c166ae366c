"""Root ASGI app serving both fakes, and the uvicorn runner (background thread or foreground)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from dataclasses import dataclass, replace
from typing import Any

import uvicorn
from starlette.requests import ClientDisconnect
from uvicorn.protocols.http.auto import AutoHTTPProtocol

from .boast import BoastState, build_boast_app
from .boast import _unauthorized as boast_unauthorized
from .core import (
    STATS_PATH,
    TRANSPORT_EXTENSION,
    ASGIApp,
    FaultConfig,
    FaultMiddleware,
    FaultStats,
    Receive,
    SandboxConfig,
    Scope,
    Send,
    header,
)
from .script import OperationScript
from .unify import UnifyState, build_unify_app

UNIFY_PREFIX = "/unify"
BOAST_PREFIX = "/boast"


@dataclass(frozen=True)
class SandboxStats:
    unify: FaultStats
    boast: FaultStats


class SandboxApp:
    """Dispatches /unify/* and /boast/* to the vendor apps, each behind its own fault middleware.

    Each vendor gets its own limits and fault RNG, as the real vendors are separate services
    with separate limits. Boast's OAuth client has one key: all its tokens share a limit.
    """

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.unify = UnifyState(
            seed=config.seed,
            job_ttl=config.job_ttl,
            job_seconds=config.job_seconds,
            job_failure_rate=config.job_failure_rate,
            clock=config.clock,
            n_people=config.people,
        )
        self.unify_mw = FaultMiddleware(
            build_unify_app(self.unify),
            vendor="unify",
            config=config,
            error_body=self.unify.error_body,
            # Unify limits each API key.
            limit_key=lambda scope: header(scope, b"x-api-key"),
        )
        self.boast = BoastState(
            seed=config.seed,
            token_ttl=config.token_ttl,
            clock=config.clock,
            n_contacts=config.people,
            reuse_detection=config.refresh_reuse_detection,
        )
        self.boast_mw = FaultMiddleware(
            build_boast_app(self.boast),
            vendor="boast",
            config=config,
            error_body=self.boast.error_body,
            # OAuth is a different host at Boast (app.boast.io): no API faults or limits there.
            applies=lambda path: path.startswith("/v1/"),
        )
        # Scripted faults and the request log come first: a scripted 429 is not counted by the
        # vendor limits, and every request is logged whatever answers it.
        self.unify_script = OperationScript("unify", self.unify, None)
        self.boast_script = OperationScript("boast", self.boast, boast_unauthorized)
        self._routes: list[tuple[str, ASGIApp]] = [
            (UNIFY_PREFIX, self.unify_script.wrap(self.unify_mw)),
            (BOAST_PREFIX, self.boast_script.wrap(self.boast_mw)),
        ]

    def inspect(self) -> dict[str, Any]:
        """What a benchmark or a curious user checks from outside the process: traffic, and
        whether anything was enrolled twice."""
        return {
            "unify": _report(self.unify, self.unify_mw.stats),
            "boast": _report(self.boast, self.boast_mw.stats),
        }

    @property
    def stats(self) -> SandboxStats:
        return SandboxStats(
            unify=self.unify_mw.stats,
            boast=self.boast_mw.stats,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        path: str = scope["path"]
        if path == STATS_PATH:
            await _json(send, self.inspect())
            return
        for prefix, app in self._routes:
            if path.startswith(prefix + "/"):
                # Starlette convention: keep the full path, move the prefix into root_path.
                child = dict(scope)
                child["root_path"] = scope.get("root_path", "") + prefix
                # A client that hung up mid-request (its timeout, a reset) needs no answer.
                with contextlib.suppress(ClientDisconnect):
                    await app(child, receive, send)
                return
        await _not_found(send)


def _report(state: UnifyState | BoastState, stats: FaultStats) -> dict[str, Any]:
    return {
        "requests": stats.requests,
        "rate_limited": stats.rate_limited,
        "faults": dict(stats.faults),
        "total_created": state.total_created,
        "active_enrollments": state.active_enrollment_count(),
        "duplicate_active_enrollments": len(state.duplicate_active_enrollments()),
    }


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _not_found(send: Send) -> None:
    await _json(send, {"message": "Not found"}, status=404)


async def _json(send: Send, data: Any, status: int = 200) -> None:
    body = json.dumps(data).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class _TransportExposingProtocol(AutoHTTPProtocol):  # type: ignore[misc,valid-type]
    """uvicorn's HTTP protocol, putting the connection's transport into each request's scope.

    ASGI has no way to reset a connection; with the transport, a fault can abort it for real.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        inner: ASGIApp = self.app  # type: ignore[has-type]

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            scope.setdefault("extensions", {})[TRANSPORT_EXTENSION] = self.transport
            await inner(scope, receive, send)

        self.app = app


class _PromptServer(uvicorn.Server):
    """uvicorn notices a stop request on a 100 ms poll. Test suites start and stop a sandbox
    per test, so poll every 10 ms: a stop then costs ~0.1 s less, and the idle loop stays cheap."""

    async def main_loop(self) -> None:
        ticks = 0
        while not await self.on_tick(ticks):
            await asyncio.sleep(0.01)
            ticks = (ticks + 1) % 864000  # on_tick refreshes the Date header every 10th tick


def _uvicorn_config(app: SandboxApp, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        http=_TransportExposingProtocol,
        lifespan="on",
        access_log=False,
        log_config=None,
        log_level=log_level,
        proxy_headers=False,
        # Bound the wait for in-flight slow-fault responses when stopping.
        timeout_graceful_shutdown=1,
    )


def bind(host: str, port: int) -> socket.socket:
    """Bind the listening socket up front, so port 0 yields a known free port immediately."""
    # proto must be IPPROTO_TCP: asyncio only sets TCP_NODELAY on accepted sockets whose proto
    # says TCP, and without it Nagle + delayed ACK add ~40 ms to every response.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


class Sandbox:
    """Both fakes served by uvicorn on a background thread; use as a context manager.

    >>> with Sandbox(SandboxConfig(seed=1)) as sb:
    ...     httpx.get(sb.unify_base_url + "/sequences/v1/sequences",
    ...               headers={"x-api-key": sb.unify_api_key})
    """

    def __init__(
        self,
        config: SandboxConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        app: SandboxApp | None = None,
        **overrides: Any,
    ) -> None:
        """`overrides` are SandboxConfig fields, e.g. Sandbox(seed=3, rate_limit=None); `app`
        serves an existing SandboxApp (its state and script) instead of a new one."""
        self.config = (
            app.config if app is not None else replace(config or SandboxConfig(), **overrides)
        )
        self.app = app if app is not None else SandboxApp(self.config)
        self.host = host
        self._requested_port = port
        self.port = 0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None

    # --- what tests and clients use -------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def unify_base_url(self) -> str:
        return self.base_url + UNIFY_PREFIX

    @property
    def boast_base_url(self) -> str:
        return self.base_url + BOAST_PREFIX  # the host root: generated paths carry /v1

    @property
    def boast_auth_base_url(self) -> str:
        return self.base_url + BOAST_PREFIX

    @property
    def unify(self) -> UnifyState:
        return self.app.unify

    @property
    def boast(self) -> BoastState:
        return self.app.boast

    @property
    def unify_api_key(self) -> str:
        return self.app.unify.api_keys[0]

    @property
    def stats(self) -> SandboxStats:
        return self.app.stats

    def set_faults(self, faults: FaultConfig) -> None:
        """Change fault rates of both vendors while running (e.g. fail once, then heal).

        The fault RNG keeps its position, so a run stays reproducible for a given script.
        """
        self.app.unify_mw.faults = faults
        self.app.boast_mw.faults = faults

    # --- lifecycle -------------------------------------------------------------------------
    def start(self) -> Sandbox:
        if self._thread is not None:
            raise RuntimeError("sandbox already started")
        self._sock = bind(self.host, self._requested_port)
        self.port = self._sock.getsockname()[1]
        server = _PromptServer(_uvicorn_config(self.app, "warning"))
        self._server = server
        failure: list[BaseException] = []

        def run() -> None:
            try:
                asyncio.run(server.serve(sockets=[self._sock] if self._sock else None))
            except BaseException as exc:  # surfaced to start() / stop()
                failure.append(exc)

        self._thread = threading.Thread(target=run, name=f"sandbox:{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if failure or not self._thread.is_alive():
                cause = failure[0] if failure else None
                raise RuntimeError("sandbox server failed to start") from cause
            if time.monotonic() > deadline:
                raise RuntimeError("sandbox server did not start within 10 s")
            time.sleep(0.002)
        return self

    def stop(self, wait: bool = True) -> None:
        """Stop serving. `wait=False` returns at once and lets the server thread finish on its
        own (uvicorn idles ~0.1 s while shutting down): test suites stop hundreds of sandboxes."""
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        if wait:
            self._thread.join(timeout=10)
            if self._sock is not None:
                self._sock.close()  # uvicorn closed it already; closing twice is harmless
        self._server = None
        self._thread = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"Sandbox({self.base_url}, seed={self.config.seed})"


def serve(
    config: SandboxConfig,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    sock: socket.socket | None = None,
    app: SandboxApp | None = None,
) -> None:
    """Serve in the foreground until SIGINT/SIGTERM (uvicorn handles the signals)."""
    app = app or SandboxApp(config)
    sock = sock or bind(host, port)
    uvicorn.Server(_uvicorn_config(app, "info")).run(sockets=[sock])
