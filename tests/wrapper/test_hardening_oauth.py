"""Token answers the way real servers sometimes send them: without `expires_in`, with an odd one,
without a rotated refresh token, as HTML, cut short, form-encoded, or with a refresh token but no
access token. Whatever the answer, a refresh token in it reaches the store before anything fails,
and the one we hold is kept when the answer brings none. Both twins."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode

import httpx
import pytest

from sequence_clients import (
    AsyncBoastClient,
    BoastClient,
    OAuthToken,
    aexchange_code,
    errors,
    exchange_code,
)

ACCOUNT_ID = "7a2f1f8c-7771-47e2-8dbd-332b301028a8"
CLIENT_ID, CLIENT_SECRET = "client-id-abc", "client-secret-xyz"
LIFETIME = 7200  # Boast's documented token lifetime, in seconds
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


class Store:
    def __init__(self, fail: int = 0) -> None:
        self.saved: list[OAuthToken] = []
        self.fail = fail

    def save(self, token: OAuthToken) -> None:
        if self.fail:
            self.fail -= 1
            raise OSError("disk full")
        self.saved.append(token)


class Twin:
    """One of the two clients, driven the same way."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def client(self, fake: ScriptedBoast, store: Store, **overrides: Any) -> Client:
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


@pytest.fixture(params=["sync", "async"])
def twin(request: pytest.FixtureRequest) -> Twin:
    return Twin(request.param)


def seconds_left(token: OAuthToken) -> float:
    assert token.expires_at is not None
    return (token.expires_at - dt.datetime.now(dt.UTC)).total_seconds()


async def test_an_answer_without_expires_in_is_a_token_of_the_documented_lifetime(
    twin: Twin,
) -> None:
    fake = ScriptedBoast(token_json(access_token="access-1", refresh_token="refresh-1"))
    store = Store()
    client = twin.client(fake, store)
    assert await twin.list_sequences(client) == []
    await twin.close(client)

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
    twin: Twin, expires_in: Any, lifetime: float
) -> None:
    answer = token_json(access_token="access-1", refresh_token="refresh-1", expires_in=expires_in)
    fake, store = ScriptedBoast(answer), Store()
    client = twin.client(fake, store)
    await twin.list_sequences(client)
    await twin.close(client)

    assert [t.refresh_token for t in store.saved] == ["refresh-1"]
    assert lifetime - 60 < seconds_left(store.saved[0]) <= lifetime


async def test_an_answer_without_a_refresh_token_keeps_the_one_we_hold(twin: Twin) -> None:
    fake = ScriptedBoast(
        token_json(access_token="access-1", expires_in=0.001),  # no rotation, expired at once
        token_json(access_token="access-2", refresh_token="refresh-2", expires_in=7200),
    )
    store = Store()
    client = twin.client(fake, store)
    await twin.list_sequences(client)
    fake.valid = {"access-2"}  # access-1 has expired: refreshed before the second call
    await twin.list_sequences(client)
    await twin.close(client)

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
    twin: Twin, answer: Callable[[], httpx.Response]
) -> None:
    fake = ScriptedBoast(answer(), token_json(access_token="access-1", refresh_token="refresh-1"))
    store = Store()
    client = twin.client(fake, store)
    with pytest.raises(errors.TokenResponseError) as raised:
        await twin.list_sequences(client)
    assert raised.value.token is None and store.saved == [] and fake.bearers == []
    assert not raised.value.maybe_applied
    # The next call renews with the refresh token we still hold.
    await twin.list_sequences(client)
    await twin.close(client)
    assert fake.refresh_tokens_sent() == ["refresh-0", "refresh-0"]
    assert [t.refresh_token for t in store.saved] == ["refresh-1"]


async def test_a_refresh_token_without_an_access_token_is_saved_then_used(twin: Twin) -> None:
    fake = ScriptedBoast(
        token_json(refresh_token="refresh-1", expires_in=7200),
        token_json(access_token="access-2", refresh_token="refresh-2", expires_in=7200),
    )
    store = Store()
    client = twin.client(fake, store)
    with pytest.raises(errors.TokenResponseError, match="no usable access_token") as raised:
        await twin.list_sequences(client)
    assert [t.refresh_token for t in store.saved] == ["refresh-1"]  # saved before the error
    assert raised.value.token.refresh_token == "refresh-1"
    assert "refresh-1" not in str(raised.value) + repr(raised.value)
    assert fake.bearers == []  # no request went out with an empty bearer

    await twin.list_sequences(client)
    await twin.close(client)
    assert fake.refresh_tokens_sent() == ["refresh-0", "refresh-1"]
    assert fake.bearers == ["access-2"]


async def test_an_access_token_no_header_can_carry_is_not_used(twin: Twin) -> None:
    fake = ScriptedBoast(
        token_json(access_token="access 1\r\nX-Injected: yes", refresh_token="refresh-1"),
        token_json(access_token="access-2", refresh_token="refresh-2"),
    )
    store = Store()
    client = twin.client(fake, store)
    with pytest.raises(errors.TokenResponseError, match="no usable access_token"):
        await twin.list_sequences(client)
    await twin.list_sequences(client)
    await twin.close(client)
    assert [t.refresh_token for t in store.saved] == ["refresh-1", "refresh-2"]
    assert fake.bearers == ["access-2"]


async def test_a_client_can_start_from_a_saved_refresh_token_alone(twin: Twin) -> None:
    # What the store holds after an answer that brought only a refresh token.
    fake = ScriptedBoast(token_json(access_token="access-1", refresh_token="refresh-1"))
    store = Store()
    client = twin.client(fake, store, access_token="", expires_at=None)
    await twin.list_sequences(client)
    await twin.close(client)
    assert fake.refresh_tokens_sent() == ["refresh-0"] and fake.bearers == ["access-1"]


async def test_a_store_refusing_a_salvaged_refresh_token_is_offered_it_again(twin: Twin) -> None:
    fake = ScriptedBoast(
        token_json(refresh_token="refresh-1"),
        token_json(access_token="access-2", refresh_token="refresh-2", expires_in=7200),
    )
    store = Store(fail=1)
    client = twin.client(fake, store)
    with pytest.raises(errors.TokenStoreError) as raised:
        await twin.list_sequences(client)
    assert raised.value.token.refresh_token == "refresh-1"

    await twin.list_sequences(client)
    await twin.close(client)
    assert [t.refresh_token for t in store.saved] == ["refresh-1", "refresh-2"]
    assert fake.refresh_tokens_sent() == ["refresh-0", "refresh-1"]


async def test_a_cut_short_answer_never_quotes_its_tokens(twin: Twin) -> None:
    cut = b'{"access_token": "access-1", "refresh_token": "refresh-1", "expi'
    fake = ScriptedBoast(httpx.Response(200, content=cut, headers={"content-type": "text/json"}))
    client = twin.client(fake, Store())
    with pytest.raises(errors.TokenResponseError) as raised:
        await twin.list_sequences(client)
    await twin.close(client)
    shown = str(raised.value) + repr(raised.value)
    assert "not JSON" in shown and "access-1" not in shown and "refresh-1" not in shown


async def test_a_form_encoded_answer_is_read(twin: Twin) -> None:
    form = urlencode({"access_token": "access-1", "refresh_token": "refresh-1", "expires_in": 60})
    answer = httpx.Response(
        200, content=form.encode(), headers={"content-type": "application/x-www-form-urlencoded"}
    )
    fake, store = ScriptedBoast(answer), Store()
    client = twin.client(fake, store)
    await twin.list_sequences(client)
    await twin.close(client)
    assert [t.refresh_token for t in store.saved] == ["refresh-1"]
    assert 0 < seconds_left(store.saved[0]) <= 60


EXCHANGE = {
    "client_id": CLIENT_ID,
    "client_secret": CLIENT_SECRET,
    "redirect_uri": "https://example.com/cb",
}


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
    twin: Twin, status: int, error_class: type[errors.APIStatusError]
) -> None:
    echo = {"received": {"refresh_token": "refresh-0", "client_secret": CLIENT_SECRET}}
    fake = ScriptedBoast(httpx.Response(status, json=echo))
    client = twin.client(fake, Store())
    with pytest.raises(error_class) as raised:
        await twin.list_sequences(client)
    await twin.close(client)
    error = raised.value
    shown = str(error) + repr(error) + repr(vars(error))
    assert "refresh-0" not in shown and CLIENT_SECRET not in shown
    assert f"-> {status}" in str(error) and "not quoted" in str(error)
