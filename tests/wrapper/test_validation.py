"""Bad input is refused with InvalidRequestError naming the argument before anything is sent:
ids of the wrong type, mailbox lists too long or malformed, naive datetimes, unknown step types
and options, contact fields that are not whole values."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from twin_harness import Twin, closed, settle
from virtual_clock import VirtualClock
from wrapper_helpers import (
    ACCOUNT_ID,
    Server,
    Wire,
    boast_on,
    ids,
    unavailable,
)

from sequence_clients import (
    AsyncBoastClient,
    AsyncUnifyClient,
    BoastClient,
    UnifyClient,
    errors,
)
from sequence_clients.sandbox import Sandbox

TEN = [f"rep{n}@example.com" for n in range(10)]


def offline_client() -> BoastClient:
    """A client whose transport fails the test if anything is sent."""

    def refuse(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"nothing should be sent, got {request.method} {request.url}")

    http = httpx.Client(transport=httpx.MockTransport(refuse))
    return BoastClient(account_id=uuid.uuid4(), access_token="t", httpx_client=http)


SEQUENCE_ID, PERSON_ID = uuid.uuid4(), uuid.uuid4()


class Recorder:
    """Counts requests; answers every one 500 (these tests care about what is sent, if anything)."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(500, json={"status": "internal", "message": "recorded"})

    async def handle_async(self, request: httpx.Request) -> httpx.Response:
        return self(request)


def unify(recorder: Recorder) -> UnifyClient:
    http = httpx.Client(transport=httpx.MockTransport(recorder))
    return UnifyClient("key-123", httpx_client=http, max_retries=0)


def boast(recorder: Recorder) -> BoastClient:
    http = httpx.Client(transport=httpx.MockTransport(recorder))
    return BoastClient(account_id=ACCOUNT_ID, access_token="a-1", httpx_client=http, max_retries=0)


def generator_of_addresses() -> Any:
    return (address for address in ["rep@acme.example"])


BAD_MAILBOXES = [
    pytest.param(["rep@acme.example\n"], "email address", id="trailing-newline"),
    pytest.param(["rep@acme.example\nother@acme.example"], "email address", id="two-lines"),
    pytest.param(None, "list of email addresses", id="None"),
    pytest.param(7, "list of email addresses", id="int"),
    pytest.param(generator_of_addresses(), "list of email addresses", id="generator"),
    pytest.param({"rep@acme.example"}, "list of email addresses", id="set"),
    pytest.param({"rep@acme.example": 1}, "list of email addresses", id="dict"),
    pytest.param(b"rep@acme.example", "list of email addresses", id="bytes"),
    pytest.param([None], "email address", id="list-of-None"),
    pytest.param([["rep@acme.example"]], "email address", id="nested-list"),
]


BAD_IDS = [
    pytest.param(None, id="None"),
    pytest.param(12345678901234567890123456789012, id="int-that-spells-a-uuid"),
    pytest.param(str(SEQUENCE_ID).encode(), id="bytes"),
    pytest.param(f"{SEQUENCE_ID}\n", id="trailing-newline"),
    pytest.param([str(SEQUENCE_ID)], id="list"),
]


def sent_mailboxes(recorder: Recorder) -> list[str]:
    mailboxes: list[str] = json.loads(recorder.requests[-1].content)["mailbox_emails"]
    return mailboxes


async def test_unify_list_sequence_steps_refuses_bad_arguments_by_name(twin: Twin) -> None:
    wire = Wire(unavailable)
    unify = twin.unify("key", httpx_client=twin.over(wire))
    with pytest.raises(errors.InvalidRequestError, match=r"^sequence_id "):
        unify.list_sequence_steps("x")
    with pytest.raises(errors.InvalidRequestError, match=r"^page_size "):
        unify.list_sequence_steps(uuid.uuid4(), page_size=0)
    with pytest.raises(errors.InvalidRequestError, match=r"step types must be among .*EMAIL"):
        unify.list_sequence_steps(uuid.uuid4(), types=["LETTER"])
    assert wire.sent == []
    await closed(unify)


@pytest.mark.parametrize("name", ["sequence_id", "person_id", "mailbox_id", "enrolled_by_play_id"])
async def test_unify_list_enrollments_names_a_bad_id(twin: Twin, name: str) -> None:
    unify = twin.unify("key", httpx_client=twin.over(Wire(unavailable)))
    with pytest.raises(errors.InvalidRequestError, match=rf"^{name} "):
        unify.list_enrollments(**{name: "x"})
    await closed(unify)


async def test_unify_list_enrollments_names_a_date_that_is_not_a_datetime(twin: Twin) -> None:
    unify = twin.unify("key", httpx_client=twin.over(Wire(unavailable)))
    message = r"^updated_before must be a timezone-aware datetime, got str '2026-11-01'$"
    with pytest.raises(errors.InvalidRequestError, match=message):
        unify.list_enrollments(updated_before="2026-11-01")  # type: ignore[arg-type]
    await closed(unify)


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


@pytest.mark.parametrize("name", ["contact_id", "sequence_id"])
async def test_boast_list_enrollments_names_a_bad_id(twin: Twin, name: str) -> None:
    boast = twin.boast(
        account_id=uuid.uuid4(), access_token="t", httpx_client=twin.over(Wire(unavailable))
    )
    with pytest.raises(errors.InvalidRequestError, match=rf"^{name} "):
        boast.list_enrollments(**{name: "x"})
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


@pytest.mark.parametrize(
    ("mailboxes", "message"),
    [
        ({"rep@example.com"}, "mailbox_emails must be a list of email addresses, got set"),
        (iter(TEN), "mailbox_emails must be a list of email addresses, got list_iterator"),
        (["rep@example.com", "rep at example"], (
            "mailbox_emails must be an email address, got 'rep at example'"
        )),
        ([], "mailbox_emails takes 1 to 10 addresses, got 0"),
        ([*TEN, "one.more@example.com"], "mailbox_emails takes 1 to 10 addresses, got 11"),
        ([*TEN, "one.more@example.com", "REP0@example.com"], (
            "mailbox_emails takes 1 to 10 addresses, got 11 once repeats are removed (12 given)"
        )),
    ],
)  # fmt: skip
async def test_a_bad_mailbox_list_is_refused_with_what_is_wrong_and_nothing_is_sent(
    twin: Twin,
    clock: VirtualClock,
    mailboxes: object,
    message: str,
) -> None:
    server = Server(clock)
    client = twin(server)
    with pytest.raises(errors.InvalidRequestError) as raised:
        await client.enroll(mailboxes)
    assert str(raised.value).startswith(message.split(" ")[0])  # the argument; wording: golden
    assert server.received == []


@pytest.mark.parametrize("client", [UnifyClient, AsyncUnifyClient])
def test_an_unknown_on_conflict_is_refused(client: type[Any]) -> None:
    unify = client("key")
    with pytest.raises(errors.InvalidRequestError) as raised:
        plan = unify.enroll(
            uuid.uuid4(), uuid.uuid4(), mailbox_emails=["a@b.example"], on_conflict="skip"
        )
        if asyncio.iscoroutine(plan):
            asyncio.run(plan)
    assert str(raised.value).startswith("on_conflict ")  # wording: tests/golden


def test_unknown_step_types_are_refused_before_sending() -> None:
    with (
        UnifyClient("key") as unify,
        pytest.raises(errors.InvalidRequestError, match=r"step types must be among ACTION_ITEM, "),
    ):
        unify.list_sequence_steps(uuid.uuid4(), types=["EMAIL"])


@pytest.mark.parametrize(
    ("method", "name"),
    [
        ("get_enrollment", "enrollment_id"),
        ("pause_enrollment", "enrollment_id"),
        ("resume_enrollment", "enrollment_id"),
        ("cancel_enrollment", "enrollment_id"),
        ("get_sequence", "sequence_id"),
        ("pause_sequence", "sequence_id"),
        ("resume_sequence", "sequence_id"),
        ("delete_sequence", "sequence_id"),
        ("list_sequence_steps", "sequence_id"),
    ],
)
def test_a_bad_id_is_refused_by_name_before_sending(method: str, name: str) -> None:
    with UnifyClient("key") as unify, pytest.raises(errors.InvalidRequestError) as raised:
        getattr(unify, method)("not-a-uuid")
    assert str(raised.value).startswith(f"{name} ")  # wording: tests/golden


@pytest.mark.parametrize(
    "method",
    [
        "get_enrollment",
        "pause_enrollment",
        "resume_enrollment",
        "cancel_enrollment",
        "get_sequence",
        "pause_sequence",
        "resume_sequence",
        "delete_sequence",
    ],
)
async def test_async_bad_id_is_refused_by_name_before_sending(method: str) -> None:
    async with AsyncUnifyClient("key") as unify:
        with pytest.raises(errors.InvalidRequestError, match=r"_id must be a UUID, got 'x'"):
            await getattr(unify, method)("x")


@pytest.mark.parametrize("name", ["updated_after", "updated_before"])
async def test_naive_datetimes_are_refused_by_name(twin: Twin, name: str) -> None:
    wire = Wire(unavailable)
    unify = twin.unify("key", httpx_client=twin.over(wire))
    with pytest.raises(errors.InvalidRequestError, match=f"^{name} must be timezone-aware"):
        unify.list_enrollments(**{name: dt.datetime(2026, 1, 1)})  # type: ignore[arg-type]
    assert wire.sent == []
    await closed(unify)


def test_ten_mailboxes_are_sent_and_eleven_refused_before_sending() -> None:
    sent: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(503)  # what happens after sending is not the point here

    mailboxes = [f"rep{n}@acme.example" for n in range(11)]
    http = httpx.Client(transport=httpx.MockTransport(handle))
    with UnifyClient("key", httpx_client=http, max_retries=0) as unify:
        with pytest.raises(errors.ServerError):
            unify.enroll(uuid.uuid4(), uuid.uuid4(), mailbox_emails=mailboxes[:10])
        assert json.loads(sent[0].content)["mailbox_emails"] == mailboxes[:10]
        with pytest.raises(errors.InvalidRequestError, match="1 to 10"):
            unify.enroll(uuid.uuid4(), uuid.uuid4(), mailbox_emails=mailboxes)
        with pytest.raises(errors.InvalidRequestError, match="1 to 10"):
            unify.enroll(uuid.uuid4(), uuid.uuid4(), mailbox_emails=[])
    assert len(sent) == 1


def test_a_single_mailbox_string_is_one_address_not_its_letters() -> None:
    sent: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(503)

    http = httpx.Client(transport=httpx.MockTransport(handle))
    unify = UnifyClient("key", httpx_client=http, max_retries=0)
    with unify, pytest.raises(errors.ServerError):
        unify.enroll(uuid.uuid4(), uuid.uuid4(), mailbox_emails="rep@acme.example")
    assert json.loads(sent[0].content)["mailbox_emails"] == ["rep@acme.example"]


def test_a_bad_mailbox_address_is_refused_by_name() -> None:
    with (
        UnifyClient("key") as unify,
        pytest.raises(errors.InvalidRequestError, match="mailbox_emails") as raised,
    ):
        unify.enroll(uuid.uuid4(), uuid.uuid4(), mailbox_emails=["not-an-address"])
    assert "not-an-address" in str(raised.value)


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
def test_boast_invalid_input_fails_before_sending(call: Callable[..., Any], complaint: str) -> None:
    with offline_client() as boast, pytest.raises(errors.InvalidRequestError, match=complaint):
        call(boast, uuid.uuid4(), uuid.uuid4())


@pytest.mark.parametrize(("mailboxes", "complaint"), BAD_MAILBOXES)
def test_bad_mailbox_emails_are_refused_before_sending(mailboxes: Any, complaint: str) -> None:
    recorder = Recorder()
    with unify(recorder) as client, pytest.raises(errors.InvalidRequestError, match=complaint):
        client.enroll(
            SEQUENCE_ID,
            PERSON_ID,
            mailbox_emails=mailboxes,
        )
    assert recorder.requests == []


@pytest.mark.parametrize(("mailboxes", "complaint"), BAD_MAILBOXES)
async def test_async_bad_mailbox_emails_are_refused_before_sending(
    mailboxes: Any, complaint: str
) -> None:
    recorder = Recorder()
    http = httpx.AsyncClient(transport=httpx.MockTransport(recorder.handle_async))
    async with AsyncUnifyClient("key-123", httpx_client=http, max_retries=0) as client:
        with pytest.raises(errors.InvalidRequestError, match=complaint):
            await client.enroll(
                SEQUENCE_ID,
                PERSON_ID,
                mailbox_emails=mailboxes,
            )
    assert recorder.requests == []


@pytest.mark.parametrize("bad_id", BAD_IDS)
def test_ids_of_the_wrong_type_are_refused_before_sending(bad_id: Any) -> None:
    recorder = Recorder()
    with unify(recorder) as unify_client, boast(recorder) as boast_client:
        for attempt in (
            lambda: unify_client.enroll(bad_id, PERSON_ID, mailbox_emails=["rep@acme.example"]),
            lambda: unify_client.get_enrollment(bad_id),
            lambda: boast_client.get_enrollment(bad_id),
            lambda: boast_client.enroll(bad_id, SEQUENCE_ID),
        ):
            with pytest.raises(errors.InvalidRequestError, match="must be a UUID"):
                attempt()
    assert recorder.requests == []


@pytest.mark.parametrize("bad_id", BAD_IDS)
async def test_async_ids_of_the_wrong_type_are_refused(bad_id: Any) -> None:
    recorder = Recorder()
    http = httpx.AsyncClient(transport=httpx.MockTransport(recorder.handle_async))
    async with AsyncBoastClient(
        account_id=ACCOUNT_ID, access_token="a-1", httpx_client=http, max_retries=0
    ) as client:
        with pytest.raises(errors.InvalidRequestError, match="must be a UUID"):
            await client.remove_enrollment(bad_id)
    assert recorder.requests == []


@pytest.mark.parametrize(
    "email", ["ann@acme.example\n", "ann@acme.example\r\n", " ann@acme.example", 5]
)
def test_contact_email_must_be_a_whole_address(email: Any) -> None:
    recorder = Recorder()
    with boast(recorder) as client, pytest.raises(errors.InvalidRequestError, match="email"):
        client.create_contact(email=email)
    assert recorder.requests == []


def test_repeated_mailboxes_are_sent_once_first_spelling_kept() -> None:
    recorder = Recorder()
    given = ["Rep@Acme.example", "other@acme.example", "rep@acme.example", "OTHER@ACME.EXAMPLE"]
    with unify(recorder) as client, pytest.raises(errors.ServerError):
        client.enroll(SEQUENCE_ID, PERSON_ID, mailbox_emails=given)
    assert sent_mailboxes(recorder) == ["Rep@Acme.example", "other@acme.example"]


def test_more_than_ten_mailboxes_count_once_repeats_are_removed() -> None:
    recorder = Recorder()
    ten = [f"rep{n}@acme.example" for n in range(10)]
    with unify(recorder) as client:
        with pytest.raises(errors.ServerError):  # accepted: ten different addresses
            client.enroll(
                SEQUENCE_ID,
                PERSON_ID,
                mailbox_emails=[*ten, ten[0].upper()],
            )
        assert sent_mailboxes(recorder) == ten
        with pytest.raises(errors.InvalidRequestError, match="got 11"):
            client.enroll(
                SEQUENCE_ID,
                PERSON_ID,
                mailbox_emails=[*ten, "rep10@acme.example"],
            )
        with pytest.raises(errors.InvalidRequestError, match="got 0"):
            client.enroll(SEQUENCE_ID, PERSON_ID, mailbox_emails=())
    assert len(recorder.requests) == 1


def test_a_tuple_and_a_single_address_are_accepted() -> None:
    recorder = Recorder()
    with unify(recorder) as client:
        for mailboxes in (("rep@acme.example",), "rep@acme.example"):
            with pytest.raises(errors.ServerError):
                client.enroll(
                    SEQUENCE_ID,
                    PERSON_ID,
                    mailbox_emails=mailboxes,
                )
    assert len(recorder.requests) == 2


@pytest.mark.parametrize("when", ["2026-01-01", 1767225600, object()])
def test_updated_after_that_is_not_a_datetime_is_refused_by_name(when: object) -> None:
    with (
        UnifyClient("key") as unify,
        pytest.raises(errors.InvalidRequestError, match="updated_after"),
    ):
        unify.list_enrollments(updated_after=when)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("arguments", "complaint"),
    [
        ({"sequence_id": "not-a-uuid"}, "sequence_id must be a UUID"),
        ({"person_id": "1234"}, "person_id must be a UUID"),
        ({"mailbox_emails": ["rep at acme.com"]}, "must be an email address"),
        ({"mailbox_emails": []}, "1 to 10 addresses, got 0"),
        ({"mailbox_emails": [f"rep{i}@acme.com" for i in range(11)]}, "1 to 10 addresses, got 11"),
        ({"on_conflict": "ignore"}, "on_conflict must be"),
    ],
)
def test_unify_invalid_input_fails_before_sending(
    sandbox: Sandbox, unify: UnifyClient, arguments: dict[str, object], complaint: str
) -> None:
    sequence_id, people, mailbox = ids(sandbox)
    call: dict[str, object] = {
        "sequence_id": sequence_id,
        "person_id": people[0],
        "mailbox_emails": [mailbox],
        **arguments,
    }
    before = sandbox.stats.unify.requests

    with pytest.raises(errors.InvalidRequestError, match=complaint):
        unify.enroll(**call)  # type: ignore[arg-type]

    assert sandbox.stats.unify.requests == before
