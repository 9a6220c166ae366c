"""Boast OAuth 2: tokens, the first-token helpers, and the httpx.Auth that keeps a token fresh.

Boast rotates refresh tokens: each refresh invalidates the refresh token it used. Hence three
rules. A refresh happens once however many threads or tasks find the token expired (a lock, plus a
check that nobody refreshed while we waited for it). A new token reaches `token_store.save()`
before any request uses it: a refresh token lost between the two breaks the integration for good.
And the token answer is read by hand, field by field, never through a model that could refuse it
as a whole: whatever a 200 answer looks like, a refresh token in it is saved before anything
else can fail (an answer without `expires_in` is a token of the documented lifetime, one without
`refresh_token` keeps the one we have).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import math
import re
import threading
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator, Mapping
from http import HTTPStatus
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode

import attrs
import httpx

from sequence_clients.generated.boast import Client as GeneratedBoastClient
from sequence_clients.generated.boast.api.oauth import create_token
from sequence_clients.generated.boast.models import TokenRequest, TokenRequestGrantType

from ._pipeline import AnyConnection, Target, connection_of, generated_client
from ._transport import as_timeout, checked_base_url, translate
from .errors import (
    APIStatusError,
    AuthenticationError,
    InvalidRequestError,
    TokenResponseError,
    TokenStoreError,
    describe_error_body,
    error_from_response,
    redact_url,
)

BOAST_AUTH_BASE_URL = "https://app.boast.io"
DEFAULT_SCOPE = "read write"
# Refresh this long before expiry, so a token does not lapse between our check and its use.
REFRESH_MARGIN = dt.timedelta(seconds=60)
# Boast documents tokens that live two hours; an answer that does not say how long (or says
# something unusable) gets that lifetime, and a 401 before then still refreshes and replays.
DOCUMENTED_LIFETIME = dt.timedelta(seconds=7200)
_LONGEST_LIFETIME = 366 * 24 * 3600  # seconds; a longer expires_in is not a lifetime
_HEADER_SAFE = re.compile(r"[!-~]+")


def _hidden(value: str | None) -> str:
    return "None" if value is None else "'***'"


def _aware_utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        raise InvalidRequestError("expires_at must be a timezone-aware datetime")
    return value.astimezone(dt.UTC)


@attrs.frozen
class OAuthToken:
    """An access token, the refresh token that renews it, and when it expires (UTC; None when
    unknown). repr() and str() never show the tokens."""

    access_token: str = attrs.field(repr=_hidden)
    refresh_token: str | None = attrs.field(default=None, repr=_hidden)
    expires_at: dt.datetime | None = attrs.field(default=None, converter=_aware_utc)

    def expires_within(self, margin: dt.timedelta) -> bool:
        return self.expires_at is not None and self.expires_at - margin <= dt.datetime.now(dt.UTC)


class TokenStore(Protocol):
    """Where rotated tokens are persisted. `save` must be durable when it returns: the refresh
    token it received is the only one Boast still accepts."""

    def save(self, token: OAuthToken) -> None: ...


def authorization_url(
    client_id: str,
    redirect_uri: str,
    *,
    scope: str = DEFAULT_SCOPE,
    state: str | None = None,
    auth_base_url: str = BOAST_AUTH_BASE_URL,
) -> str:
    """Where to send the user to grant access. Pass an unguessable `state` and check it on the
    redirect; then give the redirect's `code` to `exchange_code`."""
    query = {"client_id": client_id, "redirect_uri": redirect_uri, "scope": scope}
    query["response_type"] = "code"
    if state is not None:
        query["state"] = state
    return f"{auth_base_url.rstrip('/')}/oauth/authorize?{urlencode(query)}"


def _code_grant(code: str, client_id: str, client_secret: str, redirect_uri: str) -> TokenRequest:
    if not (code and client_id and client_secret and redirect_uri):
        raise InvalidRequestError("code, client_id, client_secret and redirect_uri are required")
    return TokenRequest(
        grant_type=TokenRequestGrantType.AUTHORIZATION_CODE,
        client_id=client_id,
        client_secret=client_secret,
        code=code,
        redirect_uri=redirect_uri,
    )


def token_client(
    http: httpx.Client | httpx.AsyncClient | AnyConnection,
    auth_base_url: str,
    timeout: float | httpx.Timeout | None,
    allow_insecure_http: bool,
) -> GeneratedBoastClient:
    """A generated client on the OAuth host (app.boast.io is not the API host) with our
    timeouts, sending over `http` without changing it."""
    base_url = checked_base_url(auth_base_url, allow_insecure_http=allow_insecure_http)
    target = Target(base_url, {}, None, as_timeout(timeout))
    return generated_client(GeneratedBoastClient, connection_of(http), target)


@attrs.frozen
class TokenAnswer:
    """What a 200 from the token endpoint gave: the token to save (None when it held nothing
    worth keeping), and the error to raise once that token is saved (None when it is usable)."""

    token: OAuthToken | None
    problem: TokenResponseError | None = None


def _fields(content: bytes) -> Mapping[str, Any] | None:
    """The answer's fields: JSON (RFC 6749), or the form encoding some servers still send."""
    try:
        parsed = json.loads(content)
    except (ValueError, RecursionError):
        try:
            pairs = parse_qsl(content.decode("utf-8"), strict_parsing=True)
        except (ValueError, UnicodeDecodeError):
            return None
        parsed = dict(pairs)
        if not parsed.keys() & {"access_token", "refresh_token"}:
            return None
    return parsed if isinstance(parsed, Mapping) else None


def _text(fields: Mapping[str, Any], name: str) -> str | None:
    value = fields.get(name)
    return value if isinstance(value, str) and value else None


def _bearer(fields: Mapping[str, Any]) -> str | None:
    # It goes into a header: visible ASCII only, or every request with it would fail to send.
    value = _text(fields, "access_token")
    return value if value is not None and _HEADER_SAFE.fullmatch(value) else None


def _lifetime(value: Any) -> dt.timedelta:
    """`expires_in` as a duration; the documented lifetime when it is missing or unusable."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return DOCUMENTED_LIFETIME
    if isinstance(value, bool) or not isinstance(value, int | float):
        return DOCUMENTED_LIFETIME
    if not (math.isfinite(value) and 0 < value <= _LONGEST_LIFETIME):
        return DOCUMENTED_LIFETIME
    return dt.timedelta(seconds=value)


def read_token_answer(
    response: httpx.Response, sent_at: dt.datetime, refresh_token: str | None
) -> TokenAnswer:
    """The token in a 2xx answer from the token endpoint, whatever its shape. `refresh_token`
    is the one we hold, kept when the answer brings none. Never raises."""
    fields = _fields(response.content)
    access = _bearer(fields) if fields is not None else None
    rotated = _text(fields, "refresh_token") if fields is not None else None
    if access is not None and fields is not None:
        # Expiry counts from when we asked, not from the server's clock: never later than the truth.
        expires_at = sent_at + _lifetime(fields.get("expires_in"))
        return TokenAnswer(OAuthToken(access, rotated or refresh_token, expires_at))
    # No usable token. The body is never quoted: what it holds may be a token.
    if fields is None:
        kind = response.headers.get("content-type", "no content type").split(";")[0]
        reason = f"the token answer is not JSON ({kind}, {len(response.content)} bytes)"
    else:
        reason = "the token answer has no usable access_token"
    # A rotated refresh token is all that renews access now: keep it, already expired, so that
    # the next request refreshes with it.
    salvaged = OAuthToken("", rotated, sent_at) if rotated is not None else None
    problem = TokenResponseError(
        reason + ("; its refresh_token was kept" if salvaged else ""),
        token=salvaged,
        method=response.request.method,
        url=redact_url(response.request.url),
        status_code=response.status_code,
        body=b"",
        truncated=False,
    )
    return TokenAnswer(salvaged, problem)


def _status_phrase(code: int) -> str:
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return f"status {code}"


def _refused(error: APIStatusError) -> APIStatusError:
    """The token endpoint's error status as our error. A refused grant (invalid_grant,
    invalid_client, …) is an authentication failure: the caller must authorize again.

    The OAuth error code and description carry no secret; any other body is neither quoted nor
    kept, since a token endpoint's answer (an echo of our form, say) may hold one."""
    codes, description = describe_error_body(error.body)
    refused = error.status_code in (400, 401)
    status = _status_phrase(error.status_code)
    message = description or f"{status} (the token endpoint's body is not quoted)"
    kind = AuthenticationError if refused else type(error)
    return kind(
        status_code=error.status_code,
        method=error.method,
        url=error.url,
        codes=codes,
        message=f"the token endpoint refused the grant: {message}" if refused else message,
        body=error.body if description else None,
        retry_after=error.retry_after,
    )


def _request_of(grant: TokenRequest) -> dict[str, Any]:
    # The generated operation builds the request (path, form encoding); we read the answer.
    return create_token._get_kwargs(body=grant)


def _held_refresh_token(grant: TokenRequest) -> str | None:
    held = grant.refresh_token
    return held if isinstance(held, str) and held else None


def fetch_answer(client: GeneratedBoastClient, grant: TokenRequest) -> TokenAnswer:
    """Ask the token endpoint for a token; raise what a failed request or a non-2xx status is."""
    sent_at = dt.datetime.now(dt.UTC)
    try:
        response = client.get_httpx_client().request(**_request_of(grant))
    except httpx.HTTPError as error:
        raise translate(error) from error
    if not response.is_success:
        raise _refused(error_from_response(response))
    return read_token_answer(response, sent_at, _held_refresh_token(grant))


async def afetch_answer(client: GeneratedBoastClient, grant: TokenRequest) -> TokenAnswer:
    sent_at = dt.datetime.now(dt.UTC)
    try:
        response = await client.get_async_httpx_client().request(**_request_of(grant))
    except httpx.HTTPError as error:
        raise translate(error) from error
    if not response.is_success:
        raise _refused(error_from_response(response))
    return read_token_answer(response, sent_at, _held_refresh_token(grant))


def _usable(answer: TokenAnswer) -> OAuthToken:
    if answer.problem is not None:
        raise answer.problem
    assert answer.token is not None  # an answer without a problem has a token
    return answer.token


def fetch_token(client: GeneratedBoastClient, grant: TokenRequest) -> OAuthToken:
    return _usable(fetch_answer(client, grant))


async def afetch_token(client: GeneratedBoastClient, grant: TokenRequest) -> OAuthToken:
    return _usable(await afetch_answer(client, grant))


def exchange_code(
    code: str,
    *,
    client_id: str,
    client_secret: str,
    redirect_uri: str,
    auth_base_url: str = BOAST_AUTH_BASE_URL,
    timeout: float | httpx.Timeout | None = None,
    allow_insecure_http: bool = False,
    httpx_client: httpx.Client | None = None,
) -> OAuthToken:
    """The first token, from the `code` the authorize redirect carried. Save it yourself.

    A 200 answer that is no usable token raises errors.TokenResponseError; when it held a
    refresh token, that error's `.token` carries it: save that instead."""
    grant = _code_grant(code, client_id, client_secret, redirect_uri)
    http = httpx_client if httpx_client is not None else httpx.Client()
    try:
        return fetch_token(token_client(http, auth_base_url, timeout, allow_insecure_http), grant)
    finally:
        if httpx_client is None:
            http.close()


async def aexchange_code(
    code: str,
    *,
    client_id: str,
    client_secret: str,
    redirect_uri: str,
    auth_base_url: str = BOAST_AUTH_BASE_URL,
    timeout: float | httpx.Timeout | None = None,
    allow_insecure_http: bool = False,
    httpx_client: httpx.AsyncClient | None = None,
) -> OAuthToken:
    """The asyncio twin of `exchange_code`."""
    grant = _code_grant(code, client_id, client_secret, redirect_uri)
    http = httpx_client if httpx_client is not None else httpx.AsyncClient()
    try:
        client = token_client(http, auth_base_url, timeout, allow_insecure_http)
        return await afetch_token(client, grant)
    finally:
        if httpx_client is None:
            await http.aclose()


class TokenKeeper:
    """The current token and what renews it; shared by a client and its with_options() copies
    so that they never refresh with a refresh token another one has already used."""

    def __init__(
        self,
        token: OAuthToken,
        *,
        client_id: str | None,
        client_secret: str | None,
        token_store: TokenStore | None,
    ) -> None:
        renewal = (token.refresh_token, client_id, client_secret, token_store)
        if any(part is not None for part in renewal) and not all(renewal):
            raise InvalidRequestError(
                "refreshing needs refresh_token, client_id, client_secret and token_store "
                "together (Boast rotates refresh tokens, so each new one must be saved)"
            )
        self.can_refresh = all(renewal)
        # A refresh token alone is enough to start from (a store may hold only that, after an
        # answer that brought no access token): the first request refreshes.
        if not token.access_token and not self.can_refresh:
            raise InvalidRequestError("access_token is required (or the refresh credentials)")
        self.token = token
        self._client_id = client_id or ""
        self._client_secret = client_secret or ""
        self._store = token_store
        self._unsaved: OAuthToken | None = None  # fetched, but the store refused it
        self._thread_lock = threading.Lock()
        self._task_lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"TokenKeeper(token={self.token!r}, can_refresh={self.can_refresh})"

    def _grant(self) -> TokenRequest:
        return TokenRequest(
            grant_type=TokenRequestGrantType.REFRESH_TOKEN,
            client_id=self._client_id,
            client_secret=self._client_secret,
            refresh_token=self.token.refresh_token or "",
        )

    def _save(self, new: OAuthToken) -> OAuthToken:
        assert self._store is not None  # can_refresh guarantees it
        try:
            self._store.save(new)
        except Exception as error:  # whatever the store raises, the new token must not be lost
            self._unsaved = new
            raise TokenStoreError(new, error) from error
        self._unsaved, self.token = None, new
        return new

    def _adopt(self, answer: TokenAnswer) -> OAuthToken:
        """Save what the answer brought first; only then complain about what it lacked."""
        if answer.token is not None:
            self._save(answer.token)
        return _usable(answer)

    def _settled(self, seen: OAuthToken) -> OAuthToken | None:
        """A usable token without asking the token endpoint: someone else's newer one, or the
        one the store refused last time, offered again. None: a refresh is needed."""
        if self.token is not seen and self.token.access_token:
            return self.token
        if self._unsaved is not None and self._save(self._unsaved).access_token:
            return self.token
        return None

    def refresh_sync(
        self, seen: OAuthToken, fetch: Callable[[TokenRequest], TokenAnswer]
    ) -> OAuthToken:
        """A token newer than `seen`: someone else's fresh one, or one we fetch and save."""
        with self._thread_lock:
            return self._settled(seen) or self._adopt(fetch(self._grant()))

    async def refresh_async(
        self, seen: OAuthToken, fetch: Callable[[TokenRequest], Awaitable[TokenAnswer]]
    ) -> OAuthToken:
        async with self._task_lock:
            return self._settled(seen) or self._adopt(await fetch(self._grant()))


class BoastOAuth(httpx.Auth):
    """Bearer auth that refreshes proactively (within REFRESH_MARGIN of expiry) and on a 401,
    replaying the request once. Without refresh credentials a 401 is raised as it comes."""

    requires_request_body = True  # a replay resends the body

    def __init__(self, keeper: TokenKeeper, tokens: GeneratedBoastClient | None) -> None:
        self.keeper = keeper
        self._tokens = tokens  # the generated client on the OAuth host

    def _fetch(self, grant: TokenRequest) -> TokenAnswer:
        assert self._tokens is not None
        return fetch_answer(self._tokens, grant)

    async def _afetch(self, grant: TokenRequest) -> TokenAnswer:
        assert self._tokens is not None
        return await afetch_answer(self._tokens, grant)

    def _expiring(self, token: OAuthToken) -> bool:
        return self.keeper.can_refresh and (
            not token.access_token or token.expires_within(REFRESH_MARGIN)
        )

    def _signed(self, request: httpx.Request, token: OAuthToken) -> httpx.Request:
        request.headers["Authorization"] = f"Bearer {token.access_token}"
        return request

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        keeper, token = self.keeper, self.keeper.token
        if self._expiring(token):
            token = keeper.refresh_sync(token, self._fetch)
        response = yield self._signed(request, token)
        if response.status_code == 401 and keeper.can_refresh:
            token = keeper.refresh_sync(token, self._fetch)
            yield self._signed(request, token)

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        keeper, token = self.keeper, self.keeper.token
        if self._expiring(token):
            token = await keeper.refresh_async(token, self._afetch)
        response = yield self._signed(request, token)
        if response.status_code == 401 and keeper.can_refresh:
            token = await keeper.refresh_async(token, self._afetch)
            yield self._signed(request, token)


__all__ = [
    "BOAST_AUTH_BASE_URL",
    "BoastOAuth",
    "OAuthToken",
    "TokenKeeper",
    "TokenStore",
    "aexchange_code",
    "authorization_url",
    "exchange_code",
]
