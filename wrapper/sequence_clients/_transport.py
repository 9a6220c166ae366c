"""HTTP plumbing shared by every client: safe base URLs, default timeouts, and turning whatever
httpx or the generated code raises into the typed errors of `errors`."""

from __future__ import annotations

import ipaddress
import json
from typing import Any, TypeVar

import httpx

from . import _clock
from ._plan import Call, Operation
from .errors import (
    APIConnectionError,
    APITimeoutError,
    InvalidRequestError,
    SequenceClientError,
    UnexpectedResponseError,
    error_from_response,
    redact_url,
)

T = TypeVar("T")
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)

# Set on a request by an auth flow that will itself answer a 401 (refresh, then replay once):
# the status hook below runs inside the flow, so it must let that 401 through untouched.
REPLAYS_401 = "sequence_clients.replays_401"
# The absolute `_clock.current().monotonic()` time at which the call's deadline ends (absent or
# None: no deadline), so that an auth flow's refresh waits and token request fit inside it.
DEADLINE = "sequence_clients.deadline"


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
    if _is_error(response):
        response.read()
        raise error_from_response(response)


async def _araise_for_status(response: httpx.Response) -> None:
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
    if hook not in http.event_hooks["response"]:  # a second client on the same httpx client
        http.event_hooks = {**http.event_hooks, "response": [*http.event_hooks["response"], hook]}


def translate(error: httpx.HTTPError) -> SequenceClientError:
    """The typed error for anything httpx raises while making one request."""
    method, url = _request_of(error)
    never_sent = isinstance(error, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
    kind = APITimeoutError if isinstance(error, httpx.TimeoutException) else APIConnectionError
    reason = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return kind(reason, method=method, url=url, maybe_applied=not never_sent)


def _request_of(error: httpx.HTTPError) -> tuple[str, str]:
    try:
        return error.request.method, redact_url(error.request.url)
    except RuntimeError:  # httpx raises this when the error carries no request
        return "?", "?"


def within(timeout: httpx.Timeout, seconds_left: float | None) -> httpx.Timeout:
    """`timeout` with every phase cut to what is left of the call's deadline."""
    if seconds_left is None:
        return timeout

    def cut(phase: float | None) -> float:
        return seconds_left if phase is None else min(phase, seconds_left)

    return httpx.Timeout(
        connect=cut(timeout.connect), read=cut(timeout.read),
        write=cut(timeout.write), pool=cut(timeout.pool),
    )  # fmt: skip


# What a generated parser raises on a body that does not match the spec (a missing key, a wrong
# type, an enum value it refuses); anything else is a bug and surfaces as itself.
# RecursionError: a body nested deeper than the JSON parser or a model's from_dict goes.
_PARSE_FAILURES = (KeyError, TypeError, ValueError, AttributeError, RecursionError)


def parse(operation: Operation[T], response: httpx.Response) -> T:
    """The operation's documented success model from a 2xx answer (error statuses were raised
    by the response hook), or UnexpectedResponseError saying what does not match."""

    def unexpected(reason: str, truncated: bool = False) -> UnexpectedResponseError:
        return UnexpectedResponseError(
            reason, method=response.request.method, url=redact_url(response.request.url),
            status_code=response.status_code, body=response.content, truncated=truncated,
        )  # fmt: skip

    if response.status_code not in operation.success_statuses:
        raise unexpected("status the API spec does not document")
    try:
        return operation.parse(response)
    except json.JSONDecodeError as error:
        raise unexpected("body is not valid JSON", truncated=True) from error
    except _PARSE_FAILURES as error:
        reason = f"body does not match the API spec ({type(error).__name__}: {error})"
        raise unexpected(reason) from error


def ends(seconds_left: float | None) -> float | None:
    """The clock time at which `seconds_left` runs out (the `DEADLINE` request extension)."""
    return None if seconds_left is None else _clock.current().monotonic() + seconds_left


def send_sync(
    http: httpx.Client, call: Call[T], timeout: httpx.Timeout, ends: float | None = None
) -> T:
    try:
        response = http.request(
            **call.operation.request, timeout=timeout, extensions={DEADLINE: ends}
        )
    except httpx.HTTPError as error:
        raise translate(error) from error
    return parse(call.operation, response)


async def send_async(
    http: httpx.AsyncClient, call: Call[T], timeout: httpx.Timeout, ends: float | None = None
) -> T:
    try:
        response = await http.request(
            **call.operation.request, timeout=timeout, extensions={DEADLINE: ends}
        )
    except httpx.HTTPError as error:
        raise translate(error) from error
    return parse(call.operation, response)
