"""UnifyClient, every public method, error class and retry path, replayed from cassettes."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

import pytest
from replay_support import UNKNOWN_ID, Session, UnifyEnv, sandbox_only

from sequence_clients import UnifyClient, errors
from sequence_clients.generated.unify.models import (
    Enrollment,
    SequenceEnrollment,
    SequenceEnrollmentStatus,
)
from sequence_clients.generated.unify.models import Sequence as UnifySequence
from sequence_clients.sandbox import FaultConfig

pytestmark = pytest.mark.vcr
MakeUnify = Callable[..., UnifyClient]
SINCE = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)  # constant, so the recorded query replays


def test_enroll_get_pause_resume_cancel(make_unify: MakeUnify, unify_env: UnifyEnv) -> None:
    unify = make_unify()
    created = unify.enroll(
        unify_env.sequence_id, unify_env.people[0], mailbox_emails=[unify_env.mailbox]
    )

    assert isinstance(created, Enrollment)
    assert str(created.sequence.id) == unify_env.sequence_id
    assert str(created.person.id) == unify_env.people[0]
    assert created.status == SequenceEnrollmentStatus.IN_PROGRESS
    assert unify.get_enrollment(created.id).id == created.id
    assert unify.pause_enrollment(created.id).is_paused is True
    assert unify.resume_enrollment(str(created.id)).is_paused is False
    cancelled = unify.cancel_enrollment(created.id)
    assert cancelled.id == created.id and cancelled.is_canceled is True


def test_conflict_raises_or_returns_existing(make_unify: MakeUnify, unify_env: UnifyEnv) -> None:
    unify = make_unify()
    seq, person, mailbox = unify_env.sequence_id, unify_env.people[1], [unify_env.mailbox]
    first = unify.enroll(seq, person, mailbox_emails=mailbox)

    with pytest.raises(errors.AlreadyEnrolledError) as raised:
        unify.enroll(seq, person, mailbox_emails=mailbox)
    assert raised.value.status_code == 409
    assert raised.value.active_enrollment_id == str(first.id)
    assert raised.value.active_sequence_id == seq

    again = unify.enroll(seq, person, mailbox_emails=mailbox, on_conflict="return_existing")
    assert again.id == first.id

    with pytest.raises(errors.AlreadyEnrolledError) as elsewhere:
        unify.enroll(
            unify_env.other_sequence_id,
            person,
            mailbox_emails=mailbox,
            on_conflict="return_existing",
        )
    assert elsewhere.value.active_sequence_id == seq
    unify.cancel_enrollment(first.id)


def test_list_enrollments_filters_and_pages(make_unify: MakeUnify, unify_env: UnifyEnv) -> None:
    unify = make_unify()
    created = [
        unify.enroll(unify_env.sequence_id, person, mailbox_emails=[unify_env.mailbox])
        for person in unify_env.people[:3]
    ]

    pages = list(
        unify.list_enrollments(
            sequence_id=unify_env.sequence_id,
            status=["IN_PROGRESS"],
            updated_after=SINCE,
            page_size=2,
        ).pages()
    )
    by_person = list(unify.list_enrollments(person_id=unify_env.people[0]))

    assert [len(p.items) for p in pages] == [2, 1]
    assert pages[0].next is not None and pages[0].raw.next_cursor == pages[0].next
    assert pages[-1].next is None
    assert {e.id for p in pages for e in p.items} == {e.id for e in created}
    assert created[0].id in {e.id for e in by_person}
    for enrollment in created:
        unify.cancel_enrollment(enrollment.id)


def test_list_sequences_pages_lazily(make_unify: MakeUnify) -> None:
    unify = make_unify()
    sequences = list(unify.list_sequences())
    pages = list(unify.list_sequences(page_size=2).pages())

    assert sequences and all(isinstance(s, UnifySequence) for s in sequences)
    assert [s.id for p in pages for s in p.items] == [s.id for s in sequences]
    assert all(len(p.items) <= 2 for p in pages) and pages[-1].next is None


def test_export_enrollments_creates_polls_and_pages(
    make_unify: MakeUnify, unify_env: UnifyEnv, sleeps: list[float]
) -> None:
    unify = make_unify()
    created = unify.enroll(
        unify_env.sequence_id, unify_env.people[2], mailbox_emails=[unify_env.mailbox]
    )

    rows = list(unify.export_enrollments(sequence_id=unify_env.sequence_id, page_size=50))

    assert rows and all(isinstance(r, SequenceEnrollment) for r in rows)
    assert str(created.id) in {str(r.id) for r in rows}
    assert all(str(r.sequence.id) == unify_env.sequence_id for r in rows)
    # The job takes seconds: polled more than once, each wait longer (the waits are not slept).
    assert len(sleeps) > 1 and sleeps == sorted(sleeps) and sleeps[-1] > sleeps[0]
    unify.cancel_enrollment(created.id)


def test_with_options_gives_a_configured_copy(make_unify: MakeUnify) -> None:
    unify = make_unify()
    patient = unify.with_options(max_retries=7, timeout=3.0)
    try:
        assert "max_retries=7" in repr(patient) and "timeout=3.0" in repr(patient)
        assert list(patient.list_sequences())
    finally:
        patient.close()


def test_raw_is_the_generated_client(make_unify: MakeUnify) -> None:
    from sequence_clients.generated.unify.api.sequences import list_sequences

    unify = make_unify()
    response = list_sequences.sync_detailed(client=unify.raw, limit=1)
    assert response.status_code == 200 and len(response.parsed.sequences) == 1


# --- error classes ---------------------------------------------------------------------------
def test_400_is_bad_request(make_unify: MakeUnify, unify_env: UnifyEnv) -> None:
    unify = make_unify(max_retries=0)
    with pytest.raises(errors.BadRequestError) as raised:  # well-formed, not a known mailbox
        unify.enroll(
            unify_env.sequence_id, unify_env.people[0], mailbox_emails=["stranger@example.org"]
        )
    assert raised.value.status_code == 400 and raised.value.codes and raised.value.message


def test_401_is_authentication_error_without_the_key(
    make_unify: MakeUnify, unify_env: UnifyEnv
) -> None:
    wrong = "wrong-key-for-the-401-test"
    unify = make_unify(api_key=wrong, max_retries=0)
    with pytest.raises(errors.AuthenticationError) as raised:
        list(unify.list_sequences())
    assert raised.value.status_code == 401
    assert wrong not in str(raised.value) and wrong not in repr(raised.value)


def test_404_is_not_found(make_unify: MakeUnify) -> None:
    with pytest.raises(errors.NotFoundError) as raised:
        make_unify(max_retries=0).get_enrollment(UNKNOWN_ID)
    assert raised.value.status_code == 404 and raised.value.message


@sandbox_only
def test_429_is_rate_limit_error_with_retry_after(session: Session, make_unify: MakeUnify) -> None:
    burst = FaultConfig(rate_limit_burst=1.0, burst_length=1, burst_retry_after=2)
    unify = make_unify(fault=burst, max_retries=0)
    with pytest.raises(errors.RateLimitError) as raised:
        list(unify.list_sequences())
    assert raised.value.status_code == 429 and raised.value.retry_after == 2.0


@sandbox_only
def test_5xx_is_server_error(session: Session, make_unify: MakeUnify) -> None:
    unify = make_unify(fault=FaultConfig(server_error=1.0), max_retries=0)
    with pytest.raises(errors.ServerError) as raised:
        list(unify.list_sequences())
    assert raised.value.status_code >= 500 and raised.value.message


@sandbox_only
def test_html_502_is_server_error_with_snippet(session: Session, make_unify: MakeUnify) -> None:
    unify = make_unify(fault=FaultConfig(html_502=1.0), max_retries=0)
    with pytest.raises(errors.ServerError) as raised:
        list(unify.list_sequences())
    session.mark_broken("html_502 fault: an nginx error page, not the vendor's JSON")
    assert raised.value.status_code == 502
    assert "Bad Gateway" in str(raised.value) and raised.value.body is None


@sandbox_only
def test_truncated_json_is_unexpected_response(session: Session, make_unify: MakeUnify) -> None:
    unify = make_unify(fault=FaultConfig(truncated_json=1.0), max_retries=0)
    with pytest.raises(errors.UnexpectedResponseError) as raised:
        list(unify.list_sequences())
    session.mark_broken("truncated_json fault: the body is cut in half")
    assert raised.value.status_code == 200 and raised.value.truncated is True


# --- retry paths -----------------------------------------------------------------------------
@sandbox_only
def test_429_with_retry_after_then_success(
    session: Session, make_unify: MakeUnify, sleeps: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="sequence_clients")
    burst = FaultConfig(rate_limit_burst=1.0, burst_length=1, burst_retry_after=3)
    unify = make_unify(fault=burst)

    assert list(unify.list_sequences())
    assert sleeps == [3.0], "the server's Retry-After is the wait, not a backoff guess"
    assert any("RateLimitError 429" in r.getMessage() for r in caplog.records)


@pytest.mark.sandbox_seed(5)  # seed 5's first injected server error is a 503
@sandbox_only
def test_503_then_success(
    session: Session, make_unify: MakeUnify, sleeps: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    # The spec documents 500 only; a 503 (a load balancer\'s answer) is outside it.
    caplog.set_level(logging.INFO, logger="sequence_clients")
    unify = make_unify(fault=FaultConfig(server_error=1.0))

    assert list(unify.list_sequences())
    session.mark_broken(
        "server_error fault: 503, a status the Unify spec does not document", back=1
    )
    retries = [r for r in caplog.records if r.name == "sequence_clients"]
    assert [r.reason for r in retries] == ["ServerError 503"]  # type: ignore[attr-defined]
    assert len(sleeps) == 1


def test_reset_after_commit_then_409_returns_the_enrollment_it_made(
    make_unify: MakeUnify,
    unify_env: UnifyEnv,
    sleeps: list[float],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="sequence_clients")
    unify = make_unify(reset_after_commit=True)

    # on_conflict="raise", yet no error: the 409 names the enrollment our lost attempt made.
    enrollment = unify.enroll(
        unify_env.sequence_id, unify_env.people[3], mailbox_emails=[unify_env.mailbox]
    )

    assert str(enrollment.person.id) == unify_env.people[3]
    assert str(enrollment.sequence.id) == unify_env.sequence_id
    by_event = {vars(r).get("event"): r for r in caplog.records if r.name == "sequence_clients"}
    assert [
        r.reason  # type: ignore[attr-defined]
        for r in caplog.records
        if vars(r).get("event") == "sequence_clients.retry"
    ] == ["APIConnectionError"]
    assert vars(by_event["sequence_clients.conflict.resolved"])["ours"] is True
    assert len(sleeps) == 1
    unify.cancel_enrollment(enrollment.id)
