"""HTTP plumbing shared by every client: safe base URLs, default timeouts, and turning whatever
httpx or the generated code raises into the typed errors of `errors`."""

from __future__ import annotations

import ipaddress
import json
from contextvars import ContextVar
from typing import Any

import httpx

from ._plan import Call
from .errors import (
    APIConnectionError,
    APITimeoutError,
    InvalidRequestError,
    SequenceClientError,
    UnexpectedResponseError,
    error_from_response,
    redact_url,
)

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)

# The response being parsed, so that a parse failure inside generated code can still say what
# the server sent. A ContextVar is per thread and per asyncio task, like the request itself.
_current_response: ContextVar[httpx.Response | None] = ContextVar("_current_response", default=None)

# Set on a request by an auth flow that will itself answer a 401 (refresh, then replay once):
# the status hook below runs inside the flow, so it must let that 401 through untouched.
REPLAYS_401 = "sequence_clients.replays_401"


def checked_base_url(url: str, *, allow_insecure_http: bool) -> str:
    """Refuse plain http:// except to loopback (the sandbox) or when explicitly allowed."""
    parsed = httpx.URL(url)
    if parsed.scheme == "https" or (
        parsed.scheme == "http" and (allow_insecure_http or _is_loopback(parsed.host))
    ):
        return url.rstrip("/")
    raise InvalidRequestError(
        f"refusing base URL {redact_url(url)!r}: credentials must travel over https "
        "(plain http is allowed to loopback addresses, or with allow_insecure_http=True)"
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def as_timeout(timeout: float | httpx.Timeout | None) -> httpx.Timeout:
    if timeout is None:
        return DEFAULT_TIMEOUT
    return (
        timeout
        if isinstance(timeout, httpx.Timeout)
        else httpx.Timeout(timeout, connect=min(5.0, timeout))
    )


def _is_error(response: httpx.Response) -> bool:
    if response.status_code == 401 and response.request.extensions.get(REPLAYS_401):
        return False
    return not response.is_success


def _raise_for_status(response: httpx.Response) -> None:
    _current_response.set(response)
    if _is_error(response):
        response.read()
        raise error_from_response(response)


async def _araise_for_status(response: httpx.Response) -> None:
    _current_response.set(response)
    if _is_error(response):
        await response.aread()
        raise error_from_response(response)


def configure_http(
    http: httpx.Client | httpx.AsyncClient,
    *,
    base_url: str,
    timeout: httpx.Timeout,
    headers: dict[str, str],
    auth: httpx.Auth | None,
) -> None:
    """Point an httpx client (ours or the caller's) at the vendor, with our error hook."""
    http.base_url = httpx.URL(base_url)
    http.timeout = timeout
    http.headers.update(headers)
    if auth is not None:
        http.auth = auth
    hook: Any = _araise_for_status if isinstance(http, httpx.AsyncClient) else _raise_for_status
    http.event_hooks = {**http.event_hooks, "response": [*http.event_hooks["response"], hook]}


def translate(error: Exception) -> SequenceClientError:
    """The typed error for anything raised while making and parsing one call."""
    if isinstance(error, SequenceClientError):
        return error
    if isinstance(error, httpx.HTTPError):
        method, url = _request_of(error)
        never_sent = isinstance(
            error, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout
        )
        kind = APITimeoutError if isinstance(error, httpx.TimeoutException) else APIConnectionError
        reason = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        return kind(reason, method=method, url=url, maybe_applied=not never_sent)
    response = _current_response.get()
    if response is None:
        raise error  # not a response problem: a bug, let it surface as itself
    truncated = isinstance(error, json.JSONDecodeError)
    reason = (
        "body is not valid JSON"
        if truncated
        else f"body does not match the API spec ({type(error).__name__}: {error})"
    )
    return UnexpectedResponseError(
        reason,
        method=response.request.method,
        url=redact_url(response.request.url),
        status_code=response.status_code,
        body=response.content,
        truncated=truncated and response.is_success,
    )


def _request_of(error: httpx.HTTPError) -> tuple[str, str]:
    try:
        return error.request.method, redact_url(error.request.url)
    except RuntimeError:  # httpx raises this when the error carries no request
        return "?", "?"


def _parsed(result: Any) -> Any:
    response = _current_response.get()
    if result.parsed is None:
        raise UnexpectedResponseError(
            "status the API spec does not document",
            method=response.request.method if response else "?",
            url=redact_url(response.request.url) if response else "?",
            status_code=int(result.status_code),
            body=result.content,
            truncated=False,
        )
    return result.parsed


_PARSE_FAILURES = (httpx.HTTPError, KeyError, TypeError, ValueError, AttributeError)


def execute_sync(raw: Any, call: Call) -> Any:
    _current_response.set(None)
    try:
        return _parsed(call.endpoint.sync_detailed(client=raw, **call.kwargs))
    except _PARSE_FAILURES as error:
        raise translate(error) from error


async def execute_async(raw: Any, call: Call) -> Any:
    _current_response.set(None)
    try:
        return _parsed(await call.endpoint.asyncio_detailed(client=raw, **call.kwargs))
    except _PARSE_FAILURES as error:
        raise translate(error) from error
