"""Boast's OAuth as a user meets it: the first token from a code grant, refresh before expiry
and on a 401 (once, however many threads or tasks), the rotated token saved before it is used,
token answers in every form a server sends, refresh credentials all or nothing, and no secret
in any repr, log or message."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from boast_grant import boast_refusing_to_save
from twin_harness import ASYNC, Twin, closed, settle
from wrapper_helpers import (
    ACCOUNT,
    ACCOUNT_ID,
    BoastOptions,
    MakeSandbox,
    MemoryTokenStore,
    Wire,
    boast_on,
    targets,
    unavailable,
)

from sequence_clients import (
    AsyncBoastClient,
    BoastClient,
    OAuthToken,
    aexchange_code,
    authorization_url,
    errors,
    exchange_code,
)
from sequence_clients.sandbox import Sandbox


def expired_token_options(sandbox: Sandbox, store: MemoryTokenStore) -> dict[str, Any]:
    state = sandbox.boast
    pair = state.issue_token()
    return {
        "access_token": "expired-access",
        "refresh_token": pair.refresh_token,
        "expires_at": dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5),
        "client_id": state.client_id,
        "client_secret": state.client_secret,
        "token_store": store,
        "auth_base_url": sandbox.boast_auth_base_url,
    }


CLIENT_ID, CLIENT_SECRET = "client-id-abc", "client-secret-xyz"


REDIRECT = "https://app.example/oauth/callback"


class TokenEndpoint:
    """app.boast.io's token endpoint: the forms it received, and a fresh token for each."""

    def __init__(self) -> None:
        self.forms: list[dict[str, str]] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.forms.append({k: v[0] for k, v in parse_qs(request.content.decode()).items()})
        n = len(self.forms)
        return httpx.Response(
            200,
            json={"access_token": f"access-{n}", "token_type": "Bearer", "expires_in": 7200, "refresh_token": f"refresh-{n}"},
        )  # fmt: skip

    async def ahandle(self, request: httpx.Request) -> httpx.Response:
        return self.handle(request)


GRANT = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "redirect_uri": REDIRECT}


class RefusingApi:
    """An API that refuses every bearer (revoked access), and a token endpoint that still issues."""

    def __init__(self) -> None:
        self.bearers: list[str] = []
        self.refreshes = 0

    async def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            self.refreshes += 1
            body = {"access_token": f"access-{self.refreshes}", "token_type": "Bearer", "expires_in": 7200, "refresh_token": f"refresh-{self.refreshes}"}  # fmt: skip
            return httpx.Response(200, json=body)
        self.bearers.append(request.headers["authorization"])
        detail = {"detail": "The access token is invalid", "code": "unauthorized"}
        return httpx.Response(401, json={"errors": [detail]})


def token_endpoint(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> httpx.Client:
    return httpx.Client(
        transport=httpx.MockTransport(lambda r: httpx.Response(status, json=body, headers=headers))
    )


def token_answer(content: bytes, content_type: str) -> httpx.Client:
    answer = httpx.Response(200, content=content, headers={"content-type": content_type})
    return httpx.Client(transport=httpx.MockTransport(lambda request: answer))


REDIRECT_URI = "https://example.com/cb"


LIFETIME = 7200  # Boast's documented token lifetime, in seconds


FORM = "application/x-www-form-urlencoded"


PARTIAL_MESSAGE = (
    "refreshing needs refresh_token, client_id, client_secret and token_store together "
    "(Boast rotates refresh tokens, so each new one must be saved)"
)


RENEWAL = {
    "refresh_token": "refresh-0",
    "client_id": CLIENT_ID,
    "client_secret": CLIENT_SECRET,
    "token_store": MemoryTokenStore(),
}


PARTIAL = [
    dict(given)
    for size in range(1, len(RENEWAL))
    for given in itertools.combinations(RENEWAL.items(), size)
]


@pytest.fixture
def tokyo_local_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process's local time zone is not UTC (as on many a laptop)."""
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


class TokenEndpointAnswering:
    """The OAuth host: answers the code grant with `answer` and keeps the forms it received."""

    def __init__(self, answer: httpx.Response) -> None:
        self.answer = answer
        self.grants: list[dict[str, list[str]]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.grants.append(parse_qs(request.content.decode()))
        answer = self.answer
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)


def form_answer(body: str | bytes, content_type: str = FORM) -> httpx.Response:
    content = body.encode() if isinstance(body, str) else body
    return httpx.Response(200, content=content, headers={"content-type": content_type})


def exchange(answer: httpx.Response) -> OAuthToken:
    http = httpx.Client(transport=httpx.MockTransport(TokenEndpointAnswering(answer)))
    return exchange_code(
        "the-code",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_uri=REDIRECT_URI,
        httpx_client=http,
    )


def reason(error: errors.TokenResponseError) -> str:
    """What the message says is wrong with the answer (the body is never quoted)."""
    head, _, rest = str(error).partition(" -> 200: ")
    assert head == "POST https://app.boast.io/oauth/token"
    said, _, quoted = rest.partition("; body starts ")
    assert quoted == "''"
    return said


def seconds_left(token: OAuthToken) -> float:
    assert token.expires_at is not None
    return (token.expires_at - dt.datetime.now(dt.UTC)).total_seconds()


Client = BoastClient | AsyncBoastClient


def token_json(**fields: Any) -> httpx.Response:
    return httpx.Response(200, json={"token_type": "Bearer", **fields})


class ScriptedBoast:
    """The token endpoint answers from `answers`, in order; the API accepts `valid` bearers."""

    def __init__(self, *answers: httpx.Response) -> None:
        self.answers: Iterator[httpx.Response] = iter(answers)
        self.valid = {"access-1", "access-2"}
        self.grants: list[dict[str, str]] = []  # the token requests' forms
        self.bearers: list[str] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            self.grants.append({k: v[0] for k, v in parse_qs(request.content.decode()).items()})
            return next(self.answers)
        bearer = request.headers["authorization"].removeprefix("Bearer ")
        self.bearers.append(bearer)
        if bearer not in self.valid:
            return httpx.Response(401, json={"errors": [{"code": "unauthorized"}]})
        return httpx.Response(200, json={"data": []})

    async def ahandle(self, request: httpx.Request) -> httpx.Response:
        return self.handle(request)

    def refresh_tokens_sent(self) -> list[str]:
        return [grant["refresh_token"] for grant in self.grants]


class BoastOAuthTwin:
    """One of the two clients, driven the same way."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def client(self, fake: ScriptedBoast, store: MemoryTokenStore, **overrides: Any) -> Client:
        arguments: dict[str, Any] = {
            "account_id": ACCOUNT_ID,
            "access_token": "access-0",
            "refresh_token": "refresh-0",
            "expires_at": dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1),  # refresh first
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "token_store": store,
            "max_retries": 0,
            **overrides,
        }
        if self.kind == "sync":
            transport = httpx.MockTransport(fake.handle)
            return BoastClient(
                **arguments,
                httpx_client=httpx.Client(transport=transport),
                auth_httpx_client=httpx.Client(transport=transport),
            )
        async_transport = httpx.MockTransport(fake.ahandle)
        return AsyncBoastClient(
            **arguments,
            httpx_client=httpx.AsyncClient(transport=async_transport),
            auth_httpx_client=httpx.AsyncClient(transport=async_transport),
        )

    async def list_sequences(self, client: Client) -> list[Any]:
        if isinstance(client, BoastClient):
            return list(client.list_sequences())
        return [s async for s in client.list_sequences()]

    async def close(self, client: Client) -> None:
        if isinstance(client, BoastClient):
            client.close()
        else:
            await client.close()


@pytest.fixture
def oauth_twin(twin: Twin) -> BoastOAuthTwin:
    """A refreshing Boast client of `twin`'s flavour on a scripted token endpoint."""
    return BoastOAuthTwin(twin.name)


EXCHANGE = {
    "client_id": CLIENT_ID,
    "client_secret": CLIENT_SECRET,
    "redirect_uri": "https://example.com/cb",
}


AUTH = "https://app.boast.io"


NOW = dt.datetime.now(dt.UTC)


class FakeBoast:
    """Rotating refresh tokens, expiring access tokens, and a log of what happened in order."""

    def __init__(self, token_delay: float = 0.0) -> None:
        self.lock = threading.Lock()
        self.access = {"access-0"}
        self.refresh = "refresh-0"
        self.token_hits = 0
        self.events: list[tuple[str, str]] = []  # ("use", access token) / ("save", access token)
        self.token_delay = token_delay
        self.refuse_grant = False
        self.reject_all = False

    def _token(self, request: httpx.Request) -> httpx.Response:
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        time.sleep(self.token_delay)  # a slow endpoint makes concurrent callers pile up
        with self.lock:
            self.token_hits += 1
            grant_ok = form.get("refresh_token") == self.refresh or form.get("code") == "the-code"
            if self.refuse_grant or form.get("client_secret") != CLIENT_SECRET or not grant_ok:
                body = {"error": "invalid_grant", "error_description": "The grant is invalid."}
                return httpx.Response(400, json=body)
            n = self.token_hits
            self.access = {f"access-{n}"}  # the old access token stops working at once
            self.refresh = f"refresh-{n}"
        return httpx.Response(
            200,
            json={
                "access_token": f"access-{n}",
                "token_type": "Bearer",
                "expires_in": 7200,
                "refresh_token": f"refresh-{n}",
                "scope": "read write",
                "created_at": int(time.time()),
            },
        )

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            return self._token(request)
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        with self.lock:
            self.events.append(("use", bearer))
            valid = bearer in self.access and not self.reject_all
        if not valid:
            body = {"errors": [{"detail": "The access token is invalid", "code": "unauthorized"}]}
            return httpx.Response(401, json=body)
        return httpx.Response(200, json={"data": []})

    async def ahandle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token" and self.token_delay:
            await asyncio.sleep(self.token_delay)  # let the other tasks queue on the lock
            self.token_delay = 0.0
        return self.handle(request)


class StoreLoggedByFake(MemoryTokenStore):
    """A MemoryTokenStore whose every save also goes into the fake's log of events."""

    def __init__(self, fake: FakeBoast, fail: int = 0) -> None:
        super().__init__(fail)
        self.fake = fake

    def save(self, token: OAuthToken) -> None:
        super().save(token)
        self.fake.events.append(("save", token.access_token))


def sync_client(fake: FakeBoast, store: StoreLoggedByFake | None, **overrides: Any) -> BoastClient:
    http = httpx.Client(transport=httpx.MockTransport(fake.handle))
    tokens = httpx.Client(transport=httpx.MockTransport(fake.handle))
    kwargs: dict[str, Any] = {
        "account_id": "7a2f1f8c-7771-47e2-8dbd-332b301028a8",
        "access_token": "access-0",
        "refresh_token": "refresh-0",
        "expires_at": NOW + dt.timedelta(hours=1),
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "token_store": store,
        "max_retries": 0,
        "httpx_client": http,
        "auth_httpx_client": tokens,
        **overrides,
    }
    return BoastClient(**kwargs)


def async_client(fake: FakeBoast, store: StoreLoggedByFake, **overrides: Any) -> AsyncBoastClient:
    return AsyncBoastClient(
        account_id="7a2f1f8c-7771-47e2-8dbd-332b301028a8",
        access_token="access-0",
        refresh_token="refresh-0",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        token_store=store,
        max_retries=0,
        httpx_client=httpx.AsyncClient(transport=httpx.MockTransport(fake.ahandle)),
        auth_httpx_client=httpx.AsyncClient(transport=httpx.MockTransport(fake.ahandle)),
        **overrides,
    )


def saved_before_used(fake: FakeBoast, access_token: str) -> bool:
    kinds = [kind for kind, token in fake.events if token == access_token]
    return bool(kinds) and kinds[0] == "save"


@pytest.fixture
def fake() -> FakeBoast:
    return FakeBoast()


async def test_boast_refreshes_on_the_auth_host_with_the_callers_auth_client(
    twin: Twin, sandbox: Sandbox, wire: Wire
) -> None:
    store = MemoryTokenStore()
    tokens = Wire()
    auth_http = twin.over(tokens)
    boast = boast_on(
        twin,
        sandbox,
        wire,
        timeout=4.0,
        auth_httpx_client=auth_http,
        **expired_token_options(sandbox, store),
    )
    account = await settle(boast.get_account())
    assert str(account.id) == sandbox.boast.account_ids[0]
    (refresh,) = tokens.sent
    assert refresh.method == "POST"
    assert str(refresh.url) == sandbox.boast_auth_base_url.rstrip("/") + "/oauth/token"
    assert refresh.extensions["timeout"]["read"] == 4.0
    (saved,) = store.saved
    assert wire.sent[0].headers["authorization"] == f"Bearer {saved.access_token}"
    await closed(boast)
    assert not auth_http.is_closed  # the caller's client is the caller's to close
    await settle(auth_http.aclose() if twin is ASYNC else auth_http.close())
    tokens.close()


async def test_boast_refreshes_with_a_client_of_its_own_and_closes_it(
    twin: Twin, sandbox: Sandbox, wire: Wire, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[tuple[httpx.Client | httpx.AsyncClient, dict[str, Any]]] = []

    class Recorded(twin.http):  # type: ignore[name-defined,misc]
        def __init__(self, **options: Any) -> None:
            super().__init__(**options)
            opened.append((self, options))

    given = Recorded(transport=httpx.MockTransport(wire.handle))
    monkeypatch.setattr(httpx, twin.http.__name__, Recorded)  # what the client opens itself
    store = MemoryTokenStore()
    options = expired_token_options(sandbox, store)
    boast = boast_on(twin, sandbox, wire, httpx_client=given, **options)
    await settle(boast.get_account())
    assert len(store.saved) == 1
    assert wire.sent[0].headers["authorization"] == f"Bearer {store.saved[0].access_token}"
    own = [client for client, _ in opened if client is not given]
    # One connection pool of its own (the OAuth host's); the others it opens send over a pool
    # it already holds (a transport given), such as the generated client under `raw`.
    pools = [client for client, made in opened if client is not given and "transport" not in made]
    assert [client.is_closed for client in pools] == [False]
    await closed(boast)
    assert [client.is_closed for client in own] == [True] * len(own)
    assert not given.is_closed


async def test_boast_refuses_a_plain_http_auth_host_unless_allowed(
    twin: Twin, sandbox: Sandbox, wire: Wire
) -> None:
    options = expired_token_options(sandbox, MemoryTokenStore())
    options["auth_base_url"] = "http://auth.example.com"
    with pytest.raises(errors.InvalidRequestError, match="https"):
        boast_on(twin, sandbox, wire, **options)
    tokens = Wire(
        lambda r: httpx.Response(
            200,
            json={
                "access_token": "fresh",
                "token_type": "Bearer",
                "expires_in": 7200,
                "refresh_token": "next",
            },
        )
    )
    auth_http = twin.over(tokens)
    boast = boast_on(
        twin,
        sandbox,
        Wire(unavailable),
        allow_insecure_http=True,
        auth_httpx_client=auth_http,
        **options,
    )
    with pytest.raises(errors.ServerError):
        await settle(boast.get_account())
    assert [str(r.url) for r in tokens.sent] == ["http://auth.example.com/oauth/token"]
    await closed(boast)
    tokens.close()


async def test_boast_copies_share_the_token_unless_given_credentials(
    twin: Twin, sandbox: Sandbox
) -> None:
    """A with_options copy, on a connection pool of its own, refreshes for both (Boast rotates
    refresh tokens: two keepers of one would fork it); a copy given a credential of its own
    uses that one."""
    store = MemoryTokenStore()
    options = expired_token_options(sandbox, store)
    account = sandbox.boast.account_ids[0]
    boast = twin.boast(account_id=account, base_url=sandbox.boast_base_url, **options)
    copy = boast.with_options(max_retries=1)
    assert str((await settle(copy.get_account())).id) == account
    assert str((await settle(boast.get_account())).id) == account
    assert len(store.saved) == 1 and sandbox.boast.refresh_count == 1

    own = Wire()
    other = sandbox.boast.issue_token().access_token
    fresh = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    changed = boast.with_options(access_token=other, expires_at=fresh, httpx_client=twin.over(own))
    await settle(changed.get_account())
    assert own.sent[0].headers["authorization"] == f"Bearer {other}"
    for client in (copy, boast, changed):
        await closed(client)
    own.close()


async def test_a_token_a_copy_refreshed_on_a_401_is_the_one_the_original_sends(
    twin: Twin, sandbox: Sandbox
) -> None:
    """A copy changing no credential holds the very token of its original: once the copy has
    replaced a refused (not expiring) access token, the original sends the new one at once,
    rather than the refused one again."""
    store = MemoryTokenStore()
    options = expired_token_options(sandbox, store)
    options.update(
        access_token="revoked", expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    )

    bearers: list[str] = []  # as sent: a replay re-signs the same request object

    def refusing_the_revoked(request: httpx.Request) -> httpx.Response | None:
        bearers.append(request.headers["authorization"])
        if bearers[-1] != "Bearer revoked":
            return None  # the sandbox answers
        detail = {"detail": "The access token is invalid", "code": "unauthorized"}
        return httpx.Response(401, json={"errors": [detail]})

    wire = Wire(refusing_the_revoked)
    account = sandbox.boast.account_ids[0]
    boast = boast_on(twin, sandbox, wire, **options)  # on the first account
    copy = boast.with_options(max_retries=1)
    assert str((await settle(copy.get_account())).id) == account
    assert str((await settle(boast.get_account())).id) == account
    (saved,) = store.saved
    assert bearers == ["Bearer revoked", *[f"Bearer {saved.access_token}"] * 2]
    assert sandbox.boast.refresh_count == 1
    for client in (copy, boast):
        await closed(client)
    wire.close()


def test_exchange_code_sends_the_whole_code_grant_and_leaves_the_callers_client_open() -> None:
    endpoint = TokenEndpoint()
    http = httpx.Client(transport=httpx.MockTransport(endpoint.handle))
    first = exchange_code("code-1", **GRANT, httpx_client=http)
    assert not http.is_closed  # the caller's client is the caller's to close
    second = exchange_code("code-2", **GRANT, httpx_client=http)
    assert (first.access_token, second.access_token) == ("access-1", "access-2")
    assert endpoint.forms[0] == {
        "grant_type": "authorization_code",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "code": "code-1",
        "redirect_uri": REDIRECT,
    }
    http.close()


async def test_aexchange_code_sends_the_whole_code_grant_and_leaves_the_callers_client_open() -> (
    None
):
    endpoint = TokenEndpoint()
    http = httpx.AsyncClient(transport=httpx.MockTransport(endpoint.ahandle))
    token = await aexchange_code("code-1", **GRANT, httpx_client=http)
    assert not http.is_closed
    assert token.refresh_token == "refresh-1"
    assert endpoint.forms[0]["redirect_uri"] == REDIRECT
    assert endpoint.forms[0]["client_id"] == CLIENT_ID
    await http.aclose()


def test_exchange_code_refuses_plain_http_to_a_remote_host() -> None:
    endpoint = TokenEndpoint()
    http = httpx.Client(transport=httpx.MockTransport(endpoint.handle))
    with pytest.raises(errors.InvalidRequestError, match="https"):
        exchange_code("c", **GRANT, auth_base_url="http://app.boast.io", httpx_client=http)
    assert endpoint.forms == []  # the client secret never left
    token = exchange_code(
        "c",
        **GRANT,
        auth_base_url="http://app.boast.io",
        allow_insecure_http=True,
        httpx_client=http,
    )
    assert token.access_token == "access-1"


async def test_aexchange_code_refuses_plain_http_to_a_remote_host() -> None:
    endpoint = TokenEndpoint()
    http = httpx.AsyncClient(transport=httpx.MockTransport(endpoint.ahandle))
    with pytest.raises(errors.InvalidRequestError, match="https"):
        await aexchange_code("c", **GRANT, auth_base_url="http://app.boast.io", httpx_client=http)
    assert endpoint.forms == []
    await http.aclose()


def test_exchange_code_with_its_own_client_against_the_sandbox(sandbox: Sandbox) -> None:
    state = sandbox.boast
    code = state.mint_authorization_code(REDIRECT)
    token = exchange_code(
        code,
        client_id=state.client_id,
        client_secret=state.client_secret,
        redirect_uri=REDIRECT,
        auth_base_url=sandbox.boast_auth_base_url,
    )
    assert isinstance(token, OAuthToken) and token.access_token and token.refresh_token


async def test_aexchange_code_with_its_own_client_against_the_sandbox(sandbox: Sandbox) -> None:
    state = sandbox.boast
    code = state.mint_authorization_code(REDIRECT)
    token = await aexchange_code(
        code,
        client_id=state.client_id,
        client_secret=state.client_secret,
        redirect_uri=REDIRECT,
        auth_base_url=sandbox.boast_auth_base_url,
    )
    assert token.access_token and token.refresh_token
    assert token.expires_at is not None and token.expires_at > dt.datetime.now(dt.UTC)
    with pytest.raises(errors.AuthenticationError):  # a code is single-use
        await aexchange_code(
            code,
            client_id=state.client_id,
            client_secret=state.client_secret,
            redirect_uri=REDIRECT,
            auth_base_url=sandbox.boast_auth_base_url,
        )


async def test_async_replay_refused_again_is_an_authentication_error() -> None:
    api = RefusingApi()
    store = MemoryTokenStore()
    transport = httpx.MockTransport(api.handle)
    async with AsyncBoastClient(
        account_id=ACCOUNT,
        access_token="access-0",
        refresh_token="refresh-0",
        expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1),
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        token_store=store,
        max_retries=0,
        httpx_client=httpx.AsyncClient(transport=transport),
        auth_httpx_client=httpx.AsyncClient(transport=transport),
    ) as boast:
        with pytest.raises(errors.AuthenticationError) as raised:
            [s async for s in boast.list_sequences()]
    assert raised.value.status_code == 401
    assert api.bearers == ["Bearer access-0", "Bearer access-1"]  # replayed once, not looped
    assert api.refreshes == 1 and [t.access_token for t in store.saved] == ["access-1"]


def test_a_token_store_failure_says_what_happened_and_where_the_token_is() -> None:
    boast = boast_refusing_to_save()
    with boast, pytest.raises(errors.TokenStoreError) as raised:
        list(boast.list_sequences())
    assert isinstance(raised.value.__cause__, PermissionError)  # wording: tests/golden
    assert raised.value.token.refresh_token == "r1"


def test_token_repr_shows_which_tokens_are_present_never_their_value() -> None:
    present = OAuthToken("a-secret", "r-secret")
    absent = OAuthToken("a-secret")
    assert repr(present) == "OAuthToken(access_token='***', refresh_token='***', expires_at=None)"
    assert repr(absent) == "OAuthToken(access_token='***', refresh_token=None, expires_at=None)"


def test_authorization_url_joins_a_base_with_a_trailing_slash() -> None:
    url = authorization_url("cid", "https://app.example/cb", auth_base_url="https://auth.example/")
    assert url.startswith("https://auth.example/oauth/authorize?")
    assert parse_qs(url.split("?", 1)[1])["redirect_uri"] == ["https://app.example/cb"]


@pytest.mark.parametrize("empty", ["code", "client_id", "client_secret", "redirect_uri"])
def test_exchange_code_refuses_any_missing_part_of_the_grant_before_sending(empty: str) -> None:
    sent: list[httpx.Request] = []
    http = httpx.Client(
        transport=httpx.MockTransport(lambda r: sent.append(r) or httpx.Response(500))
    )
    arguments: dict[str, Any] = {"code": "the-code", **GRANT, empty: ""}
    code = arguments.pop("code")
    with pytest.raises(errors.InvalidRequestError) as raised:
        exchange_code(code, **arguments, httpx_client=http)
    assert type(raised.value) is errors.InvalidRequestError  # wording: tests/golden
    assert sent == []


@pytest.mark.parametrize("status", [400, 401])
def test_a_refused_code_is_an_authentication_error_keeping_what_the_endpoint_said(
    status: int,
) -> None:
    body = {"error": "invalid_client", "error_description": "Client authentication failed."}
    http = token_endpoint(status, body, {"Retry-After": "3"})
    with pytest.raises(errors.AuthenticationError) as raised:
        exchange_code("c", **GRANT, httpx_client=http)
    error = raised.value
    assert error.status_code == status and error.codes == ("invalid_client",)
    assert error.message == "the token endpoint refused the grant: Client authentication failed."
    assert (error.method, error.url) == ("POST", "https://app.boast.io/oauth/token")
    assert error.body == body and error.retry_after == 3


def test_a_refusal_without_an_oauth_error_names_the_status() -> None:
    with pytest.raises(errors.AuthenticationError) as raised:
        exchange_code("c", **GRANT, httpx_client=token_endpoint(400, {}))
    assert raised.value.message.startswith("the token endpoint refused the grant: Bad Request")


@pytest.mark.parametrize("status", [402, 403, 429])
def test_other_token_endpoint_statuses_keep_their_own_type(status: int) -> None:
    with pytest.raises(errors.APIStatusError) as raised:
        exchange_code("c", **GRANT, httpx_client=token_endpoint(status, {}))
    assert raised.value.status_code == status
    assert not isinstance(raised.value, errors.AuthenticationError)


def test_exchange_code_applies_the_timeout_it_is_given() -> None:
    sent: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"access_token": "a", "token_type": "Bearer"})

    exchange_code(
        "c",
        **GRANT,
        timeout=2.5,
        httpx_client=httpx.Client(transport=httpx.MockTransport(handle)),
    )
    assert sent[0].extensions["timeout"]["read"] == 2.5


async def test_aexchange_code_applies_the_timeout_it_is_given() -> None:
    sent: list[httpx.Request] = []

    async def handle(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"access_token": "a", "token_type": "Bearer"})

    http = httpx.AsyncClient(transport=httpx.MockTransport(handle))
    await aexchange_code("c", **GRANT, timeout=2.5, httpx_client=http)
    assert sent[0].extensions["timeout"]["read"] == 2.5
    await http.aclose()


def test_a_form_encoded_token_answer_is_read() -> None:
    body = b"access_token=a1&token_type=bearer&refresh_token=r1&expires_in=60"
    token = exchange_code(
        "c", **GRANT, httpx_client=token_answer(body, "application/x-www-form-urlencoded")
    )
    assert (token.access_token, token.refresh_token) == ("a1", "r1")


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (
            b"<html>Oops</html>",
            "text/html; charset=utf-8",
            "the token answer is not JSON (text/html, 17 bytes)",
        ),
        (b"status=ok", "text/plain", "the token answer is not JSON (text/plain, 9 bytes)"),
        (
            b"access_token=a1&junk",
            "application/x-www-form-urlencoded",
            "the token answer is not JSON",
        ),
        (b"{}", "application/json", "the token answer has no "),
    ],
)
def test_a_200_that_is_no_token_is_a_token_response_error(
    body: bytes, content_type: str, reason: str
) -> None:
    with pytest.raises(errors.TokenResponseError) as raised:
        exchange_code("c", **GRANT, httpx_client=token_answer(body, content_type))
    assert f": {reason}" in str(raised.value)
    assert raised.value.maybe_applied is False  # retrying the same grant cannot help
    assert raised.value.token is None


def test_a_200_without_content_type_says_so() -> None:
    answer = httpx.Response(200, content=b"nope")
    http = httpx.Client(transport=httpx.MockTransport(lambda request: answer))
    with pytest.raises(errors.TokenResponseError, match=r"not JSON \(no content type, 4 bytes\)"):
        exchange_code("c", **GRANT, httpx_client=http)


@pytest.mark.parametrize(
    ("expires_in", "lifetime"),
    [(1, 1), (366 * 24 * 3600, 366 * 24 * 3600), (0, 7200), (366 * 24 * 3600 + 1, 7200)],
)
def test_token_lifetimes_from_one_second_to_a_year_are_believed(
    expires_in: int, lifetime: int
) -> None:
    body = json.dumps(
        {"access_token": "a", "token_type": "Bearer", "expires_in": expires_in}
    ).encode()
    before = dt.datetime.now(dt.UTC)
    token = exchange_code("c", **GRANT, httpx_client=token_answer(body, "application/json"))
    assert token.expires_at is not None
    assert abs((token.expires_at - before).total_seconds() - lifetime) < 5


def test_a_200_with_only_a_refresh_token_keeps_it_for_the_next_refresh() -> None:
    body = json.dumps({"refresh_token": "r9", "token_type": "Bearer"}).encode()
    before = dt.datetime.now(dt.UTC)
    with pytest.raises(errors.TokenResponseError) as raised:
        exchange_code("c", **GRANT, httpx_client=token_answer(body, "application/json"))
    error = raised.value
    assert str(error).endswith("; its refresh_token was kept; body starts ''")
    kept = error.token
    assert isinstance(kept, OAuthToken)
    assert (kept.access_token, kept.refresh_token) == ("", "r9")
    assert kept.expires_at is not None and before <= kept.expires_at <= dt.datetime.now(dt.UTC)
    assert (error.status_code, error.truncated) == (200, False)


@pytest.mark.parametrize("asynchronous", [False, True])
def test_a_token_endpoint_out_of_reach_is_a_typed_connection_error(asynchronous: bool) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(errors.APIConnectionError) as raised:
        if asynchronous:

            async def exchange() -> OAuthToken:
                async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as http:
                    return await aexchange_code("c", **GRANT, httpx_client=http)

            asyncio.run(exchange())
        else:
            exchange_code(
                "c",
                **GRANT,
                httpx_client=httpx.Client(transport=httpx.MockTransport(refuse)),
            )
    error = raised.value
    assert (error.method, error.url) == ("POST", "https://app.boast.io/oauth/token")
    assert error.maybe_applied is False


async def test_aexchange_code_allows_plain_http_when_asked() -> None:
    async def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"access_token": "a", "token_type": "Bearer"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handle)) as http:
        token = await aexchange_code(
            "c",
            **GRANT,
            auth_base_url="http://auth.internal",
            allow_insecure_http=True,
            httpx_client=http,
        )
    assert token.access_token == "a"


@pytest.mark.parametrize("client_class", [BoastClient, AsyncBoastClient])
@pytest.mark.parametrize("given", PARTIAL, ids=lambda given: "+".join(given))
def test_part_of_the_refresh_credentials_is_refused_saying_all_four_are_needed(
    client_class: type[BoastClient | AsyncBoastClient], given: dict[str, Any]
) -> None:
    with pytest.raises(errors.InvalidRequestError) as raised:
        client_class(access_token="access-0", **given)
    assert str(raised.value).startswith("refreshing needs ")  # wording: tests/golden
    assert CLIENT_SECRET not in repr(raised.value)


@pytest.mark.parametrize("empty", ["refresh_token", "client_id", "client_secret"])
def test_an_empty_refresh_credential_counts_as_missing(empty: str) -> None:
    with pytest.raises(errors.InvalidRequestError) as raised:
        BoastClient(access_token="access-0", **{**RENEWAL, empty: ""})
    assert str(raised.value).startswith("refreshing needs ")  # wording: tests/golden


def test_an_empty_credential_alone_is_still_part_of_a_renewal() -> None:
    # An empty string is something given (perhaps an unset environment variable): refused,
    # not taken for "no refresh wanted".
    with pytest.raises(errors.InvalidRequestError, match="refreshing needs"):
        BoastClient(access_token="access-0", client_secret="")


def test_no_refresh_credentials_at_all_is_a_fixed_token_client() -> None:
    with BoastClient(access_token="access-0") as boast:
        assert "can_refresh=False" in repr(boast._auth.keeper)


def test_all_four_make_a_refreshing_client() -> None:
    with BoastClient(access_token="access-0", **RENEWAL) as boast:
        assert "can_refresh=True" in repr(boast._auth.keeper)


@pytest.mark.parametrize("client_class", [BoastClient, AsyncBoastClient])
def test_without_an_access_token_or_a_way_to_get_one_the_client_says_so(
    client_class: type[BoastClient | AsyncBoastClient],
) -> None:
    with pytest.raises(errors.InvalidRequestError) as raised:
        client_class(access_token="")
    assert str(raised.value).startswith("access_token ")  # wording: tests/golden


@pytest.mark.parametrize("client_class", [BoastClient, AsyncBoastClient])
def test_an_expiry_without_a_time_zone_is_refused(
    client_class: type[BoastClient | AsyncBoastClient],
) -> None:
    with pytest.raises(errors.InvalidRequestError) as raised:
        client_class(access_token="access-0", expires_at=dt.datetime(2030, 1, 1, 12))
    assert str(raised.value).startswith("expires_at ")  # wording: tests/golden


def test_an_expiry_is_kept_in_utc_whatever_the_local_time_zone(tokyo_local_time: None) -> None:
    paris_summer = dt.timezone(dt.timedelta(hours=2))
    token = OAuthToken("access-0", expires_at=dt.datetime(2030, 6, 1, 14, tzinfo=paris_summer))
    assert token.expires_at == dt.datetime(2030, 6, 1, 12, tzinfo=dt.UTC)
    assert token.expires_at is not None and token.expires_at.utcoffset() == dt.timedelta(0)
    assert token.expires_at.isoformat() == "2030-06-01T12:00:00+00:00"


def test_a_form_encoded_answer_gives_the_same_token_as_json() -> None:
    fields = {"access_token": "access-1", "refresh_token": "refresh-1", "expires_in": "3600"}
    from_form = exchange(form_answer(urlencode({**fields, "token_type": "bearer"})))
    from_json = exchange(httpx.Response(200, json=fields))

    for token in (from_form, from_json):
        assert (token.access_token, token.refresh_token) == ("access-1", "refresh-1")
        assert 3590 < seconds_left(token) <= 3600  # the form's "3600" is a number of seconds
    assert from_form.expires_at is not None and from_json.expires_at is not None
    assert abs((from_form.expires_at - from_json.expires_at).total_seconds()) < 5


@pytest.mark.parametrize(
    ("expires_in", "lifetime"),
    [
        ("60", 60),
        ("90.5", 90.5),
        ("31622400", 366 * 24 * 3600),  # a year and a day: the longest taken as a lifetime
        ("31622401", LIFETIME),  # longer is no lifetime (a timestamp, say)
        ("soon", LIFETIME),
        ("0", LIFETIME),
        ("-30", LIFETIME),
        ("inf", LIFETIME),
        ("nan", LIFETIME),
    ],
)
def test_a_form_answers_expires_in_is_read_as_seconds_or_the_documented_lifetime(
    expires_in: str, lifetime: float
) -> None:
    token = exchange(form_answer(urlencode({"access_token": "a-1", "expires_in": expires_in})))
    assert lifetime - 10 < seconds_left(token) <= lifetime


@pytest.mark.parametrize("expires_in", [True, None, [60], {"seconds": 60}])
def test_a_json_expires_in_that_is_no_number_is_the_documented_lifetime(expires_in: Any) -> None:
    token = exchange(httpx.Response(200, json={"access_token": "a-1", "expires_in": expires_in}))
    assert LIFETIME - 10 < seconds_left(token) <= LIFETIME


def test_a_form_answer_with_only_a_refresh_token_hands_it_back() -> None:
    with pytest.raises(errors.TokenResponseError) as raised:
        exchange(form_answer("refresh_token=refresh-1"))
    error = raised.value
    assert (
        reason(error) == "the token answer has no usable access_token; its refresh_token was kept"
    )
    assert error.token is not None and error.token.refresh_token == "refresh-1"
    assert "refresh-1" not in str(error) + repr(error)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("status=ok", "text/plain"),  # a form, but of no token
        ("access_token=a-1&<html>", "text/html"),  # half a form is no form
        ("Service Unavailable", "text/plain"),
        (b"access_token=\xff\xfe", FORM),  # not UTF-8
        ('["access_token", "a-1"]', "application/json"),  # JSON, but no object
    ],
)
def test_an_answer_that_is_neither_json_nor_a_token_form_says_what_it_was(
    body: str | bytes, content_type: str
) -> None:
    answer = form_answer(body, content_type)
    with pytest.raises(errors.TokenResponseError) as raised:
        exchange(answer)
    error = raised.value
    said = f"the token answer is not JSON ({content_type}, {len(answer.content)} bytes)"
    assert reason(error) == said
    assert error.token is None and "a-1" not in str(error)


def test_an_answer_without_a_content_type_says_so() -> None:
    answer = httpx.Response(200, content=b"Service Unavailable")
    with pytest.raises(errors.TokenResponseError) as raised:
        exchange(answer)
    assert reason(raised.value) == "the token answer is not JSON (no content type, 19 bytes)"


async def test_the_async_exchange_reads_a_form_answer_too() -> None:
    endpoint = TokenEndpointAnswering(form_answer("access_token=access-1&refresh_token=refresh-1"))
    async with httpx.AsyncClient(transport=httpx.MockTransport(endpoint)) as http:
        token = await aexchange_code(
            "the-code",
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            redirect_uri=REDIRECT_URI,
            httpx_client=http,
        )
    assert (token.access_token, token.refresh_token) == ("access-1", "refresh-1")
    assert endpoint.grants[0]["grant_type"] == ["authorization_code"]


@pytest.mark.parametrize(
    ("status", "error_class", "codes_and_message"),
    [
        (503, errors.ServerError, "[temporarily_unavailable]: try again later"),
        (403, errors.PermissionDeniedError, "[access_denied]: try again later"),
        (400, errors.AuthenticationError, (
            "[access_denied]: the token endpoint refused the grant: try again later"
        )),
    ],
)  # fmt: skip
def test_only_a_refused_grant_says_the_grant_was_refused(
    status: int, error_class: type[errors.APIStatusError], codes_and_message: str
) -> None:
    code = "temporarily_unavailable" if status >= 500 else "access_denied"
    body = {"error": code, "error_description": "try again later"}
    with pytest.raises(error_class) as raised:
        exchange(httpx.Response(status, json=body))
    error = raised.value
    assert type(error) is error_class
    assert (error.method, error.url, error.status_code) == (
        "POST",
        "https://app.boast.io/oauth/token",
        status,
    )
    codes, _, message = codes_and_message.partition(": ")
    assert (f"[{', '.join(error.codes)}]", error.message) == (codes, message)


def test_the_authorize_url_keeps_the_hosts_path_and_drops_only_its_trailing_slash() -> None:
    url = authorization_url(
        CLIENT_ID, REDIRECT_URI, auth_base_url="https://gateway.example.com/BOX/"
    )
    parts = urlsplit(url)
    assert (parts.netloc, parts.path) == ("gateway.example.com", "/BOX/oauth/authorize")
    assert parse_qs(parts.query)["client_id"] == [CLIENT_ID]


def test_bad_token_without_refresh_is_an_authentication_error(sandbox: Sandbox) -> None:
    stranger = BoastClient(access_token="wrong-token", base_url=sandbox.boast_base_url)
    with stranger, pytest.raises(errors.AuthenticationError) as denied:
        list(stranger.list_accounts())
    assert denied.value.status_code == 401
    assert "wrong-token" not in str(denied.value) and "wrong-token" not in repr(stranger)


def test_proactive_refresh_saves_the_rotated_token(
    sandbox: Sandbox, token_store: Any, boast_options: BoastOptions
) -> None:
    # The token is still valid for 30 s: inside the 60 s margin, so it is refreshed first.
    options = boast_options(
        sandbox, token_store, expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30)
    )
    with BoastClient(**options) as boast:
        list(boast.list_accounts())
        list(boast.list_sequences())

    assert sandbox.boast.refresh_count == 1
    [saved] = token_store.saved
    assert saved.refresh_token != options["refresh_token"]
    assert saved.expires_at is not None and saved.expires_at > dt.datetime.now(dt.UTC)
    assert options["access_token"] not in repr(saved)


def test_expired_token_is_refreshed_on_401_and_the_request_replayed(
    make_sandbox: MakeSandbox, token_store: Any, boast_options: BoastOptions
) -> None:
    offset = [0.0]
    sandbox = make_sandbox(token_ttl=120, clock=lambda: time.time() + offset[0])
    contacts, sequence, _ = targets(sandbox)
    with BoastClient(**boast_options(sandbox, token_store)) as boast:
        boast.enroll(contacts[0], sequence)
        offset[0] = 3600.0  # the server's clock jumps past expiry; the client cannot know
        created = boast.enroll(contacts[1], sequence)

    assert created.status == "active"
    assert sandbox.boast.refresh_count == 1 and len(token_store.saved) == 1
    assert sandbox.boast.total_created == 2


async def test_fifty_tasks_at_expiry_refresh_once(
    sandbox: Sandbox, boast_options: BoastOptions, token_store: Any
) -> None:
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=10)
    async with AsyncBoastClient(**boast_options(sandbox, token_store, expires_at=soon)) as boast:
        pages = await asyncio.gather(
            *(boast.list_sequences().pages().__anext__() for _ in range(50))
        )

    assert all(page.items for page in pages)
    assert sandbox.boast.refresh_count == 1 and len(token_store.saved) == 1


async def test_an_answer_without_expires_in_is_a_token_of_the_documented_lifetime(
    oauth_twin: BoastOAuthTwin,
) -> None:
    fake = ScriptedBoast(token_json(access_token="access-1", refresh_token="refresh-1"))
    store = MemoryTokenStore()
    client = oauth_twin.client(fake, store)
    assert await oauth_twin.list_sequences(client) == []
    await oauth_twin.close(client)

    (saved,) = store.saved
    assert (saved.access_token, saved.refresh_token) == ("access-1", "refresh-1")
    assert LIFETIME - 60 < seconds_left(saved) <= LIFETIME
    assert fake.bearers == ["access-1"]


@pytest.mark.parametrize(
    ("expires_in", "lifetime"),
    [
        ("3600", 3600),  # a number sent as text
        (1800.5, 1800.5),
        ("soon", LIFETIME),
        (-5, LIFETIME),
        (0, LIFETIME),  # "already expired" would mean refreshing before every request
        (True, LIFETIME),
        (1e30, LIFETIME),  # no datetime holds that
        (None, LIFETIME),
        ([3600], LIFETIME),
    ],
)
async def test_an_odd_expires_in_never_loses_the_token(
    oauth_twin: BoastOAuthTwin, expires_in: Any, lifetime: float
) -> None:
    answer = token_json(access_token="access-1", refresh_token="refresh-1", expires_in=expires_in)
    fake, store = ScriptedBoast(answer), MemoryTokenStore()
    client = oauth_twin.client(fake, store)
    await oauth_twin.list_sequences(client)
    await oauth_twin.close(client)

    assert [t.refresh_token for t in store.saved] == ["refresh-1"]
    assert lifetime - 60 < seconds_left(store.saved[0]) <= lifetime


async def test_an_answer_without_a_refresh_token_keeps_the_one_we_hold(
    oauth_twin: BoastOAuthTwin,
) -> None:
    fake = ScriptedBoast(
        token_json(access_token="access-1", expires_in=0.001),  # no rotation, expired at once
        token_json(access_token="access-2", refresh_token="refresh-2", expires_in=7200),
    )
    store = MemoryTokenStore()
    client = oauth_twin.client(fake, store)
    await oauth_twin.list_sequences(client)
    fake.valid = {"access-2"}  # access-1 has expired: refreshed before the second call
    await oauth_twin.list_sequences(client)
    await oauth_twin.close(client)

    assert [t.refresh_token for t in store.saved] == ["refresh-0", "refresh-2"]
    assert fake.refresh_tokens_sent() == ["refresh-0", "refresh-0"]


@pytest.mark.parametrize(
    "answer",
    [  # made afresh for each test: a response can be read once
        lambda: httpx.Response(200, html="<html><body>Service unavailable</body></html>"),
        lambda: httpx.Response(200, content=b""),
        lambda: httpx.Response(200, json=["access-1", "refresh-9"]),
        lambda: httpx.Response(200, json={"token_type": "Bearer"}),
        lambda: token_json(access_token=None, refresh_token=7),
    ],
    ids=["html", "empty", "json-list", "no-tokens", "wrong-types"],
)
async def test_an_answer_with_no_token_is_a_typed_error_and_the_old_token_stays(
    oauth_twin: BoastOAuthTwin, answer: Callable[[], httpx.Response]
) -> None:
    fake = ScriptedBoast(answer(), token_json(access_token="access-1", refresh_token="refresh-1"))
    store = MemoryTokenStore()
    client = oauth_twin.client(fake, store)
    with pytest.raises(errors.TokenResponseError) as raised:
        await oauth_twin.list_sequences(client)
    assert raised.value.token is None and store.saved == [] and fake.bearers == []
    assert not raised.value.maybe_applied
    # The next call renews with the refresh token we still hold.
    await oauth_twin.list_sequences(client)
    await oauth_twin.close(client)
    assert fake.refresh_tokens_sent() == ["refresh-0", "refresh-0"]
    assert [t.refresh_token for t in store.saved] == ["refresh-1"]


async def test_a_refresh_token_without_an_access_token_is_saved_then_used(
    oauth_twin: BoastOAuthTwin,
) -> None:
    fake = ScriptedBoast(
        token_json(refresh_token="refresh-1", expires_in=7200),
        token_json(access_token="access-2", refresh_token="refresh-2", expires_in=7200),
    )
    store = MemoryTokenStore()
    client = oauth_twin.client(fake, store)
    with pytest.raises(errors.TokenResponseError, match="no usable access_token") as raised:
        await oauth_twin.list_sequences(client)
    assert [t.refresh_token for t in store.saved] == ["refresh-1"]  # saved before the error
    assert raised.value.token.refresh_token == "refresh-1"
    assert "refresh-1" not in str(raised.value) + repr(raised.value)
    assert fake.bearers == []  # no request went out with an empty bearer

    await oauth_twin.list_sequences(client)
    await oauth_twin.close(client)
    assert fake.refresh_tokens_sent() == ["refresh-0", "refresh-1"]
    assert fake.bearers == ["access-2"]


async def test_an_access_token_no_header_can_carry_is_not_used(
    oauth_twin: BoastOAuthTwin,
) -> None:
    fake = ScriptedBoast(
        token_json(access_token="access 1\r\nX-Injected: yes", refresh_token="refresh-1"),
        token_json(access_token="access-2", refresh_token="refresh-2"),
    )
    store = MemoryTokenStore()
    client = oauth_twin.client(fake, store)
    with pytest.raises(errors.TokenResponseError, match="no usable access_token"):
        await oauth_twin.list_sequences(client)
    await oauth_twin.list_sequences(client)
    await oauth_twin.close(client)
    assert [t.refresh_token for t in store.saved] == ["refresh-1", "refresh-2"]
    assert fake.bearers == ["access-2"]


async def test_a_client_can_start_from_a_saved_refresh_token_alone(
    oauth_twin: BoastOAuthTwin,
) -> None:
    # What the store holds after an answer that brought only a refresh token.
    fake = ScriptedBoast(token_json(access_token="access-1", refresh_token="refresh-1"))
    store = MemoryTokenStore()
    client = oauth_twin.client(fake, store, access_token="", expires_at=None)
    await oauth_twin.list_sequences(client)
    await oauth_twin.close(client)
    assert fake.refresh_tokens_sent() == ["refresh-0"] and fake.bearers == ["access-1"]


async def test_a_store_refusing_a_salvaged_refresh_token_is_offered_it_again(
    oauth_twin: BoastOAuthTwin,
) -> None:
    fake = ScriptedBoast(
        token_json(refresh_token="refresh-1"),
        token_json(access_token="access-2", refresh_token="refresh-2", expires_in=7200),
    )
    store = MemoryTokenStore(fail=1)
    client = oauth_twin.client(fake, store)
    with pytest.raises(errors.TokenStoreError) as raised:
        await oauth_twin.list_sequences(client)
    assert raised.value.token.refresh_token == "refresh-1"

    await oauth_twin.list_sequences(client)
    await oauth_twin.close(client)
    assert [t.refresh_token for t in store.saved] == ["refresh-1", "refresh-2"]
    assert fake.refresh_tokens_sent() == ["refresh-0", "refresh-1"]


async def test_a_cut_short_answer_never_quotes_its_tokens(
    oauth_twin: BoastOAuthTwin,
) -> None:
    cut = b'{"access_token": "access-1", "refresh_token": "refresh-1", "expi'
    fake = ScriptedBoast(httpx.Response(200, content=cut, headers={"content-type": "text/json"}))
    client = oauth_twin.client(fake, MemoryTokenStore())
    with pytest.raises(errors.TokenResponseError) as raised:
        await oauth_twin.list_sequences(client)
    await oauth_twin.close(client)
    shown = str(raised.value) + repr(raised.value)
    assert "not JSON" in shown and "access-1" not in shown and "refresh-1" not in shown


async def test_a_form_encoded_answer_is_read(oauth_twin: BoastOAuthTwin) -> None:
    form = urlencode({"access_token": "access-1", "refresh_token": "refresh-1", "expires_in": 60})
    answer = httpx.Response(
        200, content=form.encode(), headers={"content-type": "application/x-www-form-urlencoded"}
    )
    fake, store = ScriptedBoast(answer), MemoryTokenStore()
    client = oauth_twin.client(fake, store)
    await oauth_twin.list_sequences(client)
    await oauth_twin.close(client)
    assert [t.refresh_token for t in store.saved] == ["refresh-1"]
    assert 0 < seconds_left(store.saved[0]) <= 60


def test_exchange_code_accepts_a_minimal_answer() -> None:
    fake = ScriptedBoast(token_json(access_token="access-1"))
    http = httpx.Client(transport=httpx.MockTransport(fake.handle))
    token = exchange_code("the-code", httpx_client=http, **EXCHANGE)
    assert (token.access_token, token.refresh_token) == ("access-1", None)
    assert LIFETIME - 60 < seconds_left(token) <= LIFETIME


async def test_aexchange_code_hands_back_a_refresh_token_it_could_not_use() -> None:
    fake = ScriptedBoast(httpx.Response(200, content=json.dumps({"refresh_token": "r-1"}).encode()))
    http = httpx.AsyncClient(transport=httpx.MockTransport(fake.ahandle))
    with pytest.raises(errors.TokenResponseError) as raised:
        await aexchange_code("the-code", httpx_client=http, **EXCHANGE)
    assert raised.value.token.refresh_token == "r-1"
    await http.aclose()


@pytest.mark.parametrize(
    ("status", "error_class"),
    [(400, errors.AuthenticationError), (500, errors.ServerError), (403, errors.PermissionDeniedError)],
)  # fmt: skip
async def test_a_token_endpoint_error_body_of_unknown_shape_is_never_quoted(
    oauth_twin: BoastOAuthTwin,
    status: int,
    error_class: type[errors.APIStatusError],
) -> None:
    echo = {"received": {"refresh_token": "refresh-0", "client_secret": CLIENT_SECRET}}
    fake = ScriptedBoast(httpx.Response(status, json=echo))
    client = oauth_twin.client(fake, MemoryTokenStore())
    with pytest.raises(error_class) as raised:
        await oauth_twin.list_sequences(client)
    await oauth_twin.close(client)
    error = raised.value
    shown = str(error) + repr(error) + repr(vars(error))
    assert "refresh-0" not in shown and CLIENT_SECRET not in shown
    assert f"-> {status}" in str(error) and "not quoted" in str(error)


def test_token_repr_hides_secrets_and_expiry_is_utc() -> None:
    token = OAuthToken("acc-secret", "ref-secret", dt.datetime(2030, 1, 1, 12, tzinfo=dt.UTC))
    shown = repr(token) + str(token)
    assert "acc-secret" not in shown and "ref-secret" not in shown and "2030" in shown
    east = dt.timezone(dt.timedelta(hours=3))
    assert OAuthToken("a", "r", dt.datetime(2030, 1, 1, 15, tzinfo=east)).expires_at == (
        dt.datetime(2030, 1, 1, 12, tzinfo=dt.UTC)
    )
    with pytest.raises(errors.InvalidRequestError, match="timezone-aware"):
        OAuthToken("a", "r", dt.datetime(2030, 1, 1))


def test_fifty_threads_at_expiry_make_one_refresh(fake: FakeBoast) -> None:
    fake.token_delay = 0.05
    store = StoreLoggedByFake(fake)
    boast = sync_client(fake, store, expires_at=NOW - dt.timedelta(seconds=1))
    start = threading.Barrier(50)
    failures: list[BaseException] = []

    def call() -> None:
        start.wait()
        try:
            list(boast.list_sequences())
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=call) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    boast.close()

    assert failures == []
    assert fake.token_hits == 1
    assert [t.refresh_token for t in store.saved] == ["refresh-1"]
    assert [token for kind, token in fake.events if kind == "use"] == ["access-1"] * 50
    assert saved_before_used(fake, "access-1")


async def test_fifty_tasks_at_expiry_make_one_refresh(fake: FakeBoast) -> None:
    fake.token_delay = 0.02
    store = StoreLoggedByFake(fake)
    async with async_client(fake, store, expires_at=NOW + dt.timedelta(seconds=30)) as boast:
        pages = await asyncio.gather(
            *(boast.list_sequences().pages().__anext__() for _ in range(50))
        )

    assert len(pages) == 50
    assert fake.token_hits == 1
    assert [t.refresh_token for t in store.saved] == ["refresh-1"]
    assert [token for kind, token in fake.events if kind == "use"] == ["access-1"] * 50
    assert saved_before_used(fake, "access-1")


async def test_fifty_tasks_hitting_401_make_one_refresh_and_replay(fake: FakeBoast) -> None:
    fake.token_delay = 0.02
    fake.access = {"access-revoked"}  # expires_at says valid; the server says otherwise
    store = StoreLoggedByFake(fake)
    async with async_client(fake, store, expires_at=NOW + dt.timedelta(hours=1)) as boast:
        await asyncio.gather(*(boast.list_sequences().pages().__anext__() for _ in range(50)))

    assert fake.token_hits == 1
    uses = [token for kind, token in fake.events if kind == "use"]
    assert uses.count("access-0") == 50 and uses.count("access-1") == 50
    assert saved_before_used(fake, "access-1")


def test_401_refreshes_once_and_replays_the_request(fake: FakeBoast) -> None:
    fake.access = set()  # the current access token was revoked early
    store = StoreLoggedByFake(fake)
    with sync_client(fake, store) as boast:
        fake.access = {"not-ours"}
        assert list(boast.list_sequences()) == []
        # A second call uses the refreshed token straight away.
        assert list(boast.list_contacts()) == []

    assert fake.token_hits == 1
    uses = [token for kind, token in fake.events if kind == "use"]
    assert uses == ["access-0", "access-1", "access-1"]
    assert fake.events.index(("save", "access-1")) < fake.events.index(("use", "access-1"))


def test_a_second_401_is_raised_not_looped(fake: FakeBoast) -> None:
    fake.reject_all = True  # even a freshly refreshed token is refused
    with (
        sync_client(fake, StoreLoggedByFake(fake)) as boast,
        pytest.raises(errors.AuthenticationError) as raised,
    ):
        list(boast.list_sequences())

    assert raised.value.status_code == 401
    assert fake.token_hits == 1
    assert [token for kind, token in fake.events if kind == "use"] == ["access-0", "access-1"]


def test_store_failure_keeps_the_new_token_off_the_wire_and_recoverable(fake: FakeBoast) -> None:
    store = StoreLoggedByFake(fake, fail=1)
    boast = sync_client(fake, store, expires_at=NOW - dt.timedelta(seconds=1))

    with pytest.raises(errors.TokenStoreError) as raised:
        list(boast.list_sequences())

    error = raised.value
    assert isinstance(error.token, OAuthToken) and error.token.refresh_token == "refresh-1"
    assert isinstance(error.__cause__, OSError)
    for text in (str(error), repr(error), repr(error.token)):
        assert "refresh-1" not in text and "access-1" not in text
    assert ("use", "access-1") not in fake.events and ("use", "access-0") not in fake.events

    # The next request offers the same token to the store again: no second refresh.
    assert list(boast.list_sequences()) == []
    assert fake.token_hits == 1
    assert [t.refresh_token for t in store.saved] == ["refresh-1"]
    assert saved_before_used(fake, "access-1")
    boast.close()


def test_refused_refresh_is_an_authentication_error_without_secrets(fake: FakeBoast) -> None:
    fake.refuse_grant = True
    store = StoreLoggedByFake(fake)
    with (
        sync_client(fake, store, expires_at=NOW) as boast,
        pytest.raises(errors.AuthenticationError) as raised,
    ):
        list(boast.list_sequences())

    error = raised.value
    assert error.status_code == 400 and error.codes == ("invalid_grant",)
    assert "The grant is invalid." in error.message
    for secret in ("refresh-0", "access-0", CLIENT_SECRET):
        assert secret not in str(error) and secret not in repr(error)
    assert store.saved == []


def test_without_refresh_credentials_a_401_is_raised(fake: FakeBoast) -> None:
    fake.access = set()
    with (
        sync_client(
            fake, None, refresh_token=None, client_id=None, client_secret=None, expires_at=NOW
        ) as boast,
        pytest.raises(errors.AuthenticationError) as raised,
    ):
        list(boast.list_sequences())
    assert raised.value.codes == ("unauthorized",)
    assert fake.token_hits == 0


@pytest.mark.parametrize("missing", ["client_id", "client_secret", "token_store", "refresh_token"])
def test_partial_refresh_credentials_are_refused(fake: FakeBoast, missing: str) -> None:
    with pytest.raises(errors.InvalidRequestError) as raised:
        sync_client(fake, StoreLoggedByFake(fake), **{missing: None})
    assert CLIENT_SECRET not in str(raised.value)


def test_an_access_token_is_required_unless_the_client_can_refresh(fake: FakeBoast) -> None:
    no_refresh = {"refresh_token": None, "client_id": None, "client_secret": None}
    with pytest.raises(errors.InvalidRequestError, match="access_token is required"):
        sync_client(fake, None, access_token="", **no_refresh)
    with sync_client(fake, StoreLoggedByFake(fake), access_token="") as boast:  # refreshes first
        assert list(boast.list_sequences()) == []
    assert fake.token_hits == 1 and ("use", "") not in fake.events


def test_client_reprs_hide_every_secret(fake: FakeBoast) -> None:
    with sync_client(fake, StoreLoggedByFake(fake)) as boast:
        shown = repr(boast) + repr(boast.with_options(max_retries=2)) + repr(boast._auth.keeper)
    for secret in ("access-0", "refresh-0", CLIENT_SECRET, CLIENT_ID):
        assert secret not in shown


def test_with_options_copies_share_the_rotating_token(fake: FakeBoast) -> None:
    store = StoreLoggedByFake(fake)
    with sync_client(fake, store, expires_at=NOW) as boast:
        patient = boast.with_options(max_retries=3)
        list(patient.list_sequences())  # refreshes: refresh-0 is now spent
        list(boast.list_sequences())  # must use access-1, not refresh with refresh-0
        patient.close()
    assert fake.token_hits == 1


def test_authorization_url_carries_the_documented_parameters() -> None:
    url = authorization_url(CLIENT_ID, "https://example.com/cb", state="xyz")
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "app.boast.io", "/oauth/authorize")
    assert parse_qs(parts.query) == {
        "client_id": [CLIENT_ID],
        "redirect_uri": ["https://example.com/cb"],
        "scope": ["read write"],
        "response_type": ["code"],
        "state": ["xyz"],
    }


def test_exchange_code_returns_the_first_token(fake: FakeBoast) -> None:
    sent: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return fake.handle(request)

    http = httpx.Client(transport=httpx.MockTransport(handle))
    token = exchange_code(
        "the-code",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_uri="https://example.com/cb",
        httpx_client=http,
    )
    assert (token.access_token, token.refresh_token) == ("access-1", "refresh-1")
    assert token.expires_at is not None
    assert abs((token.expires_at - dt.datetime.now(dt.UTC)).total_seconds() - 7200) < 60
    form = parse_qs(sent[0].content.decode())
    assert form["grant_type"] == ["authorization_code"] and form["code"] == ["the-code"]
    assert str(sent[0].url) == f"{AUTH}/oauth/token"
    assert sent[0].extensions["timeout"]["read"] == 30.0


async def test_aexchange_code_refused_is_an_authentication_error(fake: FakeBoast) -> None:
    http = httpx.AsyncClient(transport=httpx.MockTransport(fake.ahandle))
    with pytest.raises(errors.AuthenticationError) as raised:
        await aexchange_code(
            "wrong-code",
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            redirect_uri="https://example.com/cb",
            httpx_client=http,
        )
    assert raised.value.codes == ("invalid_grant",)
    assert "wrong-code" not in str(raised.value) and CLIENT_SECRET not in str(raised.value)
    good = await aexchange_code(
        "the-code",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_uri="https://example.com/cb",
        httpx_client=http,
    )
    assert good.refresh_token == "refresh-2"
    await http.aclose()


def test_plain_http_token_host_is_refused(fake: FakeBoast) -> None:
    with pytest.raises(errors.InvalidRequestError, match="https"):
        sync_client(fake, StoreLoggedByFake(fake), auth_base_url="http://app.boast.io")
