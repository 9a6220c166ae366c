"""AsyncUnifyClient, every public method, error class and retry path, replayed from cassettes."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from replay_support import UNKNOWN_ID, Session, UnifyEnv, sandbox_only
from test_unify_sync import SINCE

from sequence_clients import AsyncUnifyClient, errors
from sequence_clients.generated.unify.models import (
    Enrollment,
    SequenceEnrollment,
    SequenceEnrollmentStatus,
)
from sequence_clients.sandbox import FaultConfig

pytestmark = pytest.mark.vcr
MakeUnify = Callable[..., AsyncUnifyClient]


async def test_enroll_get_pause_resume_cancel(
    make_async_unify: MakeUnify, unify_env: UnifyEnv
) -> None:
    unify = make_async_unify()
    created = await unify.enroll(
        unify_env.sequence_id, unify_env.people[0], mailbox_emails=[unify_env.mailbox]
    )

    assert isinstance(created, Enrollment)
    assert created.status == SequenceEnrollmentStatus.IN_PROGRESS
    assert (await unify.get_enrollment(created.id)).id == created.id
    assert (await unify.pause_enrollment(created.id)).is_paused is True
    assert (await unify.resume_enrollment(created.id)).is_paused is False
    assert (await unify.cancel_enrollment(created.id)).is_canceled is True


async def test_conflict_raises_or_returns_existing(
    make_async_unify: MakeUnify, unify_env: UnifyEnv
) -> None:
    unify = make_async_unify()
    seq, person, mailbox = unify_env.sequence_id, unify_env.people[1], [unify_env.mailbox]
    first = await unify.enroll(seq, person, mailbox_emails=mailbox)

    with pytest.raises(errors.AlreadyEnrolledError) as raised:
        await unify.enroll(seq, person, mailbox_emails=mailbox)
    assert raised.value.active_enrollment_id == str(first.id)
    again = await unify.enroll(seq, person, mailbox_emails=mailbox, on_conflict="return_existing")
    assert again.id == first.id
    with pytest.raises(errors.AlreadyEnrolledError):
        await unify.enroll(
            unify_env.other_sequence_id,
            person,
            mailbox_emails=mailbox,
            on_conflict="return_existing",
        )
    await unify.cancel_enrollment(first.id)


async def test_lists_and_export_page_lazily(
    make_async_unify: MakeUnify, unify_env: UnifyEnv, sleeps: list[float]
) -> None:
    unify = make_async_unify()
    created = [
        await unify.enroll(unify_env.sequence_id, person, mailbox_emails=[unify_env.mailbox])
        for person in unify_env.people[:3]
    ]
    mine = {e.id for e in created}

    pages = [
        page
        async for page in unify.list_enrollments(
            sequence_id=unify_env.sequence_id,
            status=["IN_PROGRESS"],
            updated_after=SINCE,
            page_size=2,
        ).pages()
    ]
    sequences = [s async for s in unify.list_sequences(page_size=2)]
    rows = [r async for r in unify.export_enrollments(sequence_id=unify_env.sequence_id)]

    assert [len(p.items) for p in pages] == [2, 1] and pages[-1].next is None
    assert {e.id for p in pages for e in p.items} == mine
    assert sequences
    assert all(isinstance(r, SequenceEnrollment) for r in rows)
    assert {str(e) for e in mine} <= {str(r.id) for r in rows}
    assert sleeps, "the export job was polled"
    for enrollment in created:
        await unify.cancel_enrollment(enrollment.id)


async def test_with_options_and_raw(make_async_unify: MakeUnify) -> None:
    from sequence_clients.generated.unify.api.sequences import list_sequences

    unify = make_async_unify()
    patient = unify.with_options(max_retries=7)
    try:
        assert "max_retries=7" in repr(patient)
        assert [s async for s in patient.list_sequences()]
    finally:
        await patient.close()
    response = await list_sequences.asyncio_detailed(client=unify.raw, limit=1)
    assert response.status_code == 200


async def test_4xx_error_classes(make_async_unify: MakeUnify, unify_env: UnifyEnv) -> None:
    unify = make_async_unify(max_retries=0)
    with pytest.raises(errors.BadRequestError) as bad:
        await unify.enroll(
            unify_env.sequence_id, unify_env.people[0], mailbox_emails=["stranger@example.org"]
        )
    with pytest.raises(errors.NotFoundError) as missing:
        await unify.get_enrollment(UNKNOWN_ID)
    stranger = make_async_unify(api_key="wrong-key-for-the-401-test", max_retries=0)
    with pytest.raises(errors.AuthenticationError) as denied:
        [s async for s in stranger.list_sequences()]

    assert (bad.value.status_code, missing.value.status_code, denied.value.status_code) == (
        400,
        404,
        401,
    )
    assert "wrong-key-for-the-401-test" not in str(denied.value)


@sandbox_only
@pytest.mark.parametrize(
    ("fault", "error_class", "broken"),
    [
        (
            FaultConfig(rate_limit_burst=1.0, burst_length=1, burst_retry_after=2),
            errors.RateLimitError,
            None,
        ),
        (FaultConfig(server_error=1.0), errors.ServerError, None),
        (FaultConfig(html_502=1.0), errors.ServerError, "html_502 fault: an nginx error page"),
        (FaultConfig(truncated_json=1.0), errors.UnexpectedResponseError, "truncated_json fault"),
    ],
    ids=["429", "5xx", "html-502", "truncated-json"],
)
async def test_fault_error_classes(
    session: Session,
    make_async_unify: MakeUnify,
    fault: FaultConfig,
    error_class: type[errors.SequenceClientError],
    broken: str | None,
) -> None:
    unify = make_async_unify(fault=fault, max_retries=0)
    with pytest.raises(error_class) as raised:
        [s async for s in unify.list_sequences()]
    if broken:
        session.mark_broken(broken)
    if isinstance(raised.value, errors.RateLimitError):
        assert raised.value.retry_after == 2.0


@sandbox_only
async def test_429_then_success_waits_retry_after(
    session: Session, make_async_unify: MakeUnify, sleeps: list[float]
) -> None:
    burst = FaultConfig(rate_limit_burst=1.0, burst_length=1, burst_retry_after=3)
    unify = make_async_unify(fault=burst)
    assert [s async for s in unify.list_sequences()]
    assert sleeps == [3.0]


@pytest.mark.sandbox_seed(5)  # seed 5's first injected server error is a 503
@sandbox_only
async def test_503_then_success(
    session: Session,
    make_async_unify: MakeUnify,
    sleeps: list[float],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The spec documents 500 only; a 503 (a load balancer\'s answer) is outside it.
    caplog.set_level(logging.INFO, logger="sequence_clients")
    unify = make_async_unify(fault=FaultConfig(server_error=1.0))
    assert [s async for s in unify.list_sequences()]
    session.mark_broken(
        "server_error fault: 503, a status the Unify spec does not document", back=1
    )
    retries = [r for r in caplog.records if vars(r).get("event") == "sequence_clients.retry"]
    reasons = [r.reason for r in retries]  # type: ignore[attr-defined]
    assert reasons == ["ServerError 503"] and len(sleeps) == 1


async def test_reset_after_commit_then_409_returns_the_enrollment_it_made(
    make_async_unify: MakeUnify, unify_env: UnifyEnv
) -> None:
    unify = make_async_unify(reset_after_commit=True)
    enrollment = await unify.enroll(
        unify_env.sequence_id, unify_env.people[3], mailbox_emails=[unify_env.mailbox]
    )
    assert str(enrollment.person.id) == unify_env.people[3]
    await unify.cancel_enrollment(enrollment.id)
