"""What a client is built from and keeps: its settings checked and shown (secrets hidden) in its
repr, the base URL, keys and timeouts sent from every entry point, proxies, the caller's own
httpx client left as it was given, and `with_options` copies changing only their own requests."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import httpx
import pytest
from twin_harness import ASYNC, SYNC, Twin, closed, every, settle
from virtual_clock import VirtualClock
from wrapper_helpers import (
    ACCOUNT_UUID,
    PAUSE_PATH,
    PAUSED,
    SEQUENCE_ID,
    AsyncHttp,
    BoastOptions,
    Server,
    Wire,
    answer,
    boast_on,
    boast_root,
    client,
    contact_pages,
    serving,
    unavailable,
)

from sequence_clients import (
    AsyncBoastClient,
    AsyncUnifyClient,
    BoastClient,
    UnifyClient,
    errors,
)
from sequence_clients.generated.boast.api.accounts import get_account, list_accounts
from sequence_clients.generated.boast.api.sequences import list_sequences as boast_sequences
from sequence_clients.generated.unify.api.sequences import list_sequences as unify_sequences
from sequence_clients.sandbox import Sandbox
from sequence_clients.unify import UNIFY_BASE_URL

TARGET = "http://api.unify.test"  # never resolved: only the proxy is ever connected to


ENROLLMENT_ID = "00000000-0000-4000-8000-000000000001"


def _recording_client(keys: list[str | None]) -> httpx.Client:
    def answer(request: httpx.Request) -> httpx.Response:
        keys.append(request.headers.get("x-api-key"))
        return httpx.Response(200, json={"status": "success", "sequences": [], "next_cursor": None})

    return httpx.Client(transport=httpx.MockTransport(answer))


def _callers_own_client(keys: list[str | None], hooked: list[str]) -> httpx.Client:
    """An httpx client with settings of its own: base URL, a header, auth, an event hook."""
    http = _recording_client(keys)
    http.base_url = httpx.URL("https://callers-own.example/api/")
    http.headers["x-callers-header"] = "theirs"
    http.auth = httpx.BasicAuth("caller", "pass")
    http.event_hooks = {"request": [], "response": [lambda r: hooked.append(r.url.host)]}
    return http


def _settings_of(http: httpx.Client) -> tuple[object, ...]:
    return (
        str(http.base_url), dict(http.headers), http.auth, http.timeout,
        {name: list(hooks) for name, hooks in http.event_hooks.items()},
    )  # fmt: skip


async def test_unify_refuses_bad_settings_with_messages_naming_them(twin: Twin) -> None:
    with pytest.raises(errors.InvalidRequestError, match=r"^api_key "):
        twin.unify("")
    with pytest.raises(errors.InvalidRequestError, match="credentials must travel over https"):
        twin.unify("key", base_url="http://api.example.com")
    with pytest.raises(errors.InvalidRequestError, match="deadline must be a positive number"):
        twin.unify("key", deadline=0)
    with pytest.raises(errors.InvalidRequestError, match="rate_limit_storage needs a rate_limit"):
        twin.unify("key", rate_limit_storage="memory://")
    await closed(twin.unify("key", base_url="http://api.example.com", allow_insecure_http=True))


async def test_unify_settings_show_in_its_repr(twin: Twin) -> None:
    secret = "sk-unify-4f1d"
    client = twin.unify(secret, timeout=7, max_retries=2, deadline=2.5, rate_limit="5/s")
    shown = repr(client)
    assert "timeout=7" in shown and "max_retries=2" in shown and "deadline=2.5" in shown
    assert "rate_limit=RateLimit('5/s'" in shown
    assert secret not in shown
    await closed(client)


async def test_unify_sends_its_key_and_timeout_from_every_entry_point(
    twin: Twin, sandbox: Sandbox, wire: Wire
) -> None:
    """The named methods, a with_options copy and the generated client under `raw` all send
    the key, to the configured host, within the configured timeout."""
    key = sandbox.unify_api_key
    http = twin.over(wire)
    unify = twin.unify(key, base_url=sandbox.unify_base_url, timeout=7.5, httpx_client=http)
    await every(unify.list_sequences(page_size=1))
    copy = unify.with_options(max_retries=0)
    await every(copy.list_sequences(page_size=2))
    raw = unify_sequences.sync_detailed if twin is SYNC else unify_sequences.asyncio_detailed
    answer = await settle(raw(client=unify.raw, limit=3))
    assert answer.status_code == 200
    for request in wire.sent:
        assert request.headers["x-api-key"] == key
        assert request.url.host == httpx.URL(sandbox.unify_base_url).host
        assert request.extensions["timeout"]["read"] == 7.5
    assert {r.url.params["limit"] for r in wire.sent} == {"1", "2", "3"}
    await closed(copy)
    await closed(unify)
    await settle(http.aclose() if twin is ASYNC else http.close())


async def test_raw_clients_copied_with_new_headers_keep_the_configured_host(twin: Twin) -> None:
    """`raw.with_headers(...)` is a generated client of its own: it still points where the
    wrapper was pointed."""
    unify = twin.unify("key", base_url="https://unify.example")
    boast = twin.boast(access_token="t", base_url="https://boast.example/v1")
    for made, host in ((unify, "https://unify.example"), (boast, "https://boast.example")):
        copy = made.raw.with_headers({"x-trace": "1"})
        built = copy.get_httpx_client() if twin is SYNC else copy.get_async_httpx_client()
        assert str(built.base_url).rstrip("/") == host
        await settle(built.close() if twin is SYNC else built.aclose())
        await closed(made)


async def test_raw_clients_copied_with_new_headers_send_over_the_same_connection(
    twin: Twin,
) -> None:
    """A `raw.with_headers(...)` copy builds an httpx client of its own, which still sends over
    the caller's transport with the wrapper's key or token, and the new header."""
    wire = Wire(lambda request: httpx.Response(200, json={"sequences": [], "data": []}))
    unify = twin.unify("key", base_url="https://unify.example", httpx_client=twin.over(wire))
    boast = twin.boast(
        access_token="t", base_url="https://boast.example/v1", httpx_client=twin.over(wire)
    )
    unify_copy = unify.raw.with_headers({"x-trace": "u"})
    boast_copy = boast.raw.with_headers({"x-trace": "b"})
    if twin is SYNC:
        unify_sequences.sync_detailed(client=unify_copy, limit=1)
        list_accounts.sync_detailed(client=boast_copy)
    else:
        await unify_sequences.asyncio_detailed(client=unify_copy, limit=1)
        await list_accounts.asyncio_detailed(client=boast_copy)
    (to_unify, to_boast) = wire.sent
    assert (to_unify.headers["x-trace"], to_unify.headers["x-api-key"]) == ("u", "key")
    assert (to_boast.headers["x-trace"], to_boast.headers["authorization"]) == ("b", "Bearer t")
    assert (to_unify.url.host, to_boast.url.host) == ("unify.example", "boast.example")
    for made, copy in ((unify, unify_copy), (boast, boast_copy)):
        built = copy.get_httpx_client() if twin is SYNC else copy.get_async_httpx_client()
        await settle(built.close() if twin is SYNC else built.aclose())
        await closed(made)


async def test_a_raw_copy_given_a_key_of_its_own_sends_that_key_alone(twin: Twin) -> None:
    """`raw.with_headers({"x-api-key": ...})` replaces the key in the copy: the generated client
    merges header dicts by name, so only the same spelling as the wrapper's header replaces it
    rather than sending both keys."""
    wire = Wire(lambda request: httpx.Response(200, json={"sequences": [], "next_cursor": None}))
    unify = twin.unify("key", httpx_client=twin.over(wire))
    copy = unify.raw.with_headers({"x-api-key": "other-key"})
    if twin is SYNC:
        unify_sequences.sync_detailed(client=copy, limit=1)
    else:
        await unify_sequences.asyncio_detailed(client=copy, limit=1)
    (sent,) = wire.sent
    assert sent.headers.get_list("x-api-key") == ["other-key"]
    built = copy.get_httpx_client() if twin is SYNC else copy.get_async_httpx_client()
    await settle(built.close() if twin is SYNC else built.aclose())
    await closed(unify)


@pytest.mark.parametrize("in_async", [False, True])
async def test_the_raw_client_s_answers_keep_what_the_server_said(in_async: bool) -> None:
    """Answers through `raw` (over the caller's httpx client) keep their headers and the
    transport's details (here a reason phrase), as the caller's own client gives them."""

    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, headers={"x-request-id": "r-1"}, json={"sequences": [], "next_cursor": None},
            extensions={"reason_phrase": b"Fine"},
        )  # fmt: skip

    transport = httpx.MockTransport(handle)
    if in_async:
        async with AsyncUnifyClient(
            "key", httpx_client=httpx.AsyncClient(transport=transport)
        ) as aunify:
            answer = await aunify.raw.get_async_httpx_client().get("/sequences/v1/sequences")
    else:
        with UnifyClient("key", httpx_client=httpx.Client(transport=transport)) as unify:
            answer = unify.raw.get_httpx_client().get("/sequences/v1/sequences")
    assert (answer.status_code, answer.headers["x-request-id"]) == (200, "r-1")
    assert answer.reason_phrase == "Fine"


async def test_boast_refuses_bad_settings_with_messages_naming_them(twin: Twin) -> None:
    with pytest.raises(errors.InvalidRequestError, match="credentials must travel over https"):
        twin.boast(access_token="t", base_url="http://api.example.com")
    with pytest.raises(errors.InvalidRequestError, match=r"^account_id "):
        twin.boast(access_token="t", account_id="x")
    with pytest.raises(errors.InvalidRequestError, match="deadline must be a positive number"):
        twin.boast(access_token="t", deadline=-1)
    client = twin.boast(
        access_token="t", base_url="http://api.example.com/v1/", allow_insecure_http=True
    )
    assert "base_url='http://api.example.com'" in repr(client)
    wire = Wire(unavailable)
    proxied = twin.boast(
        account_id=uuid.uuid4(),
        access_token="t",
        base_url="https://gw.example/X/",
        max_retries=0,
        httpx_client=twin.over(wire),
    )
    with pytest.raises(errors.ServerError):
        await settle(proxied.get_account())
    assert wire.sent[0].url.path.startswith("/X/v1/accounts/")
    await closed(proxied)
    with pytest.raises(errors.InvalidRequestError, match=r"needs account_id \(list_accounts"):
        client.account_id  # noqa: B018
    await closed(client)


async def test_boast_sends_the_bearer_from_every_entry_point(
    twin: Twin, sandbox: Sandbox, wire: Wire
) -> None:
    """get_account, `call`, `paginate`, a with_options copy and `raw`: one bearer, one host."""
    root = boast_root(sandbox)
    state = sandbox.boast
    token = state.issue_token().access_token
    account = state.account_ids[0]
    boast = boast_on(twin, sandbox, wire, access_token=token, timeout=6.0)
    found = await settle(boast.get_account())
    assert str(found.id) == account and found.name == (state.account(account) or {})["name"]
    called = await settle(boast.call(get_account.operation(uuid.UUID(account))))
    assert str(called.data.id) == account
    names = [
        s.name for s in await every(boast.paginate(boast_sequences.operation(boast.account_id)))
    ]
    assert names == [s["name"] for s in state.sequences[account]]
    copy = boast.with_options(max_retries=1)
    assert [a.id for a in await every(copy.list_accounts())]
    raw = boast_sequences.sync_detailed if twin is SYNC else boast_sequences.asyncio_detailed
    assert (await settle(raw(account_id=uuid.UUID(account), client=boast.raw))).status_code == 200
    assert wire.paths()[:2] == [f"GET {root}/accounts/{account}"] * 2
    assert wire.paths()[2] == f"GET {root}/accounts/{account}/sequences"
    for request in wire.sent:
        assert request.headers["authorization"] == f"Bearer {token}"
        assert request.url.host == httpx.URL(sandbox.boast_base_url).host
        assert request.extensions["timeout"]["read"] == 6.0
    await closed(copy)
    await closed(boast)


@pytest.mark.parametrize(
    ("base_url", "sent_to"),
    [
        ("https://proxy.example.com/unify/", "https://proxy.example.com/unify" + PAUSE_PATH),
        ("https://proxy.example.com/BOX/", "https://proxy.example.com/BOX" + PAUSE_PATH),
        ("https://proxy.example.com/unify", "https://proxy.example.com/unify" + PAUSE_PATH),
        ("https://proxy.example.com/unify//", "https://proxy.example.com/unify" + PAUSE_PATH),
    ],
)
async def test_a_base_url_with_a_path_is_kept_and_its_trailing_slashes_dropped(
    twin: Twin,
    clock: VirtualClock,
    base_url: str,
    sent_to: str,
) -> None:
    server = Server(clock)
    client = twin(server, base_url=base_url)
    await client.pause()
    assert str(server.received[0].url) == sent_to


def test_a_plain_http_base_url_is_refused_saying_why_with_its_secrets_hidden() -> None:
    with pytest.raises(errors.InvalidRequestError) as raised:
        UnifyClient("key", base_url="http://proxy.example.com/?api_key=s3cret")
    assert "s3cret" not in str(raised.value)  # the key is hidden; wording: tests/golden


async def test_a_proxy_given_carries_every_request(async_http: AsyncHttp) -> None:
    async with serving(answer(200, PAUSED)) as proxy:
        unify = client(async_http(proxy=proxy.url), TARGET, allow_insecure_http=True)
        await unify.pause_sequence(SEQUENCE_ID)
    assert proxy.requests == [f"POST {TARGET}{PAUSE_PATH} HTTP/1.1"]


@pytest.mark.parametrize("trust_env", [True, False])
async def test_the_environments_proxy_is_used_only_with_trust_env(
    async_http: AsyncHttp, monkeypatch: pytest.MonkeyPatch, trust_env: bool
) -> None:
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    async with serving(answer(200, PAUSED)) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        # Direct, the target is a loopback server of its own.
        async with serving(answer(200, PAUSED)) as direct:
            target = TARGET if trust_env else direct.url
            unify = client(async_http(trust_env=trust_env), target, allow_insecure_http=True)
            await unify.pause_sequence(SEQUENCE_ID)
    assert len(proxy.requests) == (1 if trust_env else 0)
    assert len(direct.requests) == (0 if trust_env else 1)


def test_an_api_key_is_required(twin: Twin) -> None:
    with pytest.raises(errors.InvalidRequestError, match=r"^api_key ") as raised:
        twin.unify("")
    assert "UNIFY_API_KEY" in str(raised.value)  # the variable that would give one


def test_a_key_neither_given_nor_in_the_environment_names_its_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("UNIFY_API_KEY", raising=False)
    with pytest.raises(errors.ConfigurationError) as raised:
        UnifyClient()
    assert isinstance(raised.value, errors.InvalidRequestError)
    assert raised.value.variable == "UNIFY_API_KEY"
    assert "UNIFY_API_KEY" in str(raised.value)


def test_an_option_copy_with_a_new_access_token_uses_it() -> None:
    bearers: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        bearers.append(request.headers["authorization"])
        return httpx.Response(200, json={"data": []})

    http = httpx.Client(transport=httpx.MockTransport(handle))
    own = httpx.Client(transport=httpx.MockTransport(handle))
    with BoastClient(account_id=uuid.uuid4(), access_token="first", httpx_client=http) as boast:
        list(boast.with_options(access_token="second", httpx_client=own).list_sequences())
        list(boast.with_options(max_retries=0).list_sequences())
        list(boast.list_sequences())
    assert bearers == ["Bearer second", "Bearer first", "Bearer first"]


def test_constructor_checks(
    sandbox: Sandbox, token_store: Any, boast_options: BoastOptions
) -> None:
    with pytest.raises(errors.InvalidRequestError, match="account_id must be a UUID"):
        BoastClient(**boast_options(sandbox, token_store, account_id="acct-1"))
    with pytest.raises(errors.InvalidRequestError, match="https"):
        BoastClient(**boast_options(sandbox, token_store, base_url="http://api.boast.io"))
    with pytest.raises(errors.InvalidRequestError, match="timezone-aware"):
        BoastClient(**boast_options(sandbox, token_store, expires_at=dt.datetime(2030, 1, 1)))
    anonymous = BoastClient(**boast_options(sandbox, token_store, account_id=None))
    with anonymous, pytest.raises(errors.InvalidRequestError, match="account_id"):
        anonymous.enroll(uuid.uuid4(), uuid.uuid4())


@pytest.mark.parametrize("base_url", ["https://api.boast.io", "https://api.boast.io/v1/"])
async def test_boast_base_url_is_the_host_root_and_the_old_v1_form_still_works(
    base_url: str,
) -> None:
    http = httpx.AsyncClient(transport=httpx.MockTransport(contact_pages))
    async with AsyncBoastClient(
        account_id=ACCOUNT_UUID, access_token="t", base_url=base_url, httpx_client=http
    ) as boast:
        contacts = [c async for c in boast.list_contacts()]
    assert len(contacts) == 6 and "base_url='https://api.boast.io'" in repr(boast)


@pytest.mark.parametrize("change", [{"api_key": "key-B"}, {"base_url": "https://eu.example"}])
def test_a_copy_changes_its_own_requests_not_the_callers_httpx_client(
    change: dict[str, object],
) -> None:
    keys: list[str | None] = []
    hooked: list[str] = []
    with _callers_own_client(keys, hooked) as http:
        before = _settings_of(http)
        original = UnifyClient("key-A", httpx_client=http)
        copy = original.with_options(**change)  # type: ignore[arg-type]
        list(copy.list_sequences())
        list(original.list_sequences())
        assert _settings_of(http) == before
    assert keys == [change.get("api_key", "key-A"), "key-A"]
    assert hooked == [
        httpx.URL(str(change.get("base_url", UNIFY_BASE_URL))).host,
        "api.unifygtm.com",
    ]


def test_the_callers_httpx_client_keeps_its_settings_after_use_by_both_vendors() -> None:
    keys: list[str | None] = []
    hooked: list[str] = []
    with _callers_own_client(keys, hooked) as http:
        before = _settings_of(http)
        list(UnifyClient("key-A", httpx_client=http, timeout=2.0).list_sequences())
        boast = BoastClient(account_id=ENROLLMENT_ID, access_token="first", httpx_client=http)
        with pytest.raises(errors.UnexpectedResponseError):  # the recorder answers Unify's shape
            boast.get_account()
        assert _settings_of(http) == before
        assert http.auth is before[2] and not http.is_closed
    assert hooked == ["api.unifygtm.com", "api.boast.io"]  # the caller's hook saw both


def test_a_copy_with_its_own_httpx_client_leaves_the_original_alone() -> None:
    keys: list[str | None] = []
    with _recording_client(keys) as mine, _recording_client(keys) as theirs:
        original = UnifyClient("key-A", httpx_client=mine)
        copy = original.with_options(api_key="key-B", httpx_client=theirs)
        list(original.list_sequences())
        list(copy.list_sequences())
        patient = original.with_options(max_retries=9, timeout=2.0)  # sent per request
        list(patient.list_sequences())
        assert mine.event_hooks == {"request": [], "response": []}  # none of ours added
    assert keys == ["key-A", "key-B", "key-A"]


def test_boast_copy_with_another_token_on_a_shared_httpx_client_sends_its_own() -> None:
    sent: list[str | None] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request.headers.get("authorization"))
        return httpx.Response(500)

    with httpx.Client(transport=httpx.MockTransport(answer)) as http:
        boast = BoastClient(
            account_id=ENROLLMENT_ID, access_token="first", httpx_client=http, max_retries=0
        )
        copy = boast.with_options(access_token="second")
        for client in (copy, boast):
            with pytest.raises(errors.ServerError):
                client.get_account()
    assert sent == ["Bearer second", "Bearer first"]


def test_plain_http_is_refused_except_to_loopback() -> None:
    with pytest.raises(errors.InvalidRequestError, match="https"):
        UnifyClient("key", base_url="http://api.unifygtm.com")
    UnifyClient("key", base_url="http://api.unifygtm.com", allow_insecure_http=True).close()
    UnifyClient("key", base_url="http://localhost:8000/unify").close()


def test_with_options_keeps_credentials_and_changes_settings(
    sandbox: Sandbox, unify: UnifyClient
) -> None:
    patient = unify.with_options(max_retries=7, timeout=3.0)
    assert "max_retries=7" in repr(patient) and "timeout=3.0" in repr(patient)
    assert sandbox.unify_api_key not in repr(patient)
    assert len(list(patient.list_sequences())) == len(sandbox.unify.live_sequences())
    patient.close()


@pytest.mark.parametrize(
    ("make", "name"),
    [
        (lambda: UnifyClient("key", time_out=3), "UnifyClient"),
        (lambda: AsyncUnifyClient("key", auth_httpx_client=None), "AsyncUnifyClient"),
        (lambda: BoastClient(access_token="a", acount_id=str(uuid.uuid4())), "BoastClient"),
        (lambda: AsyncBoastClient(access_token="a", api_key="k"), "AsyncBoastClient"),
    ],
)
def test_an_option_no_constructor_declares_is_a_type_error(
    make: Any, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `**options` would take any name: a misspelt one must not be dropped in silence.
    monkeypatch.delenv("UNIFY_API_KEY", raising=False)
    with pytest.raises(TypeError, match=rf"^{name}\(\) got an unexpected keyword argument '"):
        make()
