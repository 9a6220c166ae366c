"""HTTP plumbing the pipeline (`_pipeline`) and the OAuth token client share: safe base URLs,
default timeouts cut to a deadline, and turning whatever httpx or a generated parser raises into
the typed errors of `errors`."""

from __future__ import annotations

import ipaddress
import json
from typing import TypeVar

import httpx

from ._plan import Operation
from .errors import (
    APIConnectionError,
    APITimeoutError,
    InvalidRequestError,
    SequenceClientError,
    UnexpectedResponseError,
    redact_url,
)

T = TypeVar("T")
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)


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
    """The operation's documented success model from a 2xx answer (`_pipeline.classify` raised
    error statuses already), or UnexpectedResponseError saying what does not match."""

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
