"""Boast OAuth 2: tokens, the first-token helpers, and the httpx.Auth that keeps a token fresh.

Boast rotates refresh tokens: each refresh invalidates the refresh token it used. Hence two rules.
A refresh happens once however many threads or tasks find the token expired (a lock, plus a check
that nobody refreshed while we waited for it). And a new token reaches `token_store.save()` before
any request uses it: a refresh token lost between the two breaks the integration for good.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections.abc import AsyncGenerator, Callable, Generator
from typing import Any, Protocol
from urllib.parse import urlencode

import attrs
import httpx

from sequence_clients.generated.boast import Client as GeneratedBoastClient
from sequence_clients.generated.boast.api.oauth import create_token
from sequence_clients.generated.boast.models import (
    TokenRequest,
    TokenRequestGrantType,
    TokenResponse,
)

from ._plan import Call
from ._transport import (
    REPLAYS_401,
    as_timeout,
    checked_base_url,
    configure_http,
    execute_async,
    execute_sync,
)
from .errors import APIStatusError, AuthenticationError, InvalidRequestError, TokenStoreError

BOAST_AUTH_BASE_URL = "https://app.boast.io"
DEFAULT_SCOPE = "read write"
# Refresh this long before expiry, so a token does not lapse between our check and its use.
REFRESH_MARGIN = dt.timedelta(seconds=60)


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
    http: httpx.Client | httpx.AsyncClient,
    auth_base_url: str,
    timeout: float | httpx.Timeout | None,
    allow_insecure_http: bool,
) -> GeneratedBoastClient:
    """A generated client on the OAuth host (app.boast.io is not the API host), with our error
    hook and timeouts."""
    base_url = checked_base_url(auth_base_url, allow_insecure_http=allow_insecure_http)
    configure_http(http, base_url=base_url, timeout=as_timeout(timeout), headers={}, auth=None)
    client = GeneratedBoastClient(base_url=base_url)
    if isinstance(http, httpx.AsyncClient):
        return client.set_async_httpx_client(http)
    return client.set_httpx_client(http)


def _token(response: TokenResponse, sent_at: dt.datetime) -> OAuthToken:
    # Expiry counts from when we asked, not from the server's clock: never later than the truth.
    expires_at = sent_at + dt.timedelta(seconds=response.expires_in)
    return OAuthToken(response.access_token, response.refresh_token, expires_at)


def _refused(error: APIStatusError) -> APIStatusError:
    """A refused grant (invalid_grant, invalid_client, …) is an authentication failure: the
    caller must authorize again. The OAuth error code and description carry no secret."""
    if error.status_code not in (400, 401):
        return error
    return AuthenticationError(
        status_code=error.status_code,
        method=error.method,
        url=error.url,
        codes=error.codes,
        message=f"the token endpoint refused the grant: {error.message or 'no reason given'}",
        body=error.body,
        retry_after=error.retry_after,
    )


def fetch_token(client: GeneratedBoastClient, grant: TokenRequest) -> OAuthToken:
    sent_at = dt.datetime.now(dt.UTC)
    try:
        return _token(execute_sync(client, Call(create_token, {"body": grant})), sent_at)
    except APIStatusError as error:
        raise _refused(error) from None


async def afetch_token(client: GeneratedBoastClient, grant: TokenRequest) -> OAuthToken:
    sent_at = dt.datetime.now(dt.UTC)
    try:
        return _token(await execute_async(client, Call(create_token, {"body": grant})), sent_at)
    except APIStatusError as error:
        raise _refused(error) from None


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
    """The first token, from the `code` the authorize redirect carried. Save it yourself."""
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
        if not token.access_token:
            raise InvalidRequestError("access_token is required")
        renewal = (token.refresh_token, client_id, client_secret, token_store)
        if any(part is not None for part in renewal) and not all(renewal):
            raise InvalidRequestError(
                "refreshing needs refresh_token, client_id, client_secret and token_store "
                "together (Boast rotates refresh tokens, so each new one must be saved)"
            )
        self.can_refresh = all(renewal)
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

    def _adopt(self, new: OAuthToken) -> OAuthToken:
        assert self._store is not None  # can_refresh guarantees it
        try:
            self._store.save(new)
        except Exception as error:  # whatever the store raises, the new token must not be lost
            self._unsaved = new
            raise TokenStoreError(new, error) from error
        self._unsaved, self.token = None, new
        return new

    def refresh_sync(
        self, seen: OAuthToken, fetch: Callable[[TokenRequest], OAuthToken]
    ) -> OAuthToken:
        """A token newer than `seen`: someone else's fresh one, or one we fetch and save."""
        with self._thread_lock:
            if self.token is not seen:
                return self.token
            return self._adopt(self._unsaved or fetch(self._grant()))

    async def refresh_async(
        self, seen: OAuthToken, fetch: Callable[[TokenRequest], Any]
    ) -> OAuthToken:
        async with self._task_lock:
            if self.token is not seen:
                return self.token
            return self._adopt(self._unsaved or await fetch(self._grant()))


class BoastOAuth(httpx.Auth):
    """Bearer auth that refreshes proactively (within REFRESH_MARGIN of expiry) and on a 401,
    replaying the request once. Without refresh credentials a 401 is raised as it comes."""

    requires_request_body = True  # a replay resends the body

    def __init__(self, keeper: TokenKeeper, tokens: GeneratedBoastClient | None) -> None:
        self.keeper = keeper
        self._tokens = tokens  # the generated client on the OAuth host

    def _fetch(self, grant: TokenRequest) -> OAuthToken:
        assert self._tokens is not None
        return fetch_token(self._tokens, grant)

    async def _afetch(self, grant: TokenRequest) -> OAuthToken:
        assert self._tokens is not None
        return await afetch_token(self._tokens, grant)

    def _expiring(self, token: OAuthToken) -> bool:
        return self.keeper.can_refresh and token.expires_within(REFRESH_MARGIN)

    def _signed(self, request: httpx.Request, token: OAuthToken, replay: bool) -> httpx.Request:
        request.headers["Authorization"] = f"Bearer {token.access_token}"
        request.extensions[REPLAYS_401] = replay  # lets the 401 reach us instead of raising
        return request

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        keeper, token = self.keeper, self.keeper.token
        if self._expiring(token):
            token = keeper.refresh_sync(token, self._fetch)
        response = yield self._signed(request, token, keeper.can_refresh)
        if response.status_code == 401 and keeper.can_refresh:
            token = keeper.refresh_sync(token, self._fetch)
            yield self._signed(request, token, False)

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        keeper, token = self.keeper, self.keeper.token
        if self._expiring(token):
            token = await keeper.refresh_async(token, self._afetch)
        response = yield self._signed(request, token, keeper.can_refresh)
        if response.status_code == 401 and keeper.can_refresh:
            token = await keeper.refresh_async(token, self._afetch)
            yield self._signed(request, token, False)


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
