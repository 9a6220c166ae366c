"""AsyncBoastClient, every public method, OAuth refresh and the retry paths, replayed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from replay_support import UNKNOWN_ID, BoastEnv, ListStore, Session, sandbox_only

from sequence_clients import AsyncBoastClient, errors
from sequence_clients.generated.boast.models import Contact, SequenceEnrollment
from sequence_clients.sandbox import FaultConfig

pytestmark = pytest.mark.vcr
MakeBoast = Callable[..., AsyncBoastClient]


async def test_every_method(make_async_boast: MakeBoast, boast_env: BoastEnv) -> None:
    store = ListStore(live=False)
    boast = make_async_boast(store=store)
    created = await boast.enroll(boast_env.contacts[0], boast_env.sequence_id)
    with pytest.raises(errors.AlreadyEnrolledError):
        await boast.enroll(boast_env.contacts[0], boast_env.sequence_id)
    again = await boast.enroll(
        boast_env.contacts[0], boast_env.sequence_id, on_conflict="return_existing"
    )
    fetched = await boast.get_enrollment(created.id)
    listed = [e async for e in boast.list_enrollments(contact_id=boast_env.contacts[0])]
    accounts = [a async for a in boast.list_accounts()]
    sequences = [s async for s in boast.list_sequences()]
    first_page = await anext(aiter(boast.list_contacts().pages()))  # lazily: one page only
    contact = await boast.create_contact(email="async.replay@example.org")
    removed = await boast.remove_enrollment(created.id)

    assert isinstance(created, SequenceEnrollment) and again.id == fetched.id == created.id
    assert created.id in {e.id for e in listed}
    assert accounts and sequences and first_page.items
    assert isinstance(contact, Contact) and removed.status == "removed"
    assert len(store.saved) == 1, "one refresh for the whole session"


async def test_with_options_and_404(make_async_boast: MakeBoast) -> None:
    boast = make_async_boast(max_retries=0)
    patient = boast.with_options(max_retries=7)
    try:
        assert [a async for a in patient.list_accounts()]
    finally:
        await patient.close()
    with pytest.raises(errors.NotFoundError):
        await boast.get_enrollment(UNKNOWN_ID)


async def test_401_refreshes_once_and_replays_with_the_new_token(
    make_async_boast: MakeBoast, boast_env: BoastEnv
) -> None:
    store = ListStore(live=False)
    boast = make_async_boast(
        store=store,
        access_token="refused-access-token-for-the-401-test",
        expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1),
    )
    assert [a async for a in boast.list_accounts()]
    [saved] = store.saved
    assert saved.refresh_token != boast_env.refresh_token


@sandbox_only
async def test_429_with_retry_after_then_success(
    session: Session, make_async_boast: MakeBoast, sleeps: list[float]
) -> None:
    burst = FaultConfig(rate_limit_burst=1.0, burst_length=1, burst_retry_after=3)
    boast = make_async_boast(fault=burst)
    assert [s async for s in boast.list_sequences()]
    assert sleeps == [3.0]


async def test_reset_after_commit_finds_the_enrollment_instead_of_creating_another(
    make_async_boast: MakeBoast, boast_env: BoastEnv
) -> None:
    boast = make_async_boast(reset_after_commit=True)
    enrollment = await boast.enroll(boast_env.contacts[2], boast_env.sequence_id)
    active = [
        e async for e in boast.list_enrollments(contact_id=boast_env.contacts[2], status="active")
    ]
    assert [e.id for e in active] == [enrollment.id]
    await boast.remove_enrollment(enrollment.id)
