"""httpx transports that hand each request straight to the sandbox's ASGI app: no socket, no
port, no server thread per test.

The async transport is httpx's ASGITransport. The sync one runs the same app on one event loop
thread per sandbox. A scripted dropped connection or timeout is raised inside the app and comes
out here as the httpx error a real connection would give.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

import httpx

from ..sandbox.script import ScriptedTimeout

T = TypeVar("T")
# An answer a sync caller waits for longer than this is a hung app, not a slow one.
_SYNC_LIMIT = 60.0


def _dropped(error: BaseException, request: httpx.Request) -> httpx.TransportError:
    if isinstance(error, ScriptedTimeout):
        return httpx.ReadTimeout(str(error), request=request)
    return httpx.RemoteProtocolError(
        "Server disconnected without sending a response (sandbox fault: connection reset)",
        request=request,
    )


# What the app raises for a scripted drop: core._reset's abort, or the scripted timeout.
_DROPS = (ScriptedTimeout, ConnectionAbortedError)


def _read_timeout(request: httpx.Request) -> float | None:
    """The client's read timeout for this request: ASGITransport itself enforces none."""
    timeout = request.extensions.get("timeout", {})
    read = timeout.get("read") if isinstance(timeout, dict) else None
    return float(read) if isinstance(read, int | float) else None


class AsyncInProcessTransport(httpx.AsyncBaseTransport):
    def __init__(self, app: Any) -> None:
        self._asgi = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        answer = self._asgi.handle_async_request(request)
        try:
            return await asyncio.wait_for(answer, _read_timeout(request))
        except TimeoutError as error:
            message = "the sandbox answered slower than the read timeout"
            raise httpx.ReadTimeout(message, request=request) from error
        except _DROPS as error:
            raise _dropped(error, request) from error


class InProcessTransport(httpx.BaseTransport):
    """The sync twin: the app runs on a private event loop thread, started on first use."""

    def __init__(self, app: Any) -> None:
        self._async = AsyncInProcessTransport(app)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=loop.run_forever, name="sequence-clients-sandbox", daemon=True
                )
                thread.start()
                self._loop, self._thread = loop, thread
            loop = self._loop
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(_SYNC_LIMIT)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()

        async def exchange() -> tuple[int, list[tuple[bytes, bytes]], bytes]:
            copy = httpx.Request(
                request.method, request.url, headers=request.headers, content=body,
                extensions=request.extensions,
            )  # fmt: skip
            response = await self._async.handle_async_request(copy)
            return response.status_code, response.headers.raw, await response.aread()

        # The loop thread enforces the read timeout; _SYNC_LIMIT is for a hung app only.
        try:
            status, headers, content = self._run(exchange())
        except TimeoutError as error:
            raise httpx.ReadTimeout("the sandbox did not answer", request=request) from error
        return httpx.Response(status, headers=headers, content=content, request=request)

    def close(self) -> None:
        with self._lock:
            loop, thread, self._loop, self._thread = self._loop, self._thread, None, None
        if loop is not None and thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=5)
            loop.close()
