"""The service's tests: only the `sequence-clients[testing]` plugin's fixtures, no mocks of our
own, no real sleeps (the plugin makes back-off and Retry-After waits instant and counts them)."""

from __future__ import annotations

import enrollment_service as service

from sequence_clients import AsyncBoastClient, AsyncUnifyClient, BoastClient, UnifyClient
from sequence_clients.testing import BoastSandbox, InstantClock, ServedSandbox, UnifySandbox

ENROLL = "create_sequence_enrollment"


def lead(unify_sandbox: UnifySandbox) -> tuple[str, str, str]:
    (person,) = unify_sandbox.free_people()
    return unify_sandbox.sequence(), person, unify_sandbox.mailbox()


# --- a 429, then success --------------------------------------------------------------------
def test_429_then_success(
    unify_sandbox: UnifySandbox, unify_client: UnifyClient, instant_waits: InstantClock
) -> None:
    unify_sandbox.fail(ENROLL, status=429, retry_after=1, times=2)
    outcome = service.enroll_unify_lead(unify_client, *lead(unify_sandbox))
    assert outcome.status == "enrolled"
    assert [r.status for r in unify_sandbox.requests(operation=ENROLL)] == [429, 429, 201]
    assert instant_waits.waits == [1, 1]  # Retry-After honoured, without sleeping


async def test_429_then_success_async(
    unify_sandbox: UnifySandbox, async_unify_client: AsyncUnifyClient, instant_waits: InstantClock
) -> None:
    unify_sandbox.fail(ENROLL, status=429, retry_after=1, times=2)
    outcome = await service.aenroll_unify_lead(async_unify_client, *lead(unify_sandbox))
    assert outcome.status == "enrolled"
    assert [r.status for r in unify_sandbox.requests(operation=ENROLL)] == [429, 429, 201]
    assert instant_waits.waits == [1, 1]


# --- a 503 after the create committed: exactly one enrollment -------------------------------
def test_503_after_commit_enrolls_once(
    unify_sandbox: UnifySandbox, unify_client: UnifyClient
) -> None:
    sequence, person, mailbox = lead(unify_sandbox)
    unify_sandbox.fail(ENROLL, status=503, after_commit=True)
    outcome = service.enroll_unify_lead(unify_client, sequence, person, mailbox)
    assert outcome.status == "enrolled"
    assert unify_sandbox.active_enrollments(person) == 1
    assert [r.status for r in unify_sandbox.requests(operation=ENROLL)] == [503, 409]


async def test_503_after_commit_enrolls_once_async(
    unify_sandbox: UnifySandbox, async_unify_client: AsyncUnifyClient
) -> None:
    sequence, person, mailbox = lead(unify_sandbox)
    unify_sandbox.fail(ENROLL, status=503, after_commit=True)
    outcome = await service.aenroll_unify_lead(async_unify_client, sequence, person, mailbox)
    assert outcome.status == "enrolled"
    assert unify_sandbox.active_enrollments(person) == 1
    assert [r.status for r in unify_sandbox.requests(operation=ENROLL)] == [503, 409]


# --- AlreadyEnrolledError -------------------------------------------------------------------
def test_already_enrolled(unify_sandbox: UnifySandbox, unify_client: UnifyClient) -> None:
    unify_sandbox.fail(ENROLL, error="already_enrolled")
    outcome = service.enroll_unify_lead(unify_client, *lead(unify_sandbox))
    assert outcome.status == "already_enrolled" and outcome.enrollment_id is not None


async def test_already_enrolled_async(
    unify_sandbox: UnifySandbox, async_unify_client: AsyncUnifyClient
) -> None:
    unify_sandbox.fail(ENROLL, error="already_enrolled")
    outcome = await service.aenroll_unify_lead(async_unify_client, *lead(unify_sandbox))
    assert outcome.status == "already_enrolled" and outcome.enrollment_id is not None


# --- Boast: the access token expires (refreshed), or the grant is refused -------------------
def test_boast_token_expiry_is_refreshed(
    boast_sandbox: BoastSandbox, boast_client: BoastClient
) -> None:
    (contact,) = boast_sandbox.contacts()
    boast_sandbox.fail(ENROLL, error="token_expired")
    outcome = service.enroll_boast_contact(boast_client, contact, boast_sandbox.sequence())
    assert outcome.status == "enrolled"
    assert len(boast_sandbox.requests(operation="create_token")) == 1
    assert boast_sandbox.active_enrollments(contact) == 1


async def test_boast_token_expiry_is_refreshed_async(
    boast_sandbox: BoastSandbox, async_boast_client: AsyncBoastClient
) -> None:
    (contact,) = boast_sandbox.contacts()
    boast_sandbox.fail(ENROLL, error="token_expired")
    outcome = await service.aenroll_boast_contact(
        async_boast_client, contact, boast_sandbox.sequence()
    )
    assert outcome.status == "enrolled"
    assert len(boast_sandbox.requests(operation="create_token")) == 1


def test_boast_invalid_grant_asks_for_sign_in(
    boast_sandbox: BoastSandbox, boast_client: BoastClient
) -> None:
    (contact,) = boast_sandbox.contacts()
    boast_sandbox.fail(ENROLL, error="token_expired")
    boast_sandbox.fail("create_token", error="invalid_grant")
    outcome = service.enroll_boast_contact(boast_client, contact, boast_sandbox.sequence())
    assert outcome.status == "needs_reauthorization"
    assert boast_sandbox.active_enrollments(contact) == 0


async def test_boast_invalid_grant_asks_for_sign_in_async(
    boast_sandbox: BoastSandbox, async_boast_client: AsyncBoastClient
) -> None:
    (contact,) = boast_sandbox.contacts()
    boast_sandbox.fail(ENROLL, error="token_expired")
    boast_sandbox.fail("create_token", error="invalid_grant")
    outcome = await service.aenroll_boast_contact(
        async_boast_client, contact, boast_sandbox.sequence()
    )
    assert outcome.status == "needs_reauthorization"


# --- paging over 250 items ------------------------------------------------------------------
def test_counts_every_page(unify_sandbox: UnifySandbox, unify_client: UnifyClient) -> None:
    sequence = unify_sandbox.sequence()
    enrolled = unify_sandbox.enroll(250, sequence)
    assert service.count_in_sequence(unify_client, sequence) == len(enrolled)
    assert len(unify_sandbox.requests(operation="list_sequence_enrollments")) > 1


async def test_counts_every_page_async(
    unify_sandbox: UnifySandbox, async_unify_client: AsyncUnifyClient
) -> None:
    sequence = unify_sandbox.sequence()
    enrolled = unify_sandbox.enroll(250, sequence)
    assert await service.acount_in_sequence(async_unify_client, sequence) == len(enrolled)


# --- configured from the environment, as deployed -------------------------------------------
def test_clients_from_environment_reach_the_sandbox(
    served_sandbox: ServedSandbox, unify_sandbox: UnifySandbox, boast_sandbox: BoastSandbox
) -> None:
    unify, boast = service.clients_from_environment()
    with unify, boast:
        outcome = service.enroll_unify_lead(unify, *lead(unify_sandbox))
        assert outcome.status == "enrolled"
        assert str(boast.get_account().id) == boast_sandbox.account_id
    assert unify_sandbox.requests(operation=ENROLL)[0].status == 201
