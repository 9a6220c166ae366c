"""Unify's filters and bulk export as a user meets them: what you ask for is what is sent, and a
failed export says so. Each test pins a promise that mutation testing (`make mutation`) showed
no other test held. The in-process sandbox answers over loopback; where an answer must be one
the sandbox never gives (a failed job), a transport in front of it rewrites that answer.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable

import httpx
import pytest

from sequence_clients import UnifyClient, errors
from sequence_clients.sandbox import Sandbox

MakeSandbox = Callable[..., Sandbox]


def listing_recorder() -> tuple[httpx.Client, list[httpx.Request]]:
    """A client whose every request answers an empty page, and the requests it sent."""
    sent: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"enrollments": [], "next_cursor": None})

    return httpx.Client(transport=httpx.MockTransport(handle)), sent


def test_every_list_filter_reaches_the_request() -> None:
    http, sent = listing_recorder()
    sequence, person, mailbox, play = (uuid.uuid4() for _ in range(4))
    after = dt.datetime(2026, 11, 1, 8, 30, tzinfo=dt.UTC)
    before = dt.datetime(2026, 11, 20, 17, 0, tzinfo=dt.UTC)
    with UnifyClient("key", httpx_client=http) as unify:
        list(
            unify.list_enrollments(
                sequence_id=sequence,
                person_id=person,
                mailbox_id=mailbox,
                enrolled_by_play_id=play,
                status=["IN_PROGRESS", "FINISHED"],
                updated_after=after,
                updated_before=before,
                page_size=25,
            )
        )
    (request,) = sent
    query = request.url.params
    assert query["sequence_id"] == str(sequence)
    assert query["person_id"] == str(person)
    assert query["mailbox_id"] == str(mailbox)
    assert query["enrolled_by_play_id"] == str(play)
    assert query.get_list("status") == ["IN_PROGRESS", "FINISHED"]
    assert dt.datetime.fromisoformat(query["updated_after"]) == after
    assert dt.datetime.fromisoformat(query["updated_before"]) == before
    assert query["limit"] == "25"


def test_unset_filters_are_not_sent() -> None:
    http, sent = listing_recorder()
    with UnifyClient("key", httpx_client=http) as unify:
        list(unify.list_enrollments())
    assert dict(sent[0].url.params) == {"limit": "100"}


@pytest.mark.parametrize("name", ["updated_after", "updated_before"])
def test_naive_datetimes_are_refused_by_name(name: str) -> None:
    http, sent = listing_recorder()
    with (
        UnifyClient("key", httpx_client=http) as unify,
        pytest.raises(errors.InvalidRequestError, match=f"{name} must be timezone-aware"),
    ):
        unify.list_enrollments(**{name: dt.datetime(2026, 1, 1)})  # type: ignore[arg-type]
    assert sent == []


def live_sequences_and_mailbox(sandbox: Sandbox) -> tuple[list[str], list[str], str]:
    state = sandbox.unify
    empty = [s["id"] for s in state.live_sequences() if state.active_enrollment_count(s["id"]) == 0]
    people = [p["id"] for p in state.people if state.active_enrollment_of(p["id"]) is None]
    return empty[:2], people[:6], state.mailboxes[0]["email"]


def test_export_by_sequence_exports_that_sequence_only(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(job_seconds=0)
    (wanted, other), people, mailbox = live_sequences_and_mailbox(sandbox)
    with UnifyClient(sandbox.unify_api_key, base_url=sandbox.unify_base_url) as unify:
        for n, person in enumerate(people):
            unify.enroll(wanted if n % 2 else other, person, mailbox_emails=[mailbox])
        rows = list(unify.export_enrollments(sequence_id=wanted, page_size=2))
        everything = list(unify.export_enrollments(page_size=50))
    exported = {str(r.person.id) for r in rows}
    assert exported >= set(people[1::2]) and exported.isdisjoint(people[0::2])
    assert {str(r.sequence.id) for r in rows} == {wanted}
    assert {str(r.sequence.id) for r in everything} >= {wanted, other}


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


class FailingJobs(httpx.BaseTransport):
    """Loopback to the sandbox, except that every bulk job reports it has FAILED."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        is_job = request.method == "GET" and "/query-jobs/" in request.url.path
        if not is_job or request.url.path.endswith("/results"):
            return response
        job = json.loads(response.read())
        job.update(status="FAILED", error_code="QUERY_TIMEOUT")
        return httpx.Response(response.status_code, json=job)

    def close(self) -> None:
        self.inner.close()


def test_a_failed_export_job_raises_bulk_job_error(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(job_seconds=0)
    http = httpx.Client(transport=FailingJobs())
    unify = UnifyClient(sandbox.unify_api_key, base_url=sandbox.unify_base_url, httpx_client=http)
    with unify, pytest.raises(errors.BulkJobError) as raised:
        list(unify.export_enrollments())
    error = raised.value
    assert error.status == "FAILED" and error.error_code == "QUERY_TIMEOUT"
    assert str(error) == f"bulk job {error.job_id} ended FAILED (QUERY_TIMEOUT)"
    uuid.UUID(error.job_id)
    http.close()
