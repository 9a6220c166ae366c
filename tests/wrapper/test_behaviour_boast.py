"""Boast and its OAuth as a user meets them: contacts created once, every page read, the first
token obtained safely. Each test pins a promise that mutation testing (`make mutation`) showed
no other test held. Scripted servers (httpx.MockTransport) decide each answer; the first-token
exchange without a client of the caller's goes to the in-process sandbox on loopback.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from waits import record_waits

from sequence_clients import (
    AsyncBoastClient,
    BoastClient,
    OAuthToken,
    aexchange_code,
    errors,
    exchange_code,
)
from sequence_clients.sandbox import Sandbox

ACCOUNT = str(uuid.uuid4())
CLIENT_ID, CLIENT_SECRET = "client-id-abc", "client-secret-xyz"
REDIRECT = "https://app.example/oauth/callback"
STAMP = "2026-01-01T00:00:00Z"


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every wait the client takes, in seconds, instead of taking it."""
    return record_waits(monkeypatch)


class ScriptedBoast:
    """Boast's contacts and sequences. Each contact POST's fate is scripted: "ok", "refuse"
    (never arrived) or "commit-then-reset" (stored, answer lost). Sequences come `per_page`
    to a page, and each list request's query is kept."""

    def __init__(self, *fates: str, sequences: int = 0, per_page: int = 2) -> None:
        self.fates = list(fates)
        self.contacts: list[dict[str, Any]] = []
        self.sequences = [
            {"id": str(uuid.uuid4()), "name": f"s{n}", "status": "active", "created_at": STAMP, "updated_at": STAMP}
            for n in range(sequences)
        ]  # fmt: skip
        self.per_page = per_page
        self.queries: list[dict[str, str]] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path.endswith("/contacts"):
            return self._create_contact(request)
        self.queries.append(dict(request.url.params))
        if request.url.path.endswith("/sequences"):
            number = int(request.url.params.get("page", "1"))
            pages = max(1, -(-len(self.sequences) // self.per_page))
            start = (number - 1) * self.per_page
            meta = {"pagination": {"count": len(self.sequences), "page": number, "items": self.per_page, "pages": pages}}  # fmt: skip
            return httpx.Response(
                200, json={"data": self.sequences[start : start + self.per_page], "meta": meta}
            )
        return httpx.Response(200, json={"data": []})

    def _create_contact(self, request: httpx.Request) -> httpx.Response:
        fate = self.fates.pop(0) if self.fates else "ok"
        if fate == "refuse":
            raise httpx.ConnectError("connection refused", request=request)
        fields = json.loads(request.content)
        contact = {"id": str(uuid.uuid4()), "created_at": STAMP, "updated_at": STAMP, **fields}
        self.contacts.append(contact)
        if fate == "commit-then-reset":
            raise httpx.ReadError("connection reset by peer", request=request)
        return httpx.Response(201, json={"data": contact})


def boast_on(server: ScriptedBoast, **options: Any) -> BoastClient:
    http = httpx.Client(transport=httpx.MockTransport(server.handle))
    return BoastClient(account_id=ACCOUNT, access_token="t", httpx_client=http, **options)


# --- contacts are created once ------------------------------------------------------------


def test_a_contact_create_whose_answer_was_lost_is_not_resent(slept: list[float]) -> None:
    """Boast does not say contacts are unique by email: resending could make a second one."""
    server = ScriptedBoast("commit-then-reset")
    with boast_on(server) as boast, pytest.raises(errors.APIConnectionError) as raised:
        boast.create_contact(email="ann@acme.example")
    assert len(server.contacts) == 1
    assert raised.value.maybe_applied


def test_a_contact_create_that_never_arrived_is_retried(slept: list[float]) -> None:
    server = ScriptedBoast("refuse")
    with boast_on(server) as boast:
        contact = boast.create_contact(email="ann@acme.example", first_name="Ann")
    assert len(server.contacts) == 1
    assert str(contact.id) == server.contacts[0]["id"] and contact.first_name == "Ann"


async def test_async_contact_create_whose_answer_was_lost_is_not_resent(
    slept: list[float],
) -> None:
    server = ScriptedBoast("commit-then-reset")
    http = httpx.AsyncClient(transport=httpx.MockTransport(server.handle))
    async with AsyncBoastClient(account_id=ACCOUNT, access_token="t", httpx_client=http) as boast:
        with pytest.raises(errors.APIConnectionError):
            await boast.create_contact(email="ann@acme.example")
    assert len(server.contacts) == 1
    await http.aclose()


# --- every page is read -------------------------------------------------------------------


def test_list_sequences_reads_every_page_in_turn() -> None:
    server = ScriptedBoast(sequences=5, per_page=2)
    with boast_on(server) as boast:
        names = [s.name for s in boast.list_sequences()]
    assert names == [s["name"] for s in server.sequences]
    assert [q["page"] for q in server.queries] == ["1", "2", "3"]


async def test_async_list_sequences_reads_every_page_in_turn() -> None:
    server = ScriptedBoast(sequences=3, per_page=2)
    http = httpx.AsyncClient(transport=httpx.MockTransport(server.handle))
    async with AsyncBoastClient(account_id=ACCOUNT, access_token="t", httpx_client=http) as boast:
        names = [s.name async for s in boast.list_sequences()]
    assert names == ["s0", "s1", "s2"]
    assert [q["page"] for q in server.queries] == ["1", "2"]
    await http.aclose()


def test_enrollment_filters_reach_the_request() -> None:
    server = ScriptedBoast()
    contact, sequence = uuid.uuid4(), uuid.uuid4()
    with boast_on(server) as boast:
        list(boast.list_enrollments(contact_id=contact, sequence_id=sequence, status="paused"))
    assert server.queries == [
        {"page": "1", "contact_id": str(contact), "sequence_id": str(sequence), "status": "paused"}
    ]


async def test_async_enrollment_filters_reach_the_request() -> None:
    server = ScriptedBoast()
    contact, sequence = uuid.uuid4(), uuid.uuid4()
    http = httpx.AsyncClient(transport=httpx.MockTransport(server.handle))
    async with AsyncBoastClient(account_id=ACCOUNT, access_token="t", httpx_client=http) as boast:
        found = boast.list_enrollments(contact_id=contact, sequence_id=sequence, status="paused")
        assert [e async for e in found] == []
    assert server.queries == [
        {"page": "1", "contact_id": str(contact), "sequence_id": str(sequence), "status": "paused"}
    ]
    await http.aclose()


# --- the first token ----------------------------------------------------------------------


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


# --- the async 401 replay -----------------------------------------------------------------


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


class Saved:
    def __init__(self) -> None:
        self.tokens: list[OAuthToken] = []

    def save(self, token: OAuthToken) -> None:
        self.tokens.append(token)


async def test_async_replay_refused_again_is_an_authentication_error() -> None:
    api = RefusingApi()
    store = Saved()
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
    assert api.refreshes == 1 and [t.access_token for t in store.tokens] == ["access-1"]
