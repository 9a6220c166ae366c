"""Boast OAuth: token refresh under concurrency, save-before-use, failures, and no secret leaks.

A small in-memory OAuth server (httpx.MockTransport) stands in for app.boast.io and api.boast.io
so that every ordering below is observed exactly, not inferred from timing.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from sequence_clients import (
    AsyncBoastClient,
    BoastClient,
    OAuthToken,
    aexchange_code,
    authorization_url,
    errors,
    exchange_code,
)

API = "https://api.boast.io/v1"
AUTH = "https://app.boast.io"
CLIENT_ID, CLIENT_SECRET = "client-id-abc", "client-secret-xyz"
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


class Store:
    def __init__(self, fake: FakeBoast, fail: int = 0) -> None:
        self.fake = fake
        self.saved: list[OAuthToken] = []
        self.fail = fail  # refuse this many saves first

    def save(self, token: OAuthToken) -> None:
        if self.fail:
            self.fail -= 1
            raise OSError("disk full")
        self.saved.append(token)
        self.fake.events.append(("save", token.access_token))


def sync_client(fake: FakeBoast, store: Store | None, **overrides: Any) -> BoastClient:
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


def async_client(fake: FakeBoast, store: Store, **overrides: Any) -> AsyncBoastClient:
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
    store = Store(fake)
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
    store = Store(fake)
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
    store = Store(fake)
    async with async_client(fake, store, expires_at=NOW + dt.timedelta(hours=1)) as boast:
        await asyncio.gather(*(boast.list_sequences().pages().__anext__() for _ in range(50)))

    assert fake.token_hits == 1
    uses = [token for kind, token in fake.events if kind == "use"]
    assert uses.count("access-0") == 50 and uses.count("access-1") == 50
    assert saved_before_used(fake, "access-1")


def test_401_refreshes_once_and_replays_the_request(fake: FakeBoast) -> None:
    fake.access = set()  # the current access token was revoked early
    store = Store(fake)
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
        sync_client(fake, Store(fake)) as boast,
        pytest.raises(errors.AuthenticationError) as raised,
    ):
        list(boast.list_sequences())

    assert raised.value.status_code == 401
    assert fake.token_hits == 1
    assert [token for kind, token in fake.events if kind == "use"] == ["access-0", "access-1"]


def test_store_failure_keeps_the_new_token_off_the_wire_and_recoverable(fake: FakeBoast) -> None:
    store = Store(fake, fail=1)
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
    store = Store(fake)
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
        sync_client(fake, Store(fake), **{missing: None})
    assert CLIENT_SECRET not in str(raised.value)


def test_an_access_token_is_required_unless_the_client_can_refresh(fake: FakeBoast) -> None:
    no_refresh = {"refresh_token": None, "client_id": None, "client_secret": None}
    with pytest.raises(errors.InvalidRequestError, match="access_token is required"):
        sync_client(fake, None, access_token="", **no_refresh)
    with sync_client(fake, Store(fake), access_token="") as boast:  # refreshes first
        assert list(boast.list_sequences()) == []
    assert fake.token_hits == 1 and ("use", "") not in fake.events


def test_client_reprs_hide_every_secret(fake: FakeBoast) -> None:
    with sync_client(fake, Store(fake)) as boast:
        shown = repr(boast) + repr(boast.with_options(max_retries=2)) + repr(boast._auth.keeper)
    for secret in ("access-0", "refresh-0", CLIENT_SECRET, CLIENT_ID):
        assert secret not in shown


def test_with_options_copies_share_the_rotating_token(fake: FakeBoast) -> None:
    store = Store(fake)
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
        sync_client(fake, Store(fake), auth_base_url="http://app.boast.io")
