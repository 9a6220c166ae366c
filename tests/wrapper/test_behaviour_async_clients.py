"""The async twins (AsyncUnifyClient, AsyncBoastClient) keep every promise the sync ones make:
each scenario runs once per twin. What is checked is what a user meets — the request sent
(method, path, query, body, headers, timeout), what is raised and what its message says, and
what comes back. Each scenario pins a promise that mutation testing (`make mutation`) showed
no test held for one of the twins.

Requests go through `Wire`: it keeps every request, and answers it either from a script or by
passing it on to the in-process sandbox over loopback.
"""

from __future__ import annotations

import datetime as dt
import inspect
import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from waits import record_waits

from sequence_clients import (
    AsyncBoastClient,
    AsyncUnifyClient,
    BoastClient,
    OAuthToken,
    RetryPolicy,
    UnifyClient,
    errors,
)
from sequence_clients import boast as boast_module
from sequence_clients.generated.boast.api.accounts import get_account
from sequence_clients.generated.boast.api.sequences import list_sequences as boast_sequences
from sequence_clients.generated.unify.api.sequences import list_sequences as unify_sequences
from sequence_clients.generated.unify.models import (
    BulkApiUuidFilter,
    CreateBulkApiSequenceEnrollmentsJobFilter,
)
from sequence_clients.sandbox import Sandbox

Answer = Callable[[httpx.Request], httpx.Response | None]
MakeSandbox = Callable[..., Sandbox]


class Wire:
    """Every request a client sends, in order; each answered by `answer` or, when that gives
    None (or there is none), by the sandbox."""

    def __init__(self, answer: Answer | None = None) -> None:
        self.sent: list[httpx.Request] = []
        self._answer = answer
        self._loopback = httpx.Client()

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        scripted = self._answer(request) if self._answer else None
        if scripted is not None:
            return scripted
        return self.forward(request, request.url)

    def forward(self, request: httpx.Request, url: httpx.URL) -> httpx.Response:
        """`request` sent to the sandbox at `url`, and its answer."""
        passed = httpx.Request(
            request.method, url, headers=request.headers, content=request.content
        )
        answer = self._loopback.send(passed)
        headers = {k: v for k, v in answer.headers.items() if k.lower() != "content-encoding"}
        return httpx.Response(answer.status_code, headers=headers, content=answer.content)

    def paths(self) -> list[str]:
        return [f"{r.method} {r.url.path}" for r in self.sent]

    def close(self) -> None:
        self._loopback.close()


@dataclass(frozen=True)
class Twin:
    name: str
    unify: type[UnifyClient] | type[AsyncUnifyClient]
    boast: type[BoastClient] | type[AsyncBoastClient]
    http: type[httpx.Client] | type[httpx.AsyncClient]

    def over(self, wire: Wire) -> Any:
        """An httpx client of the twin's kind whose every request goes to `wire`."""
        return self.http(transport=httpx.MockTransport(wire.handle))


SYNC = Twin("sync", UnifyClient, BoastClient, httpx.Client)
ASYNC = Twin("async", AsyncUnifyClient, AsyncBoastClient, httpx.AsyncClient)


@pytest.fixture(params=[SYNC, ASYNC], ids=lambda twin: twin.name)
def twin(request: pytest.FixtureRequest) -> Twin:
    return request.param  # type: ignore[no-any-return]


async def settle(value: Any) -> Any:
    """What a method of either twin gives: awaited if it is awaitable."""
    return await value if inspect.isawaitable(value) else value


async def every(pager: Any) -> list[Any]:
    if isinstance(pager, Iterable):
        return list(pager)
    found: AsyncIterator[Any] = aiter(pager)
    return [item async for item in found]


async def closed(client: Any) -> None:
    await settle(client.close())


@pytest.fixture
def wire() -> Iterable[Wire]:
    w = Wire()
    yield w
    w.close()


def unavailable(request: httpx.Request) -> httpx.Response:
    return httpx.Response(503, json={"status": "unavailable", "message": "try later"})


# --- Unify: the constructor ---------------------------------------------------------------


async def test_unify_refuses_bad_settings_with_messages_naming_them(twin: Twin) -> None:
    with pytest.raises(
        errors.InvalidRequestError, match=r"^api_key is required \(UNIFY_API_KEY\)$"
    ):
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
    for client, host in ((unify, "https://unify.example"), (boast, "https://boast.example")):
        copy = client.raw.with_headers({"x-trace": "1"})
        built = copy.get_httpx_client() if twin is SYNC else copy.get_async_httpx_client()
        assert str(built.base_url).rstrip("/") == host
        await settle(built.close() if twin is SYNC else built.aclose())
        await closed(client)


async def test_unify_max_retries_and_retry_policy_are_the_ones_given(
    twin: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    slept = record_waits(monkeypatch)
    wire = Wire(unavailable)
    unify = twin.unify("key", max_retries=2, httpx_client=twin.over(wire))
    with pytest.raises(errors.ServerError):
        await settle(unify.get_sequence(uuid.uuid4()))
    assert len(wire.sent) == 3 and len(slept) == 2

    # A Retry-After beyond the policy's max_retry_after is raised at once, not waited out.
    late = Wire(lambda r: httpx.Response(503, headers={"Retry-After": "5"}, json={}))
    policy = RetryPolicy(max_retry_after=1.0)
    impatient = twin.unify("key", retry_policy=policy, httpx_client=twin.over(late))
    with pytest.raises(errors.ServerError) as raised:
        await settle(impatient.get_sequence(uuid.uuid4()))
    assert len(late.sent) == 1 and raised.value.retry_after == 5
    patient = twin.unify("key", max_retries=1, httpx_client=twin.over(late))
    with pytest.raises(errors.ServerError):
        await settle(patient.get_sequence(uuid.uuid4()))
    assert len(late.sent) == 3 and slept[-1] == 5
    for client in (unify, impatient, patient):
        await closed(client)
    wire.close()
    late.close()


# --- Unify: what each named method sends ----------------------------------------------


async def test_unify_list_sequence_steps_sends_its_arguments(
    twin: Twin, sandbox: Sandbox, wire: Wire
) -> None:
    steps = sandbox.unify.steps
    sequence = next(
        s["id"]
        for s in sandbox.unify.live_sequences()
        if len({step["type"] for step in steps[s["id"]]}) >= 2
        and any(step["type"] == "AUTOMATIC_EMAIL" for step in steps[s["id"]])
    )
    unify = twin.unify(
        sandbox.unify_api_key, base_url=sandbox.unify_base_url, httpx_client=twin.over(wire)
    )
    everything = await every(unify.list_sequence_steps(sequence, page_size=1))
    emails = await every(unify.list_sequence_steps(uuid.UUID(sequence), types=["AUTOMATIC_EMAIL"]))
    assert len(everything) == len(steps[sequence])
    assert len(wire.sent) == len(everything) + 1  # one step to a page, then the filtered list
    first = wire.sent[0]
    assert first.method == "GET" and first.url.path.endswith(f"/sequences/{sequence}/steps")
    assert first.url.params["limit"] == "1" and "type" not in first.url.params
    last = wire.sent[-1]
    assert last.url.params.get_list("type") == ["AUTOMATIC_EMAIL"]
    assert last.url.params["limit"] == "100"
    automatic = [s for s in steps[sequence] if s["type"] == "AUTOMATIC_EMAIL"]
    assert [str(step.id) for step in emails] == [s["id"] for s in automatic]
    await closed(unify)


async def test_unify_list_sequence_steps_refuses_bad_arguments_by_name(twin: Twin) -> None:
    wire = Wire(unavailable)
    unify = twin.unify("key", httpx_client=twin.over(wire))
    with pytest.raises(errors.InvalidRequestError, match=r"^sequence_id must be a UUID, got 'x'$"):
        unify.list_sequence_steps("x")
    with pytest.raises(errors.InvalidRequestError, match=r"^page_size must be 1\.\.100, got 0$"):
        unify.list_sequence_steps(uuid.uuid4(), page_size=0)
    with pytest.raises(errors.InvalidRequestError, match=r"step types must be among .*EMAIL"):
        unify.list_sequence_steps(uuid.uuid4(), types=["LETTER"])
    assert wire.sent == []
    await closed(unify)


ENROLLMENT_CALLS = {
    "get_enrollment": ("GET", "/enrollments/{}"),
    "cancel_enrollment": ("DELETE", "/enrollments/{}"),
    "pause_enrollment": ("POST", "/enrollments/{}/pause"),
    "resume_enrollment": ("POST", "/enrollments/{}/resume"),
}
SEQUENCE_CALLS = {
    "get_sequence": ("GET", "/sequences/{}"),
    "pause_sequence": ("POST", "/sequences/{}/pause"),
    "resume_sequence": ("POST", "/sequences/{}/resume"),
    "delete_sequence": ("DELETE", "/sequences/{}"),
}


@pytest.mark.parametrize("method", [*ENROLLMENT_CALLS, *SEQUENCE_CALLS])
async def test_unify_named_calls_send_the_id_and_name_a_bad_one(twin: Twin, method: str) -> None:
    verb, path = (ENROLLMENT_CALLS | SEQUENCE_CALLS)[method]
    argument = "enrollment_id" if method in ENROLLMENT_CALLS else "sequence_id"
    wire = Wire(unavailable)
    unify = twin.unify("key", max_retries=0, httpx_client=twin.over(wire))
    with pytest.raises(errors.InvalidRequestError, match=rf"^{argument} must be a UUID, got 'x'$"):
        await settle(getattr(unify, method)("x"))
    assert wire.sent == []
    wanted = uuid.uuid4()
    with pytest.raises(errors.ServerError):
        await settle(getattr(unify, method)(str(wanted)))
    (request,) = wire.sent
    assert request.method == verb
    assert request.url.path == "/sequences/v1" + path.format(wanted)
    await closed(unify)


async def test_unify_list_enrollments_and_sequences_send_their_filters(twin: Twin) -> None:
    empty = {"enrollments": [], "sequences": [], "next_cursor": None}
    wire = Wire(lambda r: httpx.Response(200, json=empty))
    unify = twin.unify("key", httpx_client=twin.over(wire))
    sequence, person, mailbox, play = (uuid.uuid4() for _ in range(4))
    after = dt.datetime(2026, 11, 1, 8, 30, tzinfo=dt.UTC)
    before = dt.datetime(2026, 11, 20, 17, 0, tzinfo=dt.UTC)
    found = unify.list_enrollments(
        sequence_id=sequence,
        person_id=str(person),
        mailbox_id=mailbox,
        enrolled_by_play_id=play,
        status=["IN_PROGRESS", "FINISHED"],
        updated_after=after,
        updated_before=before,
        page_size=7,
    )
    assert await every(found) == []
    await every(unify.list_sequences(page_size=3))
    enrollments, sequences = (r.url.params for r in wire.sent)
    assert enrollments["sequence_id"] == str(sequence)
    assert enrollments["person_id"] == str(person)
    assert enrollments["mailbox_id"] == str(mailbox)
    assert enrollments["enrolled_by_play_id"] == str(play)
    assert enrollments.get_list("status") == ["IN_PROGRESS", "FINISHED"]
    assert dt.datetime.fromisoformat(enrollments["updated_after"]) == after
    assert dt.datetime.fromisoformat(enrollments["updated_before"]) == before
    assert enrollments["limit"] == "7" and sequences["limit"] == "3"
    with pytest.raises(errors.InvalidRequestError, match=r"^page_size must be 1\.\.100, got 101$"):
        unify.list_sequences(page_size=101)
    await closed(unify)


@pytest.mark.parametrize("name", ["sequence_id", "person_id", "mailbox_id", "enrolled_by_play_id"])
async def test_unify_list_enrollments_names_a_bad_id(twin: Twin, name: str) -> None:
    unify = twin.unify("key", httpx_client=twin.over(Wire(unavailable)))
    with pytest.raises(errors.InvalidRequestError, match=rf"^{name} must be a UUID, got 'x'$"):
        unify.list_enrollments(**{name: "x"})
    await closed(unify)


async def test_unify_list_enrollments_names_a_date_that_is_not_a_datetime(twin: Twin) -> None:
    unify = twin.unify("key", httpx_client=twin.over(Wire(unavailable)))
    message = r"^updated_before must be a timezone-aware datetime, got str '2026-11-01'$"
    with pytest.raises(errors.InvalidRequestError, match=message):
        unify.list_enrollments(updated_before="2026-11-01")  # type: ignore[arg-type]
    await closed(unify)


async def test_unify_enroll_names_a_malformed_active_enrollment_in_a_conflict(twin: Twin) -> None:
    sequence = uuid.uuid4()
    conflict = {
        "status": "conflict",
        "message": "Person is already enrolled",
        "active_enrollment_id": "garbled",
        "active_sequence_id": str(sequence),
    }
    wire = Wire(lambda r: httpx.Response(409, json=conflict))
    unify = twin.unify("key", httpx_client=twin.over(wire))
    message = r"^active_enrollment_id must be a UUID, got 'garbled'$"
    with pytest.raises(errors.InvalidRequestError, match=message):
        await settle(
            unify.enroll(
                sequence,
                uuid.uuid4(),
                mailbox_emails=["rep@acme.example"],
                on_conflict="return_existing",
            )
        )
    assert len(wire.sent) == 1
    await closed(unify)


# --- Unify: the bulk export ---------------------------------------------------------------


async def test_unify_export_sends_the_filter_and_page_size_and_reads_every_page(
    twin: Twin, make_sandbox: MakeSandbox
) -> None:
    sandbox = make_sandbox(job_seconds=0)
    state = sandbox.unify
    sequence = next(
        s["id"] for s in state.live_sequences() if state.active_enrollment_count(s["id"]) >= 3
    )
    wire = Wire()
    unify = twin.unify(
        sandbox.unify_api_key, base_url=sandbox.unify_base_url, httpx_client=twin.over(wire)
    )
    rows = await every(unify.export_enrollments(sequence_id=sequence, page_size=2))
    expected = {e.id for e in state.enrollments.values() if e.sequence_id == sequence}
    assert sorted(str(r.id) for r in rows) == sorted(expected)  # each once, none of another
    created = [r for r in wire.sent if r.method == "POST"]
    assert len(created) == 1  # one job, however many pages
    assert json.loads(created[0].content)["filter"] == {"sequence": {"id": sequence}}
    results = [r for r in wire.sent if r.url.path.endswith("/results")]
    pages = -(-len(expected) // 2)
    assert [r.url.params["page"] for r in results] == [str(n) for n in range(1, pages + 1)]
    assert {r.url.params["page_size"] for r in results} == {"2"}
    assert len({r.url.path for r in results}) == 1  # every page of the one job
    await closed(unify)
    wire.close()


async def test_unify_export_sends_a_filter_given_and_the_default_page_size(
    twin: Twin, make_sandbox: MakeSandbox
) -> None:
    sandbox = make_sandbox(job_seconds=0)
    state = sandbox.unify
    sequence = state.live_sequences()[0]["id"]
    wire = Wire()
    unify = twin.unify(
        sandbox.unify_api_key, base_url=sandbox.unify_base_url, httpx_client=twin.over(wire)
    )
    wanted = CreateBulkApiSequenceEnrollmentsJobFilter(sequence=BulkApiUuidFilter(id=sequence))
    rows = await every(unify.export_enrollments(filter=wanted))
    expected = {e.id for e in state.enrollments.values() if e.sequence_id == sequence}
    assert sorted(str(r.id) for r in rows) == sorted(expected)
    (created,) = (r for r in wire.sent if r.method == "POST")
    assert json.loads(created.content)["filter"] == {"sequence": {"id": sequence}}
    results = [r for r in wire.sent if r.url.path.endswith("/results")]
    assert [r.url.params["page_size"] for r in results] == ["1000"]
    await closed(unify)
    wire.close()


async def test_unify_export_raises_when_the_server_skips_a_page(
    twin: Twin, make_sandbox: MakeSandbox
) -> None:
    """A results endpoint off by one from page 2 on would lose rows: the export raises."""
    sandbox = make_sandbox(job_seconds=0)

    def skipping(request: httpx.Request) -> httpx.Response | None:
        page = int(request.url.params.get("page", "1"))
        if not request.url.path.endswith("/results") or page == 1:
            return None
        return wire.forward(request, request.url.copy_set_param("page", str(page + 1)))

    wire = Wire(skipping)
    unify = twin.unify(
        sandbox.unify_api_key, base_url=sandbox.unify_base_url, httpx_client=twin.over(wire)
    )
    with pytest.raises(
        errors.PaginationError, match=r"asked for page .*2\), the server sent page .*3\)"
    ):
        await every(unify.export_enrollments(page_size=1))
    await closed(unify)
    wire.close()


async def test_unify_export_gives_up_after_its_timeout(
    twin: Twin, make_sandbox: MakeSandbox
) -> None:
    sandbox = make_sandbox(job_seconds=3600)
    wire = Wire()
    unify = twin.unify(
        sandbox.unify_api_key, base_url=sandbox.unify_base_url, httpx_client=twin.over(wire)
    )
    with pytest.raises(errors.DeadlineExceededError, match=r"still .* after 0s \(export_timeout\)"):
        await every(unify.export_enrollments(export_timeout=0))
    assert [r.method for r in wire.sent] == ["POST", "GET"]
    with pytest.raises(errors.InvalidRequestError, match="export_timeout must be seconds >= 0"):
        unify.export_enrollments(export_timeout=-1)
    with pytest.raises(errors.InvalidRequestError, match="either sequence_id or filter"):
        unify.export_enrollments(sequence_id=uuid.uuid4(), filter=object())  # type: ignore[arg-type]
    await closed(unify)
    wire.close()


# --- Boast: the constructor and the bearer ------------------------------------------------


def boast_root(sandbox: Sandbox) -> str:
    """The path every Boast request of the sandbox starts with (its host root, then /v1)."""
    return httpx.URL(sandbox.boast_base_url).path.rstrip("/") + "/v1"


def boast_on(twin: Twin, sandbox: Sandbox, wire: Wire, **options: Any) -> Any:
    state = sandbox.boast
    settings: dict[str, Any] = {
        "account_id": state.account_ids[0],
        "access_token": state.issue_token().access_token,
        "base_url": sandbox.boast_base_url,
        "max_retries": 0,
        "httpx_client": twin.over(wire),
        **options,
    }
    return twin.boast(**settings)


async def test_boast_refuses_bad_settings_with_messages_naming_them(twin: Twin) -> None:
    with pytest.raises(errors.InvalidRequestError, match="credentials must travel over https"):
        twin.boast(access_token="t", base_url="http://api.example.com")
    with pytest.raises(errors.InvalidRequestError, match=r"^account_id must be a UUID, got 'x'$"):
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


async def test_boast_without_account_id_sends_nothing(
    twin: Twin, sandbox: Sandbox, wire: Wire
) -> None:
    boast = boast_on(twin, sandbox, wire, account_id=None)
    message = r"^this call needs account_id \(list_accounts\(\) shows yours\)$"
    with pytest.raises(errors.InvalidRequestError, match=message):
        await settle(boast.get_account())
    with pytest.raises(errors.InvalidRequestError, match=message):
        boast.list_sequences()
    assert wire.sent == []
    await closed(boast)


async def test_boast_account_pages_carry_the_answer(
    twin: Twin, sandbox: Sandbox, wire: Wire
) -> None:
    boast = boast_on(twin, sandbox, wire)
    (page,) = await every(boast.list_accounts().pages())
    assert [str(a.id) for a in page.items] == sandbox.boast.account_ids
    assert page.raw.data == page.items
    await closed(boast)


@pytest.mark.parametrize("name", ["contact_id", "sequence_id"])
async def test_boast_list_enrollments_names_a_bad_id(twin: Twin, name: str) -> None:
    boast = twin.boast(
        account_id=uuid.uuid4(), access_token="t", httpx_client=twin.over(Wire(unavailable))
    )
    with pytest.raises(errors.InvalidRequestError, match=rf"^{name} must be a UUID, got 'x'$"):
        boast.list_enrollments(**{name: "x"})
    await closed(boast)


# --- Boast: enrollments -------------------------------------------------------------------


def free_pair(sandbox: Sandbox) -> tuple[str, str, str]:
    """An account, one of its contacts and an active sequence the contact is not enrolled in."""
    state = sandbox.boast
    account = state.account_ids[0]
    for sequence in state.active_sequences(account):
        for contact in state.contacts[account]:
            if state.active_enrollment(contact["id"], sequence["id"]) is None:
                return account, contact["id"], sequence["id"]
    raise AssertionError("the seed has no free (contact, sequence) pair")


async def test_boast_enrollment_calls_send_the_ids_and_name_a_bad_one(
    twin: Twin, sandbox: Sandbox, wire: Wire
) -> None:
    root = boast_root(sandbox)
    account, contact, sequence = free_pair(sandbox)
    boast = boast_on(twin, sandbox, wire)
    created = await settle(boast.enroll(contact, sequence))
    got = await settle(boast.get_enrollment(created.id))
    removed = await settle(boast.remove_enrollment(str(created.id)))
    assert got.id == created.id and str(got.contact_id) == contact
    assert removed.id == created.id and removed.status == "removed"
    where = f"{root}/accounts/{account}/sequence_enrollments"
    assert wire.paths() == [
        f"POST {where}",
        f"GET {where}/{created.id}",
        f"DELETE {where}/{created.id}",
    ]
    for method in ("get_enrollment", "remove_enrollment"):
        with pytest.raises(
            errors.InvalidRequestError, match=r"^enrollment_id must be a UUID, got 'x'$"
        ):
            await settle(getattr(boast, method)("x"))
    assert len(wire.sent) == 3
    await closed(boast)


async def test_boast_conflict_looks_up_the_active_enrollment_only(
    twin: Twin, sandbox: Sandbox, wire: Wire
) -> None:
    root = boast_root(sandbox)
    account, contact, sequence = free_pair(sandbox)
    boast = boast_on(twin, sandbox, wire)
    first = await settle(boast.enroll(contact, sequence))
    again = await settle(boast.enroll(uuid.UUID(contact), sequence, on_conflict="return_existing"))
    assert again.id == first.id and again.status == "active"
    lookup = wire.sent[-1]
    assert lookup.method == "GET"
    assert lookup.url.path == f"{root}/accounts/{account}/sequence_enrollments"
    assert dict(lookup.url.params) == {
        "page": "1",
        "contact_id": contact,
        "sequence_id": sequence,
        "status": "active",
    }
    with pytest.raises(errors.AlreadyEnrolledError) as raised:
        await settle(boast.enroll(contact, sequence))
    assert raised.value.active_enrollment_id == str(first.id)
    assert raised.value.active_sequence_id == sequence
    await closed(boast)


async def test_boast_conflict_ignores_enrollments_that_are_not_active(
    twin: Twin, sandbox: Sandbox
) -> None:
    """A server that ignores the lookup's filters and lists a paused enrollment of the pair:
    that one is not returned as the active enrollment."""
    _, contact, sequence = free_pair(sandbox)
    stamp = "2026-01-01T00:00:00Z"
    paused = {
        "id": str(uuid.uuid4()),
        "contact_id": contact,
        "sequence_id": sequence,
        "status": "paused",
        "created_at": stamp,
        "updated_at": stamp,
    }
    conflict = {
        "errors": [
            {
                "status": "422",
                "code": "already_enrolled",
                "detail": "Contact is already enrolled",
                "source": {"pointer": "/contact_id"},
            }
        ]
    }

    def answer(request: httpx.Request) -> httpx.Response | None:
        if request.method == "POST":
            return httpx.Response(422, json=conflict)
        meta = {"pagination": {"count": 1, "page": 1, "items": 1, "pages": 1}}
        return httpx.Response(200, json={"data": [paused], "meta": meta})

    wire = Wire(answer)
    boast = boast_on(twin, sandbox, wire)
    with pytest.raises(errors.AlreadyEnrolledError):
        await settle(boast.enroll(contact, sequence, on_conflict="return_existing"))
    assert [r.method for r in wire.sent] == ["POST", "GET"]
    await closed(boast)
    wire.close()


def ignoring_filters(pages: list[list[dict[str, Any]]], *, label: int | None = None) -> Answer:
    """A Boast that refuses the create as already enrolled and lists `pages` whatever the
    filters say (each page labelled with its number, or with `label`)."""
    conflict = {
        "errors": [
            {
                "status": "422",
                "code": "already_enrolled",
                "detail": "Contact is already enrolled",
                "source": {"pointer": "/contact_id"},
            }
        ]
    }

    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(422, json=conflict)
        number = int(request.url.params.get("page", "1"))
        shown = label or number
        meta = {"pagination": {"count": 99, "page": shown, "items": 1, "pages": len(pages)}}
        return httpx.Response(200, json={"data": pages[number - 1], "meta": meta})

    return answer


def enrollment(contact: str, sequence: str, status: str) -> dict[str, Any]:
    stamp = "2026-01-01T00:00:00Z"
    return {
        "id": str(uuid.uuid4()),
        "contact_id": contact,
        "sequence_id": sequence,
        "status": status,
        "created_at": stamp,
        "updated_at": stamp,
    }


async def test_boast_conflict_lookup_reads_on_until_the_active_enrollment(twin: Twin) -> None:
    contact, sequence = str(uuid.uuid4()), str(uuid.uuid4())
    other = [enrollment(str(uuid.uuid4()), sequence, "active")]
    active = enrollment(contact, sequence, "active")
    pages = [other, [enrollment(contact, sequence, "removed"), active], other]
    wire = Wire(ignoring_filters(pages))
    boast = twin.boast(
        account_id=uuid.uuid4(), access_token="t", max_retries=0, httpx_client=twin.over(wire)
    )
    found = await settle(boast.enroll(contact, sequence, on_conflict="return_existing"))
    assert str(found.id) == active["id"]
    assert [r.url.params.get("page") for r in wire.sent] == [None, "1", "2"]
    await closed(boast)


async def test_boast_conflict_lookup_stops_at_the_page_cap(
    twin: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(boast_module, "DEFAULT_MAX_PAGES", 3)
    contact, sequence = str(uuid.uuid4()), str(uuid.uuid4())
    pages = [[enrollment(str(uuid.uuid4()), sequence, "active")] for _ in range(20)]
    wire = Wire(ignoring_filters(pages))
    boast = twin.boast(
        account_id=uuid.uuid4(), access_token="t", max_retries=0, httpx_client=twin.over(wire)
    )
    with pytest.raises(errors.PaginationError, match="more than max_pages=3 pages"):
        await settle(boast.enroll(contact, sequence))
    assert len(wire.sent) == 1 + 3
    await closed(boast)


async def test_boast_conflict_lookup_raises_when_served_the_wrong_page(twin: Twin) -> None:
    contact, sequence = str(uuid.uuid4()), str(uuid.uuid4())
    pages = [[enrollment(str(uuid.uuid4()), sequence, "active")] for _ in range(3)]
    wire = Wire(ignoring_filters(pages, label=1))
    boast = twin.boast(
        account_id=uuid.uuid4(), access_token="t", max_retries=0, httpx_client=twin.over(wire)
    )
    with pytest.raises(errors.PaginationError, match="asked for page 2, the server sent page 1"):
        await settle(boast.enroll(contact, sequence))
    await closed(boast)


# --- Boast: contacts ----------------------------------------------------------------------


async def test_boast_create_contact_sends_every_field_given(
    twin: Twin, sandbox: Sandbox, wire: Wire
) -> None:
    root = boast_root(sandbox)
    boast = boast_on(twin, sandbox, wire)
    fields = {
        "email": "ann@acme.example",
        "mobile_phone": "+15555550123",
        "first_name": "Ann",
        "last_name": "Lee",
        "organization": "Acme",
        "job_title": "CTO",
        "time_zone": "Europe/Paris",
        "country_code": "FR",
        "source": "integration",
    }
    contact = await settle(boast.create_contact(**fields))
    assert json.loads(wire.sent[0].content) == fields
    assert contact.first_name == "Ann" and contact.mobile_phone == "+15555550123"
    phone_only = await settle(boast.create_contact(mobile_phone="+4915112345678"))
    assert json.loads(wire.sent[1].content) == {"mobile_phone": "+4915112345678"}
    assert phone_only.mobile_phone == "+4915112345678"
    await settle(boast.create_contact(email="bo@acme.example", source="api"))
    assert json.loads(wire.sent[2].content) == {"email": "bo@acme.example", "source": "api"}
    account = sandbox.boast.account_ids[0]
    assert wire.paths() == [f"POST {root}/accounts/{account}/contacts"] * 3
    await closed(boast)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, r"^create_contact needs email or mobile_phone$"),
        ({"first_name": "Ann"}, r"^create_contact needs email or mobile_phone$"),
        (
            {"mobile_phone": "5555550123"},
            r"^mobile_phone must be E\.164 \(\+15555555555\), got '5555550123'$",
        ),
        (
            {"email": "a@b.example", "mobile_phone": 15555550123},
            r"^mobile_phone must be E\.164 .*got 15555550123$",
        ),
        ({"email": "not-an-address"}, r"^email must be an email address, got 'not-an-address'$"),
        ({"email": "a@b.example", "source": "csv"}, r"^source must be 'api' or 'integration'$"),
    ],
)
async def test_boast_create_contact_refuses_bad_fields_before_sending(
    twin: Twin, fields: dict[str, Any], message: str
) -> None:
    wire = Wire(unavailable)
    boast = twin.boast(account_id=uuid.uuid4(), access_token="t", httpx_client=twin.over(wire))
    with pytest.raises(errors.InvalidRequestError, match=message):
        await settle(boast.create_contact(**fields))
    assert wire.sent == []
    await closed(boast)


# --- Boast: refreshing the token ----------------------------------------------------------


class Saved:
    def __init__(self) -> None:
        self.tokens: list[OAuthToken] = []

    def save(self, token: OAuthToken) -> None:
        self.tokens.append(token)


def expired_token_options(sandbox: Sandbox, store: Saved) -> dict[str, Any]:
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


async def test_boast_refreshes_on_the_auth_host_with_the_callers_auth_client(
    twin: Twin, sandbox: Sandbox, wire: Wire
) -> None:
    store = Saved()
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
    (saved,) = store.tokens
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
    store = Saved()
    options = expired_token_options(sandbox, store)
    boast = boast_on(twin, sandbox, wire, httpx_client=given, **options)
    await settle(boast.get_account())
    assert len(store.tokens) == 1
    assert wire.sent[0].headers["authorization"] == f"Bearer {store.tokens[0].access_token}"
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
    options = expired_token_options(sandbox, Saved())
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
    store = Saved()
    options = expired_token_options(sandbox, store)
    account = sandbox.boast.account_ids[0]
    boast = twin.boast(account_id=account, base_url=sandbox.boast_base_url, **options)
    copy = boast.with_options(max_retries=1)
    assert str((await settle(copy.get_account())).id) == account
    assert str((await settle(boast.get_account())).id) == account
    assert len(store.tokens) == 1 and sandbox.boast.refresh_count == 1

    own = Wire()
    other = sandbox.boast.issue_token().access_token
    fresh = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    changed = boast.with_options(access_token=other, expires_at=fresh, httpx_client=twin.over(own))
    await settle(changed.get_account())
    assert own.sent[0].headers["authorization"] == f"Bearer {other}"
    for client in (copy, boast, changed):
        await closed(client)
    own.close()
