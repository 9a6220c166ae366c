"""Input checks: whole values only (an address read from a file keeps its newline), wrong types
refused with InvalidRequestError before anything is sent, repeated mailboxes sent once."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from sequence_clients import AsyncBoastClient, AsyncUnifyClient, BoastClient, UnifyClient, errors

SEQUENCE_ID, PERSON_ID = uuid.uuid4(), uuid.uuid4()
ACCOUNT_ID = "7a2f1f8c-7771-47e2-8dbd-332b301028a8"


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


@pytest.mark.parametrize(("mailboxes", "complaint"), BAD_MAILBOXES)
def test_bad_mailbox_emails_are_refused_before_sending(mailboxes: Any, complaint: str) -> None:
    recorder = Recorder()
    with unify(recorder) as client, pytest.raises(errors.InvalidRequestError, match=complaint):
        client.enroll(SEQUENCE_ID, PERSON_ID, mailbox_emails=mailboxes)
    assert recorder.requests == []


@pytest.mark.parametrize(("mailboxes", "complaint"), BAD_MAILBOXES)
async def test_async_bad_mailbox_emails_are_refused_before_sending(
    mailboxes: Any, complaint: str
) -> None:
    recorder = Recorder()
    http = httpx.AsyncClient(transport=httpx.MockTransport(recorder.handle_async))
    async with AsyncUnifyClient("key-123", httpx_client=http, max_retries=0) as client:
        with pytest.raises(errors.InvalidRequestError, match=complaint):
            await client.enroll(SEQUENCE_ID, PERSON_ID, mailbox_emails=mailboxes)
    assert recorder.requests == []


BAD_IDS = [
    pytest.param(None, id="None"),
    pytest.param(12345678901234567890123456789012, id="int-that-spells-a-uuid"),
    pytest.param(str(SEQUENCE_ID).encode(), id="bytes"),
    pytest.param(f"{SEQUENCE_ID}\n", id="trailing-newline"),
    pytest.param([str(SEQUENCE_ID)], id="list"),
]


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


def sent_mailboxes(recorder: Recorder) -> list[str]:
    mailboxes: list[str] = json.loads(recorder.requests[-1].content)["mailbox_emails"]
    return mailboxes


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
            client.enroll(SEQUENCE_ID, PERSON_ID, mailbox_emails=[*ten, ten[0].upper()])
        assert sent_mailboxes(recorder) == ten
        with pytest.raises(errors.InvalidRequestError, match="got 11"):
            client.enroll(SEQUENCE_ID, PERSON_ID, mailbox_emails=[*ten, "rep10@acme.example"])
        with pytest.raises(errors.InvalidRequestError, match="got 0"):
            client.enroll(SEQUENCE_ID, PERSON_ID, mailbox_emails=())
    assert len(recorder.requests) == 1


def test_a_tuple_and_a_single_address_are_accepted() -> None:
    recorder = Recorder()
    with unify(recorder) as client:
        for mailboxes in (("rep@acme.example",), "rep@acme.example"):
            with pytest.raises(errors.ServerError):
                client.enroll(SEQUENCE_ID, PERSON_ID, mailbox_emails=mailboxes)
    assert len(recorder.requests) == 2
