"""Retries never enroll twice and never create twice: an attempt that may have been applied (a
5xx after commit, a reset, a cut body) is looked up before anything is sent again, a 409 that
is our own enrollment is returned, someone else's (or another sequence's) is raised, and a
Boast contact whose answer was lost is not created again. Load tests end with exactly as many
enrollments as asked for."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from twin_harness import Twin, closed, settle
from wrapper_helpers import (
    ACCOUNT,
    FAST,
    FAST_BACKOFF,
    FASTER_BACKOFF,
    MAILBOX,
    OTHER_SEQUENCE,
    PERSON,
    SEQUENCE,
    Answer,
    AsyncHttp,
    BoastOptions,
    MakeSandbox,
    ScriptedBoast,
    ScriptedUnify,
    Wire,
    boast_on,
    boast_on_boast,
    boast_root,
    free_pair,
    ids,
    targets,
    unify_on,
)

from sequence_clients import (
    AsyncBoastClient,
    AsyncUnifyClient,
    BoastClient,
    UnifyClient,
    errors,
)
from sequence_clients import boast as boast_module
from sequence_clients.generated.boast.models import SequenceEnrollment
from sequence_clients.generated.unify.models import (
    Enrollment,
)
from sequence_clients.sandbox import Sandbox


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


def enrollment_json(contact: str, sequence: str) -> dict[str, str]:
    return {
        "id": str(uuid.uuid4()),
        "contact_id": contact,
        "sequence_id": sequence,
        "status": "active",
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
    }


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


async def test_boast_conflict_lookup_answered_503_is_retried(twin: Twin) -> None:
    """The lookup after a conflict is a call like any other: a transient 503 while paging it is
    retried under the client's policy, and the active enrollment is still found."""
    contact, sequence = str(uuid.uuid4()), str(uuid.uuid4())
    active = enrollment(contact, sequence, "active")
    listing = ignoring_filters([[active]])
    gets: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            gets.append(request)
            if len(gets) == 1:
                return httpx.Response(503, json={"errors": [{"status": "503"}]})
        return listing(request)

    wire = Wire(answer)
    boast = twin.boast(
        account_id=uuid.uuid4(), access_token="t", max_retries=2, retry_policy=FAST,
        httpx_client=twin.over(wire),
    )  # fmt: skip
    found = await settle(boast.enroll(contact, sequence, on_conflict="return_existing"))
    assert str(found.id) == active["id"]
    assert [r.method for r in wire.sent] == ["POST", "GET", "GET"]
    assert [r.url.params.get("page") for r in gets] == ["1", "1"]  # the same page, again
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


async def test_enrollments_through_resets_and_5xx_end_enrolled_once_each(
    async_http: AsyncHttp, make_sandbox: Callable[..., Sandbox]
) -> None:
    sandbox = make_sandbox(faults={"server_error": 0.1, "reset_after_commit": 0.1})
    state = sandbox.unify
    sequence_id = next(
        s["id"] for s in state.live_sequences() if state.active_enrollment_count(s["id"]) == 0
    )
    people = [p["id"] for p in state.people[:120]]
    mailbox = state.mailboxes[0]["email"]
    async with AsyncUnifyClient(
        sandbox.unify_api_key,
        base_url=sandbox.unify_base_url,
        httpx_client=async_http(),
        max_retries=10,
        retry_policy=FAST,
    ) as unify:
        limit = asyncio.Semaphore(8)

        async def enroll(person: str) -> str:
            async with limit:
                done = await unify.enroll(sequence_id, person, mailbox_emails=[mailbox])
                return str(done.person.id)

        enrolled = await asyncio.gather(*(enroll(p) for p in people))
    assert sorted(enrolled) == sorted(people)
    assert state.active_enrollment_count(sequence_id) == len(people)
    assert state.duplicate_active_enrollments() == []
    assert sandbox.stats.unify.faults["reset_after_commit"] > 0


def test_a_contact_create_whose_answer_was_lost_is_not_resent(slept: list[float]) -> None:
    """Boast does not say contacts are unique by email: resending could make a second one."""
    server = ScriptedBoast("commit-then-reset")
    with boast_on_boast(server) as boast, pytest.raises(errors.APIConnectionError) as raised:
        boast.create_contact(email="ann@acme.example")
    assert len(server.contacts) == 1
    assert raised.value.maybe_applied


def test_a_contact_create_that_never_arrived_is_retried(slept: list[float]) -> None:
    server = ScriptedBoast("refuse")
    with boast_on_boast(server) as boast:
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


def test_a_create_answered_with_a_cut_body_is_looked_up_not_made_twice() -> None:
    """A 201 cut short means Boast made the enrollment: the retry must find it, not add one."""
    contact, sequence = str(uuid.uuid4()), str(uuid.uuid4())
    stored: list[dict[str, str]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            stored.append(
                {"id": str(uuid.uuid4()), "contact_id": contact, "sequence_id": sequence, "status": "active",
                 "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"}
            )  # fmt: skip
            return httpx.Response(201, content=json.dumps({"data": stored[-1]}).encode()[:40])
        return httpx.Response(200, json={"data": stored})

    http = httpx.Client(transport=httpx.MockTransport(handle))
    with BoastClient(
        account_id=uuid.uuid4(), access_token="t", httpx_client=http, retry_policy=FASTER_BACKOFF
    ) as boast:
        found = boast.enroll(contact, sequence)
    assert len(stored) == 1 and str(found.id) == stored[0]["id"]


def test_a_committed_500_then_409_is_our_own_enrollment(slept: list[float]) -> None:
    server = ScriptedUnify("commit-then-500")
    with unify_on(server) as unify:
        enrolled = unify.enroll(SEQUENCE, PERSON, mailbox_emails=[MAILBOX])
    assert server.created == 1
    assert str(enrolled.id) == server.active[PERSON]["id"]


def test_a_reset_after_commit_then_409_is_our_own_enrollment(slept: list[float]) -> None:
    server = ScriptedUnify("commit-then-reset")
    with unify_on(server) as unify:
        enrolled = unify.enroll(SEQUENCE, PERSON, mailbox_emails=[MAILBOX])
    assert server.created == 1 and str(enrolled.id) == server.active[PERSON]["id"]


def test_a_refused_connection_never_makes_someone_elses_enrollment_ours(
    slept: list[float],
) -> None:
    """The refused attempt never reached Unify, so the 409 of the retry is a real conflict:
    another integration's enrollment, which on_conflict="raise" must not hand back."""
    server = ScriptedUnify("refuse")
    theirs = server.someone_else_enrolled(SEQUENCE)
    with unify_on(server) as unify, pytest.raises(errors.AlreadyEnrolledError) as raised:
        unify.enroll(SEQUENCE, PERSON, mailbox_emails=[MAILBOX])
    assert raised.value.active_enrollment_id == theirs
    assert server.posts() == 2


async def test_async_committed_500_then_409_is_our_own_enrollment(slept: list[float]) -> None:
    server = ScriptedUnify("commit-then-500")
    http = httpx.AsyncClient(transport=httpx.MockTransport(server.handle))
    async with AsyncUnifyClient("secret-key-123", httpx_client=http) as unify:
        enrolled = await unify.enroll(SEQUENCE, PERSON, mailbox_emails=[MAILBOX])
    assert server.created == 1 and str(enrolled.id) == server.active[PERSON]["id"]
    await http.aclose()


def test_a_conflict_in_another_sequence_is_raised_even_after_our_ambiguous_attempt(
    slept: list[float],
) -> None:
    server = ScriptedUnify("refuse")
    server.someone_else_enrolled(OTHER_SEQUENCE)
    with unify_on(server) as unify, pytest.raises(errors.AlreadyEnrolledError) as raised:
        unify.enroll(SEQUENCE, PERSON, mailbox_emails=[MAILBOX], on_conflict="return_existing")
    assert raised.value.active_sequence_id == OTHER_SEQUENCE


def test_boast_conflicts_raise_or_return_existing(sandbox: Sandbox, boast: BoastClient) -> None:
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
            account_id=uuid.uuid4(),
            access_token="t",
            httpx_client=http,
            retry_policy=FAST,
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


def test_unify_conflicts_raise_or_return_existing(sandbox: Sandbox, unify: UnifyClient) -> None:
    sequence_id, people, mailbox = ids(sandbox)
    other_sequence = next(s["id"] for s in sandbox.unify.live_sequences() if s["id"] != sequence_id)
    first = unify.enroll(sequence_id, people[0], mailbox_emails=[mailbox])

    with pytest.raises(errors.AlreadyEnrolledError) as raised:
        unify.enroll(sequence_id, people[0], mailbox_emails=[mailbox])
    assert raised.value.status_code == 409
    assert raised.value.active_enrollment_id == str(first.id)
    assert raised.value.active_sequence_id == sequence_id
    assert "already enrolled" in str(raised.value)

    again = unify.enroll(
        sequence_id, people[0], mailbox_emails=[mailbox], on_conflict="return_existing"
    )
    assert again.id == first.id

    with pytest.raises(errors.AlreadyEnrolledError) as elsewhere:  # active in another sequence
        unify.enroll(
            other_sequence, people[0], mailbox_emails=[mailbox], on_conflict="return_existing"
        )
    assert elsewhere.value.active_sequence_id == sequence_id
    assert sandbox.unify.duplicate_active_enrollments() == []


async def test_thousand_enrollments_through_faults_end_with_exactly_a_thousand(
    make_sandbox: MakeSandbox,
) -> None:
    sandbox = make_sandbox(
        faults={
            "server_error": 0.05,
            "reset_after_commit": 0.02,
            "rate_limit_burst": 0.005,
            "burst_retry_after": 1,
        }
    )
    sequence_id, people, mailbox = ids(sandbox)
    targets = people[:1000]
    limit = asyncio.Semaphore(25)

    async with AsyncUnifyClient(
        sandbox.unify_api_key,
        base_url=sandbox.unify_base_url,
        max_retries=8,
        retry_policy=FAST_BACKOFF,
    ) as unify:

        async def enroll(person: str) -> Enrollment:
            async with limit:
                return await unify.enroll(sequence_id, person, mailbox_emails=[mailbox])

        results = await asyncio.gather(*(enroll(p) for p in targets))

    assert {str(r.person.id) for r in results} == set(targets)
    assert sandbox.unify.active_enrollment_count(sequence_id) == 1000
    assert sandbox.unify.duplicate_active_enrollments() == []
    assert sandbox.stats.unify.faults["reset_after_commit"] > 0, (
        "the ambiguous case must have been exercised"
    )
