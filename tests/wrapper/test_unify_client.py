"""UnifyClient and AsyncUnifyClient against the Unify sandbox over real loopback HTTP."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from collections.abc import Callable

import httpx
import pytest

from sequence_clients import AsyncUnifyClient, RetryPolicy, UnifyClient, errors
from sequence_clients.generated.unify.models import Enrollment, SequenceEnrollmentStatus
from sequence_clients.sandbox import Sandbox

MakeSandbox = Callable[..., Sandbox]
# Millisecond backoff keeps fault tests fast; server-requested waits are still honoured.
FAST = RetryPolicy(base_delay=0.001, max_delay=0.01)


def ids(sandbox: Sandbox) -> tuple[str, list[str], str]:
    """A live sequence with no active enrollment yet, people free to enroll, and a sandbox
    mailbox address."""
    state = sandbox.unify
    empty = (s["id"] for s in state.live_sequences() if state.active_enrollment_count(s["id"]) == 0)
    return (
        next(empty),
        [p["id"] for p in state.people[:3000]],
        state.mailboxes[0]["email"],
    )


def counting_client() -> tuple[httpx.Client, list[httpx.Request]]:
    sent: list[httpx.Request] = []
    return httpx.Client(event_hooks={"request": [sent.append]}), sent


def test_enroll_then_get_pause_resume_cancel(sandbox: Sandbox, unify: UnifyClient) -> None:
    sequence_id, people, mailbox = ids(sandbox)

    created = unify.enroll(sequence_id, people[0], mailbox_emails=[mailbox])

    assert isinstance(created, Enrollment)
    assert str(created.sequence.id) == sequence_id and str(created.person.id) == people[0]
    assert created.status == SequenceEnrollmentStatus.IN_PROGRESS
    assert unify.get_enrollment(created.id).id == created.id
    assert unify.pause_enrollment(created.id).is_paused is True
    assert unify.get_enrollment(created.id).is_paused is True
    assert unify.resume_enrollment(created.id).id == created.id
    assert unify.cancel_enrollment(str(created.id)).is_canceled is True
    assert sandbox.unify.active_enrollment_count() == sandbox.unify.active_enrollment_count(None)
    assert sandbox.unify.active_enrollment_of(people[0]) is None


def test_conflicts_raise_or_return_existing(sandbox: Sandbox, unify: UnifyClient) -> None:
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
def test_invalid_input_fails_before_sending(
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


def test_vendor_errors_are_typed_with_status_code_and_message(
    sandbox: Sandbox, unify: UnifyClient
) -> None:
    sequence_id, people, _ = ids(sandbox)
    with pytest.raises(errors.NotFoundError) as missing:
        unify.get_enrollment(uuid.uuid4())
    assert missing.value.status_code == 404 and "not_found" in missing.value.codes
    assert missing.value.message

    with pytest.raises(
        errors.BadRequestError
    ) as rejected:  # well-formed, but not a sandbox mailbox
        unify.enroll(sequence_id, people[0], mailbox_emails=["stranger@elsewhere.example"])
    assert rejected.value.status_code == 400 and "bad_request" in rejected.value.codes

    stranger = UnifyClient("wrong-key", base_url=sandbox.unify_base_url)
    with stranger, pytest.raises(errors.AuthenticationError) as denied:
        next(iter(stranger.list_sequences()))
    assert denied.value.status_code == 401
    assert "wrong-key" not in str(denied.value) and "wrong-key" not in repr(stranger)


def test_listing_250_enrollments_takes_three_requests(sandbox: Sandbox) -> None:
    _, people, mailbox = ids(sandbox)
    # A sequence with no seeded active enrollments, so exactly our 250 are IN_PROGRESS in it.
    sequence_id = next(
        s["id"]
        for s in sandbox.unify.live_sequences()
        if sandbox.unify.active_enrollment_count(s["id"]) == 0
    )
    http, sent = counting_client()
    with UnifyClient(
        sandbox.unify_api_key, base_url=sandbox.unify_base_url, httpx_client=http
    ) as unify:
        for person in people[:250]:
            unify.enroll(sequence_id, person, mailbox_emails=[mailbox])
        sent.clear()

        listed = list(unify.list_enrollments(sequence_id=sequence_id, status=["IN_PROGRESS"]))

    assert len(listed) == 250 and len({e.id for e in listed}) == 250
    assert len(sent) == 3
    assert all(request.url.params["limit"] == "100" for request in sent)


def test_filters_and_pages(sandbox: Sandbox, unify: UnifyClient) -> None:
    sequence_id, people, mailbox = ids(sandbox)
    mine = unify.enroll(sequence_id, people[5], mailbox_emails=[mailbox])

    by_person = list(unify.list_enrollments(person_id=people[5]))
    recent = list(
        unify.list_enrollments(
            sequence_id=sequence_id, updated_after=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
        )
    )
    pages = list(unify.list_sequences(page_size=2).pages())

    assert [e.id for e in by_person] == [mine.id]
    assert mine.id in {e.id for e in recent}
    assert sum(len(p.items) for p in pages) == len(sandbox.unify.live_sequences())
    assert pages[-1].next is None and pages[0].raw.next_cursor == pages[0].next
    with pytest.raises(errors.InvalidRequestError):
        unify.list_enrollments(updated_after=dt.datetime(2026, 1, 1))  # naive datetime
    with pytest.raises(errors.InvalidRequestError):
        unify.list_enrollments(page_size=101)


def test_export_enrollments_runs_a_bulk_job(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(job_seconds=0.0)  # polling at growing intervals: test_operations_core
    sequence_id, people, mailbox = ids(sandbox)
    # Results requests are rate-limited (a few a second): a patient client honours Retry-After.
    unify = UnifyClient(sandbox.unify_api_key, base_url=sandbox.unify_base_url, retry_policy=FAST)
    with unify:
        for person in people[:30]:
            unify.enroll(sequence_id, person, mailbox_emails=[mailbox])
        rows = list(unify.export_enrollments(sequence_id=sequence_id, page_size=7))

    assert {r.person.id for r in rows} >= set(people[:30])
    assert all(r.sequence.id == sequence_id for r in rows)


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
    ("fault", "error_class"),
    [
        ({"server_error": 1.0}, errors.ServerError),
        ({"html_502": 1.0}, errors.ServerError),
        ({"truncated_json": 1.0}, errors.UnexpectedResponseError),
        ({"reset_before": 1.0}, errors.APIConnectionError),
        ({"reset_after_commit": 1.0}, errors.APIConnectionError),
        ({"slow": 1.0, "slow_seconds": 1.0}, errors.APITimeoutError),
        ({"rate_limit_burst": 1.0, "burst_retry_after": 0}, errors.RateLimitError),
    ],
)
def test_each_fault_surfaces_as_its_typed_error(
    make_sandbox: MakeSandbox, fault: dict[str, float], error_class: type[Exception]
) -> None:
    sandbox = make_sandbox(faults=fault)
    with (
        UnifyClient(
            sandbox.unify_api_key, base_url=sandbox.unify_base_url, max_retries=0, timeout=0.3
        ) as unify,
        pytest.raises(error_class) as raised,
    ):
        list(unify.list_sequences())
    assert sandbox.unify_api_key not in str(raised.value)
    assert "/sequences/v1/sequences" in str(raised.value)


def test_retries_ride_out_faults_and_log_each_retry(
    make_sandbox: MakeSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox = make_sandbox(
        faults={
            "server_error": 0.15,
            "html_502": 0.05,
            "truncated_json": 0.05,
            "reset_before": 0.05,
            "rate_limit_burst": 0.02,
            "burst_retry_after": 0,
        }
    )
    caplog.set_level(logging.INFO, logger="sequence_clients")
    with UnifyClient(
        sandbox.unify_api_key, base_url=sandbox.unify_base_url, max_retries=10, retry_policy=FAST
    ) as unify:
        for _ in range(10):
            assert len(list(unify.list_sequences())) == len(sandbox.unify.live_sequences())

    retries = [
        r
        for r in caplog.records
        if r.name == "sequence_clients"
        and r.levelno == logging.INFO
        and vars(r).get("event") == "sequence_clients.retry"
    ]
    assert retries, "faults at these rates must have caused retries"
    for record in retries:
        assert {"method", "url", "attempt", "wait", "reason"} <= vars(record).keys()
        assert sandbox.unify_api_key not in record.getMessage()


def test_retry_after_beyond_the_ceiling_raises_at_once(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(faults={"rate_limit_burst": 1.0, "burst_retry_after": 600})
    unify = UnifyClient(sandbox.unify_api_key, base_url=sandbox.unify_base_url)
    with unify, pytest.raises(errors.RateLimitError) as raised:
        list(unify.list_sequences())
    assert raised.value.retry_after == 600
    assert sandbox.stats.unify.requests == 1


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
        sandbox.unify_api_key, base_url=sandbox.unify_base_url, max_retries=8, retry_policy=FAST
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


async def test_async_twin_covers_every_method(sandbox: Sandbox) -> None:
    sequence_id, people, mailbox = ids(sandbox)
    async with AsyncUnifyClient(sandbox.unify_api_key, base_url=sandbox.unify_base_url) as unify:
        created = await unify.enroll(sequence_id, people[0], mailbox_emails=[mailbox])
        with pytest.raises(errors.AlreadyEnrolledError):
            await unify.enroll(sequence_id, people[0], mailbox_emails=[mailbox])
        assert (
            await unify.enroll(
                sequence_id, people[0], mailbox_emails=[mailbox], on_conflict="return_existing"
            )
        ).id == created.id
        assert (await unify.get_enrollment(created.id)).id == created.id
        assert (await unify.pause_enrollment(created.id)).is_paused is True
        assert (await unify.resume_enrollment(created.id)).id == created.id
        listed = [e.id async for e in unify.list_enrollments(sequence_id=sequence_id)]
        assert created.id in listed
        pages = [p async for p in unify.list_sequences(page_size=2).pages()]
        assert sum(len(p.items) for p in pages) == len(sandbox.unify.live_sequences())
        rows = [r async for r in unify.export_enrollments(sequence_id=sequence_id)]
        assert str(created.id) in {r.id for r in rows}
        assert (await unify.cancel_enrollment(created.id)).is_canceled is True
        with pytest.raises(errors.NotFoundError):
            await unify.get_enrollment(uuid.uuid4())
