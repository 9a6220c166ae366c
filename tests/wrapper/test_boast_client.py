"""BoastClient and AsyncBoastClient against the Boast sandbox over real loopback HTTP."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

import sequence_clients.generated.boast as boast_client
from sequence_clients import AsyncBoastClient, BoastClient, RetryPolicy, errors
from sequence_clients.generated.boast.models import Account, Contact, SequenceEnrollment
from sequence_clients.sandbox import FaultConfig, Sandbox

MakeSandbox = Callable[..., Sandbox]
BoastOptions = Callable[..., dict[str, Any]]
FAST = RetryPolicy(base_delay=0.001, max_delay=0.01)


def targets(sandbox: Sandbox) -> tuple[list[str], str, str]:
    """Contacts of account 0 with no seeded history, an active sequence, and a paused one."""
    state = sandbox.boast
    account = state.account_ids[0]
    contacts = [c["id"] for c in state.contacts[account][:2900]]  # the last 60 have history
    sequences = state.sequences[account]
    active = next(s["id"] for s in sequences if s["status"] == "active")
    paused = next(s["id"] for s in sequences if s["status"] == "paused")
    return contacts, active, paused


def counting_client() -> tuple[httpx.Client, list[httpx.Request]]:
    sent: list[httpx.Request] = []
    return httpx.Client(event_hooks={"request": [sent.append]}), sent


def test_enroll_get_remove(sandbox: Sandbox, boast: BoastClient) -> None:
    contacts, sequence, _ = targets(sandbox)

    created = boast.enroll(contacts[0], sequence)

    assert isinstance(created, SequenceEnrollment)
    assert (str(created.contact_id), str(created.sequence_id)) == (contacts[0], sequence)
    assert created.status == "active"
    assert boast.get_enrollment(str(created.id)).id == created.id
    removed = boast.remove_enrollment(created.id)
    assert removed.id == created.id and removed.status == "removed"
    assert sandbox.boast.active_enrollment(contacts[0], sequence) is None
    assert isinstance(boast.raw, boast_client.Client)


def test_conflicts_raise_or_return_existing(sandbox: Sandbox, boast: BoastClient) -> None:
    contacts, sequence, _ = targets(sandbox)
    first = boast.enroll(contacts[0], sequence)

    with pytest.raises(errors.AlreadyEnrolledError) as raised:
        boast.enroll(contacts[0], sequence)
    assert raised.value.status_code == 422 and raised.value.codes == ("already_enrolled",)
    assert raised.value.active_enrollment_id == str(first.id)
    assert raised.value.active_sequence_id == sequence
    assert "already enrolled" in str(raised.value)

    again = boast.enroll(contacts[0], sequence, on_conflict="return_existing")
    assert again.id == first.id
    assert sandbox.boast.duplicate_active_enrollments() == []
    assert sandbox.boast.total_created == 1


def offline_client() -> BoastClient:
    """A client whose transport fails the test if anything is sent."""

    def refuse(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"nothing should be sent, got {request.method} {request.url}")

    http = httpx.Client(transport=httpx.MockTransport(refuse))
    return BoastClient(account_id=uuid.uuid4(), access_token="t", httpx_client=http)


@pytest.mark.parametrize(
    ("call", "complaint"),
    [
        (lambda b, c, s: b.enroll("not-a-uuid", s), "contact_id must be a UUID"),
        (lambda b, c, s: b.enroll(c, "1234"), "sequence_id must be a UUID"),
        (lambda b, c, s: b.enroll(c, s, on_conflict="ignore"), "on_conflict must be"),
        (lambda b, c, s: b.get_enrollment("nope"), "enrollment_id must be a UUID"),
        (lambda b, c, s: b.remove_enrollment(""), "enrollment_id must be a UUID"),
        (lambda b, c, s: b.list_enrollments(contact_id="x"), "contact_id must be a UUID"),
        (lambda b, c, s: b.create_contact(first_name="Ann"), "email or mobile_phone"),
        (lambda b, c, s: b.create_contact(email="ann at acme"), "email address"),
        (lambda b, c, s: b.create_contact(mobile_phone="555-1234"), "E.164"),
        (lambda b, c, s: b.create_contact(email="a@b.co", source="csv"), "source must be"),
    ],
)
def test_invalid_input_fails_before_sending(call: Callable[..., Any], complaint: str) -> None:
    with offline_client() as boast, pytest.raises(errors.InvalidRequestError, match=complaint):
        call(boast, uuid.uuid4(), uuid.uuid4())


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


def test_vendor_errors_are_typed(sandbox: Sandbox, boast: BoastClient) -> None:
    contacts, _, paused = targets(sandbox)
    with pytest.raises(errors.NotFoundError) as missing:
        boast.get_enrollment(uuid.uuid4())
    assert missing.value.status_code == 404 and "not_found" in missing.value.codes

    with pytest.raises(errors.BadRequestError) as refused:
        boast.enroll(contacts[0], paused)
    assert not isinstance(refused.value, errors.AlreadyEnrolledError)
    assert refused.value.codes == ("sequence_not_active",) and refused.value.message

    with pytest.raises(errors.NotFoundError):  # another account's sequence
        other = sandbox.boast.sequences[sandbox.boast.account_ids[1]][0]["id"]
        boast.enroll(contacts[0], other)


def test_bad_token_without_refresh_is_an_authentication_error(sandbox: Sandbox) -> None:
    stranger = BoastClient(access_token="wrong-token", base_url=sandbox.boast_base_url)
    with stranger, pytest.raises(errors.AuthenticationError) as denied:
        list(stranger.list_accounts())
    assert denied.value.status_code == 401
    assert "wrong-token" not in str(denied.value) and "wrong-token" not in repr(stranger)


def test_pages_are_fetched_lazily_and_stop_at_the_last(
    sandbox: Sandbox, boast_options: BoastOptions, token_store: Any
) -> None:
    contacts, sequence, _ = targets(sandbox)
    http, sent = counting_client()
    with BoastClient(**boast_options(sandbox, token_store, httpx_client=http)) as boast:
        for contact in contacts[:30]:
            boast.enroll(contact, sequence)
        expected = sandbox.boast.active_enrollment_count(sequence)  # ours + seeded history
        sent.clear()

        pager = boast.list_enrollments(sequence_id=sequence, status="active")
        assert sent == []  # nothing is sent before iteration
        listed = list(pager)
        pages = list(boast.list_contacts().pages())

    assert len(listed) == expected and len({e.id for e in listed}) == expected
    assert all(str(e.sequence_id) == sequence and e.status == "active" for e in listed)
    n_enrollment_pages = -(-expected // 25)
    assert [r.url.params["page"] for r in sent[:n_enrollment_pages]] == [
        str(n) for n in range(1, n_enrollment_pages + 1)
    ]
    assert sent[0].url.params["sequence_id"] == sequence
    assert len(pages) == 3000 // 25 and pages[-1].next is None
    assert len(sent) == n_enrollment_pages + len(pages)  # no probe past the last page
    assert pages[0].raw.meta.pagination.pages == len(pages)


def test_lists_of_every_kind(sandbox: Sandbox, boast: BoastClient) -> None:
    state = sandbox.boast
    accounts = list(boast.list_accounts())
    assert all(isinstance(a, Account) for a in accounts)
    assert [str(a.id) for a in accounts] == state.account_ids
    assert len(list(boast.list_sequences())) == len(state.sequences[state.account_ids[0]])
    small = boast.with_options(account_id=state.account_ids[1])
    with small:
        assert len(list(small.list_contacts())) == 50
        assert len(list(small.list_contacts().pages())) == 2


def test_create_contact(sandbox: Sandbox, boast: BoastClient) -> None:
    by_email = boast.create_contact(email="ann@acme.example", first_name="Ann", source="api")
    by_phone = boast.create_contact(mobile_phone="+15555550123")
    assert isinstance(by_email, Contact) and by_email.email == "ann@acme.example"
    assert by_email.first_name == "Ann" and by_phone.mobile_phone == "+15555550123"
    assert sandbox.boast.contacts_created == 2
    _, sequence, _ = targets(sandbox)
    assert boast.enroll(by_phone.id, sequence).contact_id == by_phone.id


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


async def test_async_twin_covers_every_method(
    sandbox: Sandbox, token_store: Any, boast_options: BoastOptions
) -> None:
    contacts, sequence, _ = targets(sandbox)
    state = sandbox.boast
    async with AsyncBoastClient(**boast_options(sandbox, token_store)) as boast:
        created = await boast.enroll(contacts[0], sequence)
        with pytest.raises(errors.AlreadyEnrolledError) as raised:
            await boast.enroll(contacts[0], sequence)
        assert raised.value.active_enrollment_id == str(created.id)
        again = await boast.enroll(contacts[0], sequence, on_conflict="return_existing")
        assert again.id == created.id
        assert (await boast.get_enrollment(created.id)).status == "active"
        listed = [e.id async for e in boast.list_enrollments(contact_id=contacts[0])]
        assert listed == [created.id]
        accounts = [a async for a in boast.list_accounts()]
        assert [str(a.id) for a in accounts] == state.account_ids
        sequences = [s async for s in boast.list_sequences()]
        assert len(sequences) == len(state.sequences[state.account_ids[0]])
        pages = [p async for p in boast.list_contacts().pages()]
        assert sum(len(p.items) for p in pages) == 3000
        contact = await boast.create_contact(email="bo@acme.example")
        assert contact.email == "bo@acme.example"
        assert (await boast.remove_enrollment(created.id)).status == "removed"
        with pytest.raises(errors.NotFoundError):
            await boast.get_enrollment(uuid.uuid4())
        patient = boast.with_options(max_retries=7)
        assert "max_retries=7" in repr(patient)
        await patient.close()


def test_each_fault_surfaces_as_its_typed_error(
    make_sandbox: MakeSandbox, boast_options: BoastOptions, token_store: Any
) -> None:
    sandbox = make_sandbox()
    options = boast_options(sandbox, token_store)
    faults = [
        ({"server_error": 1.0}, errors.ServerError),
        ({"reset_after_commit": 1.0}, errors.APIConnectionError),
        ({"truncated_json": 1.0}, errors.UnexpectedResponseError),
        # Last: a burst outlives the switch to the next fault.
        ({"rate_limit_burst": 1.0, "burst_retry_after": 0}, errors.RateLimitError),
    ]
    with BoastClient(**options) as boast:
        for fault, error_class in faults:
            sandbox.set_faults(FaultConfig(**fault))
            with pytest.raises(error_class) as raised:
                list(boast.list_sequences())
            assert options["access_token"] not in str(raised.value)
            assert "/sequences" in str(raised.value)


async def test_enrollments_through_faults_end_with_exactly_that_many(
    make_sandbox: MakeSandbox, boast_options: BoastOptions, token_store: Any
) -> None:
    sandbox = make_sandbox(
        faults={
            "server_error": 0.05,
            "reset_after_commit": 0.05,
            "rate_limit_burst": 0.01,
            "burst_retry_after": 0,
        }
    )
    contacts, sequence, _ = targets(sandbox)
    wanted = contacts[:200]
    before = sandbox.boast.active_enrollment_count(sequence)
    limit = asyncio.Semaphore(25)
    options = boast_options(sandbox, token_store, max_retries=8, retry_policy=FAST)

    async with AsyncBoastClient(**options) as boast:

        async def enroll(contact: str) -> SequenceEnrollment:
            async with limit:
                return await boast.enroll(contact, sequence)

        results = await asyncio.gather(*(enroll(c) for c in wanted))

    assert {str(r.contact_id) for r in results} == set(wanted)
    assert sandbox.boast.active_enrollment_count(sequence) == before + len(wanted)
    assert sandbox.boast.duplicate_active_enrollments() == []
    assert sandbox.boast.total_created == len(wanted)  # not even a removed duplicate
    assert sandbox.stats.boast.faults["reset_after_commit"] > 0


def enrollment_json(contact: str, sequence: str) -> dict[str, str]:
    return {
        "id": str(uuid.uuid4()),
        "contact_id": contact,
        "sequence_id": sequence,
        "status": "active",
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
    }


def test_ambiguous_create_is_looked_up_before_it_is_retried() -> None:
    """Boast may not refuse a duplicate at all: the committed-but-reset create must be found by
    the lookup, not created a second time."""
    contact, sequence = str(uuid.uuid4()), str(uuid.uuid4())
    stored: list[dict[str, str]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":  # no duplicate check on this server
            stored.append(enrollment_json(contact, sequence))
            raise httpx.RemoteProtocolError("server disconnected", request=request)
        return httpx.Response(200, json={"data": stored})

    http = httpx.Client(transport=httpx.MockTransport(handle))
    with BoastClient(
        account_id=uuid.uuid4(), access_token="t", httpx_client=http, retry_policy=FAST
    ) as boast:
        found = boast.enroll(contact, sequence)

    assert len(stored) == 1 and str(found.id) == stored[0]["id"]


def test_lookup_walks_every_page_when_the_server_ignores_the_filters() -> None:
    """The list filters are an assumption about Boast: a server that ignores them answers the
    whole account, and our enrollment may sit on a later page."""
    contact, sequence = str(uuid.uuid4()), str(uuid.uuid4())
    others = [enrollment_json(str(uuid.uuid4()), sequence) for _ in range(25)]
    stored: list[dict[str, str]] = []
    posts: list[int] = []

    def handle(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            posts.append(1)
            stored.append(enrollment_json(contact, sequence))
            raise httpx.RemoteProtocolError("server disconnected", request=request)
        pages = [others, stored]
        number = int(request.url.params.get("page", "1"))
        meta = {"pagination": {"count": 26, "page": number, "items": 25, "pages": 2}}
        return httpx.Response(200, json={"data": pages[number - 1], "meta": meta})

    http = httpx.Client(transport=httpx.MockTransport(handle))
    with BoastClient(
        account_id=uuid.uuid4(), access_token="t", httpx_client=http, retry_policy=FAST
    ) as boast:
        found = boast.enroll(contact, sequence)

    assert posts == [1] and str(found.id) == stored[0]["id"]


def test_lookup_on_a_server_ignoring_the_page_stops_instead_of_creating_again() -> None:
    """The lookup walks pages itself: a server that answers page 1 to every ?page (and claims a
    million pages) ends it with PaginationError, neither looping nor resending the create."""
    contact, sequence = str(uuid.uuid4()), str(uuid.uuid4())
    others = [enrollment_json(str(uuid.uuid4()), sequence) for _ in range(25)]
    posts: list[int] = []
    lookups: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            posts.append(1)
            raise httpx.RemoteProtocolError("server disconnected", request=request)
        lookups.append(request.url.params["page"])
        meta = {"pagination": {"count": 25 * 10**6, "page": 1, "items": 25, "pages": 10**6}}
        return httpx.Response(200, json={"data": others, "meta": meta})

    http = httpx.Client(transport=httpx.MockTransport(handle))
    with (
        BoastClient(
            account_id=uuid.uuid4(), access_token="t", httpx_client=http, retry_policy=FAST
        ) as boast,
        pytest.raises(errors.PaginationError),
    ):
        boast.enroll(contact, sequence)

    assert posts == [1] and lookups == ["1", "2"]


def test_already_enrolled_after_our_own_ambiguous_attempt_returns_it() -> None:
    """The create committed but the connection dropped; the lookup before the retry does not
    see it yet (a lagging read); the retry answers already_enrolled: the enrollment is ours."""
    contact, sequence = str(uuid.uuid4()), str(uuid.uuid4())
    enrollment = enrollment_json(contact, sequence)
    posts: list[int] = []
    lookups: list[dict[str, str]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            posts.append(1)
            if len(posts) == 1:
                raise httpx.ReadError("connection reset", request=request)
            error = {"detail": "Contact is already enrolled", "code": "already_enrolled"}
            return httpx.Response(422, json={"errors": [error]})
        lookups.append(dict(request.url.params))
        data = [enrollment] if len(lookups) > 1 else []
        return httpx.Response(200, json={"data": data})

    http = httpx.Client(transport=httpx.MockTransport(handle))
    with BoastClient(
        account_id=uuid.uuid4(),
        access_token="t",
        httpx_client=http,
        retry_policy=FAST,
    ) as boast:
        found = boast.enroll(contact, sequence)  # on_conflict="raise", yet not raised

    assert str(found.id) == enrollment["id"]
    assert len(posts) == 2
    assert lookups[0] == {
        "page": "1",
        "contact_id": contact,
        "sequence_id": sequence,
        "status": "active",
    }
