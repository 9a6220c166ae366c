"""The async clients on aiohttp's HTTP/1.1 engine, with httpx's API kept (the `aiohttp` extra).

httpx's own async transport (httpcore, anyio, h11) costs several times the CPU of aiohttp per
request, and more the more requests are in flight (bench/transport.py). `AioHttpClient` is an
`httpx.AsyncClient` whose transport is httpx-aiohttp's: httpx still builds every request, runs
auth, hooks, redirects policy and cookies; aiohttp only moves the bytes. Pass one as
`httpx_client=` to `AsyncUnifyClient` / `AsyncBoastClient`; the bulk engine uses it by default.

What this module adds to httpx-aiohttp, so the clients' promises hold on it as on httpx:
- typed failures: httpx-aiohttp maps every `aiohttp.ClientConnectionError` (a server that
  dropped the connection after reading the request included) to `httpx.ConnectTimeout`, which
  would tell the retry logic the request was never sent. Here only failures before anything was
  sent (cannot connect, connect or pool timeout) say so; the rest are read/protocol errors,
  which may have been applied. No aiohttp exception escapes.
- a write bound: aiohttp has no write timeout, so an exchange that outlasts the sum of its
  phase timeouts (pool + connect + write + read, each already cut to a call's deadline) is
  stopped as a write timeout.
- no second cookie jar: cookies are httpx's business; aiohttp's session keeps none.
- no hidden resend: aiohttp's own retry of an idempotent request is off; `max_retries` counts.
Proxies (`proxy=`, and the environment's with `trust_env=True`, NO_PROXY included) are httpx's
mounts, each on this transport; redirects are never followed by aiohttp.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import httpx
from httpx._config import DEFAULT_LIMITS
from httpx._types import CertTypes, CookieTypes
from httpx_aiohttp import AiohttpTransport

# Most specific first: the first match names the failure.
_FAILURES: tuple[tuple[type[BaseException], type[httpx.TransportError]], ...] = (
    (aiohttp.ClientProxyConnectionError, httpx.ProxyError),
    (aiohttp.ClientHttpProxyError, httpx.ProxyError),
    (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),  # pool wait or connect: not sent
    (aiohttp.ServerTimeoutError, httpx.ReadTimeout),
    (aiohttp.ClientConnectorError, httpx.ConnectError),  # refused, DNS, TLS: not sent
    (aiohttp.InvalidURL, httpx.UnsupportedProtocol),
    (aiohttp.ClientPayloadError, httpx.ReadError),
    (aiohttp.ServerDisconnectedError, httpx.RemoteProtocolError),
    (aiohttp.ClientResponseError, httpx.RemoteProtocolError),  # a malformed answer
    (aiohttp.ClientConnectionError, httpx.NetworkError),  # reset while sending or reading
    (aiohttp.ClientError, httpx.TransportError),
)


def typed_failure(error: BaseException) -> httpx.TransportError:
    """The httpx error for a failure of this transport: what aiohttp raised (directly, or as
    the cause of httpx-aiohttp's own mapping) decides, else httpx-aiohttp's error stands."""
    cause = error.__cause__ if isinstance(error, httpx.TransportError) else error
    for raised, kind in _FAILURES:
        if isinstance(cause, raised):
            return kind(str(cause) or type(cause).__name__)
    if isinstance(error, httpx.TransportError):
        return error
    return httpx.TransportError(str(error) or type(error).__name__)


def _exchange_bound(request: httpx.Request) -> float | None:
    """The longest httpx would spend on this exchange phase by phase (None: unbounded)."""
    phases = request.extensions.get("timeout", {})
    seconds = [phases.get(name) for name in ("pool", "connect", "write", "read")]
    if any(phase is None for phase in seconds):
        return None
    return float(sum(seconds))


class _Body(httpx.AsyncByteStream):
    """The response body, with read failures typed like the request's."""

    def __init__(self, inner: httpx.AsyncByteStream) -> None:
        self._inner = inner

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._inner:
                yield chunk
        except (httpx.TransportError, aiohttp.ClientError) as error:
            raise typed_failure(error) from error

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        except (httpx.TransportError, aiohttp.ClientError) as error:
            raise typed_failure(error) from error


class AiohttpTransportTyped(AiohttpTransport):
    """httpx-aiohttp's transport with typed failures, a write bound and no aiohttp cookies."""

    def __init__(
        self,
        *,
        verify: ssl.SSLContext | str | bool = True,
        cert: CertTypes | None = None,
        trust_env: bool = True,
        limits: httpx.Limits = DEFAULT_LIMITS,
        proxy: httpx.Proxy | None = None,
    ) -> None:
        # The session is built on the first request, inside the event loop that will use it.
        super().__init__(
            verify=verify,
            cert=cert,
            trust_env=trust_env,
            limits=limits,
            proxy=proxy,
            client=self._session,
        )

    def _session(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            ssl=self.ssl_context,
            limit=self.limits.max_connections or 0,  # httpx's None and aiohttp's 0: no limit
            keepalive_timeout=self.limits.keepalive_expiry,
        )
        session = aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())
        # aiohttp resends an idempotent request once when the connection drops; the clients'
        # retry policy decides every resend (max_retries, back-off, a rate limit slot each).
        if hasattr(session, "_retry_connection"):
            session._retry_connection = False
        return session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            async with asyncio.timeout(_exchange_bound(request)) as bound:
                response = await super().handle_async_request(request)
        except TimeoutError as error:
            if not bound.expired():  # one of aiohttp's own timeouts, should it come unmapped
                raise typed_failure(error) from error
            raise httpx.WriteTimeout(
                "the request was not answered within the sum of its phase timeouts "
                "(aiohttp has no write timeout of its own)"
            ) from error
        except (httpx.TransportError, aiohttp.ClientError) as error:
            raise typed_failure(error) from error
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _Body(response.stream)
        return response


class _Cookies(httpx.Cookies):
    """httpx's cookie jar, which reads an answer only when it sets a cookie: httpx builds
    urllib's request and response stand-ins for every answer before the jar looks for
    `Set-Cookie`, about 5% of bulk-enroll's CPU per row (bench/bulk_cpu.py). The jar takes
    cookies from `Set-Cookie` and `Set-Cookie2` only, so skipping other answers changes nothing."""

    def extract_cookies(self, response: httpx.Response) -> None:
        headers = response.headers
        if "set-cookie" in headers or "set-cookie2" in headers:
            super().extract_cookies(response)


class AioHttpClient(httpx.AsyncClient):
    """An `httpx.AsyncClient` on aiohttp: same arguments, same API, a fraction of the CPU.

        async with AioHttpClient() as http:
            client = AsyncUnifyClient(api_key, httpx_client=http)

    HTTP/1.1 only (`http2=True` falls back to it). Needs `pip install 'sequence-clients[aiohttp]'`.
    """

    @property
    def cookies(self) -> httpx.Cookies:
        if not isinstance(self._cookies, _Cookies):  # as httpx's __init__ made it: same jar
            self._cookies = _Cookies(self._cookies.jar)
        return self._cookies

    @cookies.setter
    def cookies(self, cookies: CookieTypes) -> None:
        self._cookies = _Cookies(cookies)

    def _init_transport(
        self,
        verify: ssl.SSLContext | str | bool = True,
        cert: CertTypes | None = None,
        trust_env: bool = True,
        http1: bool = True,
        http2: bool = False,
        limits: httpx.Limits = DEFAULT_LIMITS,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> httpx.AsyncBaseTransport:
        if transport is not None:
            return transport
        return AiohttpTransportTyped(verify=verify, cert=cert, trust_env=trust_env, limits=limits)

    def _init_proxy_transport(
        self,
        proxy: httpx.Proxy,
        verify: ssl.SSLContext | str | bool = True,
        cert: CertTypes | None = None,
        trust_env: bool = True,
        http1: bool = True,
        http2: bool = False,
        limits: httpx.Limits = DEFAULT_LIMITS,
    ) -> httpx.AsyncBaseTransport:
        return AiohttpTransportTyped(
            verify=verify, cert=cert, trust_env=trust_env, limits=limits, proxy=proxy
        )


def aiohttp_httpx_client(**options: Any) -> httpx.AsyncClient:
    """`AioHttpClient(**options)`: the bulk engine's HTTP client."""
    return AioHttpClient(**options)


__all__ = ["AioHttpClient", "AiohttpTransportTyped", "aiohttp_httpx_client", "typed_failure"]
