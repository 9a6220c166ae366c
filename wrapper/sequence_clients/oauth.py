"""Boast OAuth 2: tokens, the first-token helpers, and the httpx.Auth that keeps a token fresh.

Boast rotates refresh tokens: each refresh invalidates the refresh token it used, and presenting
a used one may revoke the whole grant. Hence these rules. A refresh happens once however many
threads, tasks, clients or processes find the token expired: clients on one token store share
in-process locks, a SharedTokenStore adds its cross-process lock, and under the locks the store is
read again, so that a token someone else saved meanwhile is used instead of refreshing (a
double-checked refresh). A refresh is part of the call that needed it: waits and the token request
end with the call's deadline. A new token reaches `token_store.save()` before any request uses it:
a refresh token lost between the two breaks the integration for good.
And the token answer is read by hand, field by field, never through a model that could refuse it
as a whole: whatever a 200 answer looks like, a refresh token in it is saved before anything
else can fail (an answer without `expires_in` is a token of the documented lifetime, one without
`refresh_token` keeps the one we have).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import math
import re
import threading
import time
import weakref
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator, Mapping
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from http import HTTPStatus
from typing import Any, Protocol, runtime_checkable
from urllib.parse import parse_qsl, urlencode

import attrs
import httpx

from sequence_clients.generated.boast import Client as GeneratedBoastClient
from sequence_clients.generated.boast.api.oauth import create_token
from sequence_clients.generated.boast.models import TokenRequest, TokenRequestGrantType

from . import _clock, _telemetry
from ._pipeline import DEADLINE_EXTENSION, AnyConnection, Target, connection_of, generated_client
from ._transport import as_timeout, checked_base_url, translate, within
from .errors import (
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    DeadlineExceededError,
    GrantRevokedError,
    InvalidRequestError,
    SequenceClientError,
    TokenResponseError,
    TokenStoreAccessError,
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
# Longest wait for a token store's lock, or another refresher, in a call without a deadline:
# the token request's own timeouts (5 s connect, 30 s read by default) with room to spare.
LOCK_WAIT = 90.0
_SLACK = 0.05  # seconds: a deadline this close is as good as gone
_POLL = 0.01  # seconds between looks at a lock held by another thread (async waits)
_STORE_WAIT_WORTH_TELLING = 0.05  # seconds: a longer wait for the store's lock is logged
_INVALID_GRANT = "invalid_grant"
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
    token it received is the only one Boast still accepts.

    A save-only store serves one process: clients on the same store object refresh once, but
    another process cannot see what this one saved. Share a grant between processes with a
    SharedTokenStore (token_stores.FileTokenStore, token_stores.RedisTokenStore)."""

    def save(self, token: OAuthToken) -> None: ...


@runtime_checkable
class SharedTokenStore(TokenStore, Protocol):
    """A TokenStore several processes can share. The client holds `lock()` (or `alock()` in
    asyncio) while it reads the store with `load()` and, only if the stored token is not newer
    and still valid, refreshes and saves. The locks raise TimeoutError when not acquired within
    `timeout` seconds; errors reading or locking should be errors.TokenStoreAccessError."""

    def load(self) -> OAuthToken | None: ...

    def lock(self, timeout: float) -> AbstractContextManager[None]: ...

    def alock(self, timeout: float) -> AbstractAsyncContextManager[None]: ...


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


def _request_of(
    http: httpx.Client | httpx.AsyncClient, grant: TokenRequest, timeout: httpx.Timeout | None
) -> tuple[httpx.Request, str]:
    """The token request and its path template (for its span). The generated operation builds
    it (path, form encoding); we read the answer."""
    operation = create_token.operation(body=grant)
    request = http.build_request(**operation.request, timeout=timeout or http.timeout)
    return request, operation.url_template or operation.request["url"]


def _held_refresh_token(grant: TokenRequest) -> str | None:
    held = grant.refresh_token
    return held if isinstance(held, str) and held else None


def fetch_answer(
    client: GeneratedBoastClient, grant: TokenRequest, timeout: httpx.Timeout | None = None
) -> TokenAnswer:
    """Ask the token endpoint for a token; raise what a failed request or a non-2xx status is.
    `timeout`: instead of the client's (a refresh cut to its call's deadline)."""
    sent_at = dt.datetime.now(dt.UTC)
    http = client.get_httpx_client()
    request, template = _request_of(http, grant, timeout)
    with _telemetry.token_request(request, template=template) as attempt:
        started = time.perf_counter()
        try:
            response = http.send(request)
        except httpx.HTTPError as error:
            failure = translate(error)
            attempt.answered(None, time.perf_counter() - started, failure)
            raise failure from error
        return _answer_of(response, sent_at, grant, attempt, time.perf_counter() - started)


async def afetch_answer(
    client: GeneratedBoastClient, grant: TokenRequest, timeout: httpx.Timeout | None = None
) -> TokenAnswer:
    sent_at = dt.datetime.now(dt.UTC)
    http = client.get_async_httpx_client()
    request, template = _request_of(http, grant, timeout)
    with _telemetry.token_request(request, template=template) as attempt:
        started = time.perf_counter()
        try:
            response = await http.send(request)
        except httpx.HTTPError as error:
            failure = translate(error)
            attempt.answered(None, time.perf_counter() - started, failure)
            raise failure from error
        return _answer_of(response, sent_at, grant, attempt, time.perf_counter() - started)


def _answer_of(
    response: httpx.Response,
    sent_at: dt.datetime,
    grant: TokenRequest,
    attempt: _telemetry.Attempt,
    seconds: float,
) -> TokenAnswer:
    """The answer read, or the token endpoint's error status raised; the attempt told which."""
    if not response.is_success:
        refused = _refused(error_from_response(response))
        attempt.answered(response.status_code, seconds, refused)
        raise refused
    attempt.answered(response.status_code, seconds, None)
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


class _Grant:
    """What every client of one grant (one token store) in this process shares: the locks that
    make a refresh happen once across them, the newest token any of them holds, and a token the
    store refused (offered to it again before anything else)."""

    def __init__(self) -> None:
        self.thread_lock = threading.Lock()
        self._task_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock]
        self._task_locks = weakref.WeakKeyDictionary()
        self.latest: OAuthToken | None = None
        self.unsaved: OAuthToken | None = None

    def task_lock(self) -> asyncio.Lock:
        """This event loop's lock (an asyncio.Lock belongs to one loop)."""
        loop = asyncio.get_running_loop()
        with _GRANTS_LOCK:
            return self._task_locks.setdefault(loop, asyncio.Lock())


# One _Grant per token store object, so two clients built on one store never both refresh.
_GRANTS: dict[int, tuple[Callable[[], object], _Grant]] = {}
# Reentrant: a store the garbage collector frees while this thread holds the lock (collection
# runs on whatever allocation triggers it, inside _grant_of too) calls _forget on this thread.
_GRANTS_LOCK = threading.RLock()


def _grant_of(store: TokenStore) -> _Grant:
    key = id(store)
    with _GRANTS_LOCK:
        found = _GRANTS.get(key)
        if found is not None and found[0]() is store:
            return found[1]
        grant = _Grant()
        try:
            _GRANTS[key] = (weakref.ref(store), grant)
            weakref.finalize(store, _forget, key, grant)
        except TypeError:  # not weak-referenceable: kept, so that its id is never reused
            _GRANTS[key] = (lambda: store, grant)
        return grant


def _forget(key: int, grant: _Grant) -> None:
    with _GRANTS_LOCK:
        found = _GRANTS.get(key)
        if found is not None and found[1] is grant:
            del _GRANTS[key]


def _newer(candidate: OAuthToken, held: OAuthToken) -> bool:
    """Whether `candidate` (from the store, or another client) replaces `held`. A different
    token is trusted unless `held` provably outlives it: the store is where rotations land."""
    if (candidate.access_token, candidate.refresh_token) == (held.access_token, held.refresh_token):
        return False
    if candidate.expires_at is not None and held.expires_at is not None:
        return candidate.expires_at >= held.expires_at
    return True


@attrs.frozen
class RefreshBound:
    """How long a refresh may take: until the call's deadline (`ends`, on `_clock`), else
    LOCK_WAIT for each wait. `method` and `url` name the call, for the errors."""

    ends: float | None
    method: str = "?"
    url: str = "?"

    def left(self) -> float | None:
        return None if self.ends is None else self.ends - _clock.current().monotonic()

    def wait(self) -> float:
        """How long the next wait for a lock may last."""
        left = self.left()
        return LOCK_WAIT if left is None else max(0.0, min(left, LOCK_WAIT))

    def ran_out(self) -> bool:
        left = self.left()
        return left is not None and left < _SLACK

    def expired(self, waiting_for: str) -> SequenceClientError:
        """The error for a wait that ended without what it waited for."""
        error: SequenceClientError
        if self.ran_out():
            error = DeadlineExceededError(
                f"the call's deadline ran out while waiting for {waiting_for}",
                method=self.method,
                url=self.url,
                maybe_applied=False,
            )
        else:
            error = TokenStoreAccessError(
                f"waited {LOCK_WAIT:g} s for {waiting_for}; the refresh did not happen"
            )
        return error

    def timeout(self, configured: httpx.Timeout) -> httpx.Timeout:
        """The token request's timeouts, cut to what is left of the call."""
        if self.ran_out():
            raise self.expired("the token endpoint")
        return within(configured, self.left())


class TokenKeeper:
    """The current token and what renews it; shared by a client and its with_options() copies.
    Clients on one token store share a `_Grant`, so a refresh happens once per process; a
    SharedTokenStore's lock makes it once across processes too."""

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
        self._client_id, self._client_secret = client_id, client_secret
        self._store = token_store
        self._shared = token_store if isinstance(token_store, SharedTokenStore) else None
        self._state = _grant_of(token_store) if token_store is not None else _Grant()

    def __repr__(self) -> str:
        return f"TokenKeeper(token={self.token!r}, can_refresh={self.can_refresh})"

    def _grant(self, refresh_token: str) -> TokenRequest:
        assert self._client_id and self._client_secret  # only a keeper that can_refresh asks
        return TokenRequest(
            grant_type=TokenRequestGrantType.REFRESH_TOKEN,
            client_id=self._client_id,
            client_secret=self._client_secret,
            refresh_token=refresh_token,
        )

    def _take(self, token: OAuthToken) -> OAuthToken:
        self.token = self._state.latest = token
        return token

    def _save(self, new: OAuthToken) -> OAuthToken:
        assert self._store is not None  # can_refresh guarantees it
        try:
            self._store.save(new)
        except Exception as error:  # whatever the store raises, the new token must not be lost
            self._state.unsaved = new
            raise TokenStoreError(new, error) from error
        self._state.unsaved = None
        return self._take(new)

    def _adopt(self, answer: TokenAnswer) -> OAuthToken:
        """Save what the answer brought first; only then complain about what it lacked."""
        if answer.token is not None:
            self._save(answer.token)
        return _usable(answer)

    def _load(self) -> OAuthToken | None:
        if self._shared is None:
            return None
        try:
            return self._shared.load()
        except SequenceClientError:
            raise
        except Exception as error:  # a store of the caller's own: still a typed error
            raise TokenStoreAccessError(
                f"token_store.load() raised {type(error).__name__}"
            ) from error

    @staticmethod
    def _fresh(token: OAuthToken, seen: OAuthToken) -> bool:
        """Usable instead of refreshing: not the token that expired or was refused."""
        return (
            bool(token.access_token)
            and token.access_token != seen.access_token
            and not token.expires_within(REFRESH_MARGIN)
        )

    def _settled(self, seen: OAuthToken) -> OAuthToken | None:
        """In-process, before any store lock: a newer token this keeper or another client of
        the grant already has. None: look further."""
        for candidate in (self.token, self._state.latest):
            if candidate is not None and self._fresh(candidate, seen):
                return self._take(candidate)
        return None

    def _choose(self, seen: OAuthToken, presented: set[str]) -> OAuthToken | str | None:
        """Under every lock: a token to use, the refresh token to present, or None when the
        only one left was already refused."""
        if self._state.unsaved is not None:
            self._save(self._state.unsaved)
        current = self.token
        for candidate in (self._state.latest, self._load()):
            if candidate is not None and _newer(candidate, current):
                current = candidate
        self._take(current)
        if self._fresh(current, seen):
            return current
        refresh = current.refresh_token
        return None if refresh is None or refresh in presented else refresh

    def _revoked(self, refused: AuthenticationError | None) -> GrantRevokedError:
        _telemetry.event(
            _telemetry.TOKEN_REVOKED,
            "Boast refused the refresh token and no newer one exists: sign in again",
            level=logging.WARNING,
            has_refresh_token=refused is not None,
        )
        if refused is None:  # a stored token without a refresh token: nothing renews it
            raise TokenStoreAccessError("the token store holds no refresh token")
        error = GrantRevokedError.from_refusal(refused)
        error.__cause__ = refused
        return error

    def _refreshing(self, seen: OAuthToken, presented: set[str]) -> None:
        """The decision to ask the token endpoint: logged, a span event, counted."""
        reason = "expiring" if self._expired(seen) else "refused"
        _telemetry.event(
            _telemetry.TOKEN_REFRESH,
            "refreshing the Boast access token (%(reason)s, try %(refresh_try)s)",
            reason=reason,
            shared_store=self._shared is not None,
            refresh_try=len(presented),  # a refused refresh token may have a newer one behind it
        )

    @staticmethod
    def _expired(seen: OAuthToken) -> bool:
        return not seen.access_token or seen.expires_within(REFRESH_MARGIN)

    def _locked_sync(self, seen: OAuthToken, fetch: Fetch, bound: RefreshBound) -> OAuthToken:
        presented: set[str] = set()
        refused: AuthenticationError | None = None
        while True:
            choice = self._choose(seen, presented)
            if choice is None:
                raise self._revoked(refused)
            if isinstance(choice, OAuthToken):
                return choice
            presented.add(choice)
            self._refreshing(seen, presented)
            try:
                return self._adopt(fetch(self._grant(choice), bound))
            except AuthenticationError as error:
                if _INVALID_GRANT not in error.codes:
                    raise
                refused = error  # another process may have rotated it: look again

    async def _locked_async(
        self, seen: OAuthToken, fetch: AsyncFetch, bound: RefreshBound
    ) -> OAuthToken:
        presented: set[str] = set()
        refused: AuthenticationError | None = None
        while True:
            choice = self._choose(seen, presented)
            if choice is None:
                raise self._revoked(refused)
            if isinstance(choice, OAuthToken):
                return choice
            presented.add(choice)
            self._refreshing(seen, presented)
            try:
                return self._adopt(await fetch(self._grant(choice), bound))
            except AuthenticationError as error:
                if _INVALID_GRANT not in error.codes:
                    raise
                refused = error

    def _wait_for_thread_lock(self, bound: RefreshBound) -> None:
        lock = self._state.thread_lock
        if lock.acquire(blocking=False):
            return
        _waiting("another thread's refresh", "thread")
        if not lock.acquire(timeout=bound.wait()):
            raise bound.expired("another thread's refresh")

    def refresh_sync(
        self, seen: OAuthToken, fetch: Fetch, bound: RefreshBound | None = None
    ) -> OAuthToken:
        """A token newer than `seen`: someone else's fresh one, or one we fetch and save."""
        bound = bound or RefreshBound(None)
        self._wait_for_thread_lock(bound)
        try:
            if (token := self._settled(seen)) is not None:
                return token
            if self._shared is None:
                return self._locked_sync(seen, fetch, bound)
            with contextlib.ExitStack() as held:
                started = time.perf_counter()
                try:
                    held.enter_context(self._shared.lock(bound.wait()))
                except TimeoutError:
                    _gave_up_on_store_lock()
                    raise bound.expired("the token store's lock") from None
                _waited_for_store_lock(time.perf_counter() - started)
                return self._locked_sync(seen, fetch, bound)
        finally:
            self._state.thread_lock.release()

    async def _await_thread_lock(self, bound: RefreshBound) -> None:
        """The thread lock without blocking the event loop (sync clients of the grant in other
        threads take it too)."""
        lock, clock = self._state.thread_lock, _clock.current()
        if lock.acquire(blocking=False):
            return
        _waiting("another thread's refresh", "thread")
        ends = clock.monotonic() + bound.wait()
        while not lock.acquire(blocking=False):
            left = ends - clock.monotonic()
            if left <= 0:
                raise bound.expired("another thread's refresh")
            await clock.asleep(min(_POLL, left))

    async def refresh_async(
        self, seen: OAuthToken, fetch: AsyncFetch, bound: RefreshBound | None = None
    ) -> OAuthToken:
        bound = bound or RefreshBound(None)
        task_lock = self._state.task_lock()
        if task_lock.locked():
            _waiting("another task's refresh", "task")
        try:
            await asyncio.wait_for(task_lock.acquire(), bound.wait())
        except TimeoutError:
            raise bound.expired("another task's refresh") from None
        try:
            await self._await_thread_lock(bound)
            try:
                if (token := self._settled(seen)) is not None:
                    return token
                if self._shared is None:
                    return await self._locked_async(seen, fetch, bound)
                async with contextlib.AsyncExitStack() as held:
                    started = time.perf_counter()
                    try:
                        await held.enter_async_context(self._shared.alock(bound.wait()))
                    except TimeoutError:
                        _gave_up_on_store_lock()
                        raise bound.expired("the token store's lock") from None
                    _waited_for_store_lock(time.perf_counter() - started)
                    return await self._locked_async(seen, fetch, bound)
            finally:
                self._state.thread_lock.release()
        finally:
            task_lock.release()


def _waiting(what: str, holder: str) -> None:
    _telemetry.event(
        _telemetry.TOKEN_WAIT, "waiting for %(what)s of the Boast token", what=what, holder=holder
    )


def _waited_for_store_lock(seconds: float) -> None:
    # The store's lock blocks inside the store, so a wait is only known once it is over; a
    # short one is the lock's own cost (a file, a Redis round trip), not another holder.
    if seconds >= _STORE_WAIT_WORTH_TELLING:
        _telemetry.event(
            _telemetry.TOKEN_WAIT,
            "waited %(seconds).2fs for the Boast token store's lock",
            holder="token_store",
            seconds=seconds,
        )


def _gave_up_on_store_lock() -> None:
    _telemetry.event(
        _telemetry.TOKEN_WAIT,
        "gave up waiting for the Boast token store's lock",
        holder="token_store",
        timed_out=True,
    )


Fetch = Callable[[TokenRequest, RefreshBound], TokenAnswer]
AsyncFetch = Callable[[TokenRequest, RefreshBound], Awaitable[TokenAnswer]]


class BoastOAuth(httpx.Auth):
    """Bearer auth that refreshes proactively (within REFRESH_MARGIN of expiry) and on a 401,
    replaying the request once. Without refresh credentials a 401 is raised as it comes. A
    refresh is part of the call: the request's `sequence_clients.deadline` extension bounds its
    waits and its token request."""

    requires_request_body = True  # a replay resends the body

    def __init__(self, keeper: TokenKeeper, tokens: GeneratedBoastClient | None) -> None:
        self.keeper = keeper
        self._tokens = tokens  # the generated client on the OAuth host

    def _cut(self, error: APITimeoutError, bound: RefreshBound) -> SequenceClientError:
        return bound.expired("the token endpoint") if bound.ran_out() else error

    def _fetch(self, grant: TokenRequest, bound: RefreshBound) -> TokenAnswer:
        assert self._tokens is not None
        timeout = bound.timeout(self._tokens.get_httpx_client().timeout)
        try:
            return fetch_answer(self._tokens, grant, timeout)
        except APITimeoutError as error:
            raise self._cut(error, bound) from None

    async def _afetch(self, grant: TokenRequest, bound: RefreshBound) -> TokenAnswer:
        assert self._tokens is not None
        timeout = bound.timeout(self._tokens.get_async_httpx_client().timeout)
        try:
            return await afetch_answer(self._tokens, grant, timeout)
        except APITimeoutError as error:
            raise self._cut(error, bound) from None

    def _expiring(self, token: OAuthToken) -> bool:
        return self.keeper.can_refresh and (
            not token.access_token or token.expires_within(REFRESH_MARGIN)
        )

    @staticmethod
    def _bound(request: httpx.Request) -> RefreshBound:
        ends = request.extensions.get(DEADLINE_EXTENSION)
        return RefreshBound(
            ends if isinstance(ends, int | float) else None,
            request.method,
            redact_url(request.url),
        )

    def _signed(self, request: httpx.Request, token: OAuthToken) -> httpx.Request:
        request.headers["Authorization"] = f"Bearer {token.access_token}"
        return request

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        keeper, token = self.keeper, self.keeper.token
        if self._expiring(token):
            token = keeper.refresh_sync(token, self._fetch, self._bound(request))
        response = yield self._signed(request, token)
        if response.status_code == 401 and keeper.can_refresh:
            token = keeper.refresh_sync(token, self._fetch, self._bound(request))
            yield self._signed(request, token)

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        keeper, token = self.keeper, self.keeper.token
        if self._expiring(token):
            token = await keeper.refresh_async(token, self._afetch, self._bound(request))
        response = yield self._signed(request, token)
        if response.status_code == 401 and keeper.can_refresh:
            token = await keeper.refresh_async(token, self._afetch, self._bound(request))
            yield self._signed(request, token)


__all__ = [
    "BOAST_AUTH_BASE_URL",
    "BoastOAuth",
    "OAuthToken",
    "SharedTokenStore",
    "TokenKeeper",
    "TokenStore",
    "aexchange_code",
    "authorization_url",
    "exchange_code",
]
