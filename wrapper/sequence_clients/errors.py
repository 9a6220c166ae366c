"""Typed errors. Every failure this library reports is a `SequenceClientError`.

    SequenceClientError
    ├── InvalidRequestError        raised before anything is sent (bad UUID, email, mailbox count…)
    │   └── ConfigurationError     a credential neither passed nor in the environment
    ├── APIConnectionError         no usable HTTP response (refused, reset, …)
    │   └── APITimeoutError
    │       └── DeadlineExceededError  the call's overall deadline ran out
    ├── UnexpectedResponseError    a response that is not the JSON the spec promises
    │   └── TokenResponseError     a 200 from the OAuth token endpoint that is no usable token
    ├── PaginationError            a server that pages in circles, or more pages than allowed
    ├── TokenStoreError            the caller's token store refused a rotated OAuth token
    ├── BulkJobError               a bulk export job failed, was canceled or expired
    ├── ResponseTooLargeError      a body past the client's max_response_bytes (not read on)
    ├── ClientLifecycleError       the client cannot send from here; nothing was sent:
    │   ├── ClientClosedError          closed (or the httpx client given to it is)
    │   ├── EventLoopMismatchError     an async client on another event loop
    │   └── ForkedClientError          a caller's httpx client used in a forked child
    └── APIStatusError             the vendor answered with an error status
        ├── BadRequestError (400, 422)   ├── AuthenticationError (401)
        ├── PermissionDeniedError (403)  ├── NotFoundError (404)
        ├── ConflictError (409)          │   └── AlreadyEnrolledError
        ├── RateLimitError (429)         └── ServerError (5xx)

Messages carry method, URL (query secrets redacted), status, vendor codes and message; never a
header, token or request body. Every part a server or caller controls is cut to a few hundred
characters, so a megabyte error body never becomes a megabyte log line. Every error pickles with
its attributes (a worker process of a pool can send it back).
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

_SECRET_QUERY_WORDS = ("token", "secret", "key", "code", "password")
SNIPPET_LENGTH = 200  # bytes of a body quoted in a message
MESSAGE_LENGTH = 300  # characters of a vendor's (or a library's) message quoted in ours
URL_LENGTH = 300
CODES_LENGTH = 200


def bounded(text: str, limit: int = MESSAGE_LENGTH) -> str:
    """`text` cut to `limit` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit} more characters)"


def _request(method: str, url: str) -> str:
    return f"{bounded(method, 20)} {bounded(url, URL_LENGTH)}"


def _rebuild(kind: type[SequenceClientError], args: tuple[Any, ...], state: dict[str, Any]) -> Any:
    error = kind.__new__(kind, *args)
    error.args = args
    error.__dict__.update(state)
    return error


class SequenceClientError(Exception):
    """Base class of every error raised by sequence_clients."""

    # Whether the failed request may nevertheless have taken effect at the vendor; retried
    # creates consult it so they never create twice.
    maybe_applied = False

    def __reduce__(self) -> tuple[Any, ...]:
        # Exception's own pickling calls cls(*args), which keyword-only constructors refuse:
        # rebuild from the message and the attributes instead, for every subclass at once.
        return (_rebuild, (type(self), self.args, self.__dict__.copy()))


class InvalidRequestError(SequenceClientError, ValueError):
    """The arguments cannot make a valid request; nothing was sent."""


class ConfigurationError(InvalidRequestError):
    """A setting is neither an argument nor in the environment; `variable` names the
    environment variable that would supply it."""

    def __init__(self, variable: str) -> None:
        shown = bounded(variable, 100)
        super().__init__(f"{shown} is not set: pass the value to the constructor or set {shown}")
        self.variable = variable


class BulkJobError(SequenceClientError):
    """A bulk query job ended FAILED, CANCELED or EXPIRED instead of FINISHED."""

    def __init__(self, job_id: str, status: str, error_code: str | None) -> None:
        detail = f" ({bounded(error_code, 100)})" if error_code else ""
        super().__init__(f"bulk job {bounded(job_id, 100)} ended {bounded(status, 100)}{detail}")
        self.job_id = job_id
        self.status = status
        self.error_code = error_code


class TokenStoreError(SequenceClientError):
    """`token_store.save()` refused a rotated OAuth token, so the client did not use it.

    Boast has already invalidated the old refresh token: `token` holds the new one (its repr
    hides the secrets) for the caller to persist, and the client offers it to the store again
    before its next request. The store's own exception is the `__cause__`.
    """

    def __init__(self, token: Any, cause: BaseException) -> None:
        super().__init__(
            f"token_store.save() raised {type(cause).__name__}; the rotated OAuth token was not "
            "used. It is kept on this error as .token and offered to the store again next request"
        )
        self.token = token


class TokenStoreAccessError(SequenceClientError):
    """A token store could not be read, written or locked: an unreadable or corrupt token file,
    an unreachable Redis, a lock another process held too long. What the store held before is
    still there; the message says which store and why, never a token."""


class APIConnectionError(SequenceClientError):
    """No usable response: connection refused or reset, or a protocol error.

    `maybe_applied` is False only when the request certainly never reached the server.
    """

    def __init__(self, message: str, *, method: str, url: str, maybe_applied: bool) -> None:
        super().__init__(f"{_request(method, url)}: {bounded(message)}")
        self.method = method
        self.url = url
        self.maybe_applied = maybe_applied


class APITimeoutError(APIConnectionError):
    """The request timed out (connect, write, read or pool)."""


class UnexpectedResponseError(SequenceClientError):
    """A response the spec does not allow: not JSON, cut short, or missing required fields."""

    def __init__(
        self, reason: str, *, method: str, url: str, status_code: int, body: bytes, truncated: bool
    ) -> None:
        snippet = body[:SNIPPET_LENGTH].decode("utf-8", "replace")
        super().__init__(
            f"{_request(method, url)} -> {status_code}: {bounded(reason)}; body starts {snippet!r}"
        )
        self.method = method
        self.url = url
        self.status_code = status_code
        self.snippet = snippet
        # A 2xx body cut short means the server did the work; retrying is safe and useful.
        self.truncated = truncated
        self.maybe_applied = True


class TokenResponseError(UnexpectedResponseError):
    """The OAuth token endpoint answered 200 with something that is not a usable token (not
    JSON, or no access token).

    `token` is what could be salvaged: None, or an OAuthToken carrying the refresh token the
    answer held (with no usable access token). A client's refresh has already saved it to the
    token store and renews with it on the next request; after `exchange_code`, save it yourself.
    """

    def __init__(self, reason: str, *, token: Any, **kwargs: Any) -> None:
        super().__init__(reason, **kwargs)
        self.token = token
        self.maybe_applied = False  # the answer arrived; retrying the same grant cannot help


class PaginationError(SequenceClientError):
    """Paging stopped: the server repeated a cursor, served the same page again or a page other
    than the one asked for, or the list ran past `max_pages`. The pages before it were yielded;
    nothing was yielded twice."""

    def __init__(self, reason: str, *, pages: int) -> None:
        super().__init__(f"pagination stopped after {pages} pages: {bounded(reason)}")
        self.reason = reason
        self.pages = pages


class APIStatusError(SequenceClientError):
    """The vendor answered with an HTTP error status."""

    def __init__(
        self,
        *,
        status_code: int,
        method: str,
        url: str,
        codes: tuple[str, ...],
        message: str,
        body: Any,
        retry_after: float | None,
    ) -> None:
        code_text = f" [{bounded(', '.join(codes), CODES_LENGTH)}]" if codes else ""
        message = bounded(message)
        super().__init__(f"{_request(method, url)} -> {status_code}{code_text}: {message}")
        self.status_code = status_code
        self.method = method
        self.url = url
        self.codes = codes
        self.message = message
        self.body = body
        self.retry_after = retry_after
        # 5xx may come from a proxy after the backend committed; 4xx means the request was refused.
        self.maybe_applied = status_code >= 500


class BadRequestError(APIStatusError):
    """400 or 422: the vendor rejected the request's content."""


class AuthenticationError(APIStatusError):
    """401: missing, wrong, expired or revoked credentials."""


class GrantRevokedError(AuthenticationError):
    """Boast no longer accepts this authorization (`invalid_grant` on a refresh, and no other
    process holds a newer token): the grant was revoked or its refresh token was reused. Nothing
    the client can do renews it; a person must sign in again (`sequence-clients boast login`,
    or your app's authorize flow) and the store be given the new token."""

    @classmethod
    def from_refusal(cls, refusal: APIStatusError) -> GrantRevokedError:
        return cls(
            status_code=refusal.status_code,
            method=refusal.method,
            url=refusal.url,
            codes=refusal.codes,
            message="a person must sign in to Boast again (`sequence-clients boast login`, or "
            "your app's own sign-in): the authorization was revoked or a used refresh token "
            f"was presented ({refusal.message})",
            body=None,
            retry_after=None,
        )


class PermissionDeniedError(APIStatusError):
    """403."""


class NotFoundError(APIStatusError):
    """404."""


class ConflictError(APIStatusError):
    """409: the request conflicts with the resource's current state."""


class AlreadyEnrolledError(ConflictError):
    """The person already has an active enrollment.

    Unify answers 409 with the active ids; Boast (by our documented assumption) answers 422
    `already_enrolled`, and the client fills the ids in by looking the enrollment up.
    """

    def __init__(
        self,
        *,
        active_enrollment_id: str | None = None,
        active_sequence_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.active_enrollment_id = active_enrollment_id
        self.active_sequence_id = active_sequence_id


class RateLimitError(APIStatusError):
    """429. `retry_after` is the server's requested wait in seconds, when it gave one."""


class ServerError(APIStatusError):
    """5xx."""


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: BadRequestError,
    429: RateLimitError,
}


def redact_url(url: httpx.URL | str) -> str:
    """The URL with the values of secret-looking query parameters replaced."""
    parts = urlsplit(str(url))
    if not parts.query:
        return str(url)
    query = [
        (name, "REDACTED" if any(word in name.lower() for word in _SECRET_QUERY_WORDS) else value)
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return urlunsplit(parts._replace(query=urlencode(query)))


def describe_error_body(body: Any) -> tuple[tuple[str, ...], str]:
    """Codes and message from any of the error shapes our vendors use.

    Unify: {"status": "conflict", "message": ..., "errors": [{"code": ...}]};
    Boast: {"errors": [{"code": ..., "detail": ...}]}; OAuth2: {"error": ..., "error_description": ...};
    problem details (RFC 9457, also what proxies in front of either send): {"title": ..., "detail": ...}.
    """
    if not isinstance(body, Mapping):
        return (), ""
    codes: list[str] = []
    messages: list[str] = []
    for key, text_key in (("status", "message"), ("error", "error_description")):
        if isinstance(body.get(key), str):
            codes.append(body[key])
        if isinstance(body.get(text_key), str):
            messages.append(body[text_key])
    # Problem details: `detail` explains this occurrence, `title` only names the kind of problem.
    problem = body.get("detail") if isinstance(body.get("detail"), str) else body.get("title")
    if isinstance(problem, str):
        messages.append(problem)
    items = body.get("errors")
    for item in items if isinstance(items, list) else []:
        if isinstance(item, Mapping):
            if isinstance(item.get("code"), str):
                codes.append(item["code"])
            text = item.get("detail") or item.get("message")
            if isinstance(text, str):
                messages.append(text)
    return tuple(dict.fromkeys(codes)), "; ".join(dict.fromkeys(messages))


def _number(value: str | None) -> float | None:
    try:
        number = float(value) if value is not None else None
    except ValueError:
        return None
    return number if number is not None and math.isfinite(number) else None


def parse_retry_after(headers: httpx.Headers, now: float | None = None) -> float | None:
    """Seconds to wait from `retry-after-ms`, `Retry-After` (seconds or HTTP-date) or
    `X-RateLimit-Reset`, in that order: when a server sends both retry-after headers, the
    milliseconds are the more precise statement of the same wait."""
    now = time.time() if now is None else now
    milliseconds = _number(headers.get("retry-after-ms"))
    if milliseconds is not None:
        return max(0.0, milliseconds / 1000)
    value = headers.get("retry-after")
    if value is not None:
        seconds = _number(value)
        if seconds is not None:
            return max(0.0, seconds)
        try:
            return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - now)
        except (TypeError, ValueError, OverflowError):
            pass
    reset = _number(headers.get("x-ratelimit-reset"))
    if reset is not None:
        # Vendors send either an epoch timestamp or a delay; no delay is decades long.
        return max(0.0, reset - now) if reset > 1e9 else max(0.0, reset)
    return None


def error_from_response(response: httpx.Response) -> APIStatusError:
    """The typed error for a non-2xx response (whose body has been read)."""
    try:
        body: Any = response.json()
    except (ValueError, RecursionError):  # not JSON, or nested deeper than a parser goes
        body = None
    codes, message = describe_error_body(body)
    if not message:
        # A body of a shape we do not know still says something: quote its start.
        message = response.reason_phrase or "error"
        if response.content:
            snippet = response.content[:SNIPPET_LENGTH].decode("utf-8", "replace")
            kind = "body" if body is not None else "non-JSON body"
            message += f" ({kind} starts {snippet!r})"
    status = response.status_code
    kwargs: dict[str, Any] = {
        "status_code": status,
        "method": response.request.method,
        "url": redact_url(response.request.url),
        "codes": codes,
        "message": message,
        "body": body,
        "retry_after": parse_retry_after(response.headers),
    }
    active_id = body.get("active_enrollment_id") if isinstance(body, Mapping) else None
    if status in (409, 422) and (active_id is not None or "already_enrolled" in codes):
        return AlreadyEnrolledError(
            active_enrollment_id=active_id,
            active_sequence_id=body.get("active_sequence_id"),
            **kwargs,
        )
    error_class = ServerError if status >= 500 else _BY_STATUS.get(status, APIStatusError)
    return error_class(**kwargs)


class DeadlineExceededError(APITimeoutError):
    """A call's overall time bound ran out before it finished: the client's `deadline`
    (retries, back-off and the last request included), or an export job still not FINISHED after
    `export_timeout` seconds of polling. `maybe_applied` as for any connection error."""


# --- the request pipeline: bodies and the client's own lifecycle (issue 20 items 6-7, fork) ---


class ResponseTooLargeError(SequenceClientError):
    """The answer's body ran past the client's `max_response_bytes` (or said it would, in its
    Content-Length): reading stopped there, so memory stays bounded. The request itself was
    answered, so it may have been applied; it is not retried (the same request would get the
    same body). Raise `max_response_bytes` if such a body is expected."""

    def __init__(self, *, method: str, url: str, status_code: int, limit: int) -> None:
        super().__init__(
            f"{_request(method, url)} -> {status_code}: the body is larger than "
            f"max_response_bytes={limit}; reading stopped there (raise the option if meant)"
        )
        self.method = method
        self.url = url
        self.status_code = status_code
        self.limit = limit
        self.maybe_applied = True


class ClientLifecycleError(SequenceClientError):
    """The client cannot send from where it is used: closed, in another event loop, or in a
    forked child with an httpx client it cannot rebuild. Nothing was sent."""


class ClientClosedError(ClientLifecycleError):
    """The client (or the httpx client passed to it) was closed: build a new client, or keep
    this one open (`with`/`async with` around every use) until the last call."""


class EventLoopMismatchError(ClientLifecycleError):
    """An async client used on another event loop than the one it first sent on (for example
    a second `asyncio.run()`): its connections belong to that first loop. Build the client
    inside the loop that uses it (inside the coroutine `asyncio.run()` runs)."""


class ForkedClientError(ClientLifecycleError):
    """A client built with `httpx_client=` used in a process forked after that httpx client
    was made: its sockets are the parent's, so answers could cross. A client's own connection
    pool is rebuilt in the child by itself; build a client (and httpx client) in the child,
    or let the client own its httpx client."""
