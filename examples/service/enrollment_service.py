"""A small service using both clients: it enrolls new leads in an outreach sequence, at Unify
or at Boast, and counts who is in a sequence. Its tests (tests/) use only the pytest plugin of
`sequence-clients[testing]`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sequence_clients import (
    AsyncBoastClient,
    AsyncUnifyClient,
    BoastClient,
    UnifyClient,
    errors,
)

Status = Literal["enrolled", "already_enrolled", "needs_reauthorization"]


@dataclass(frozen=True)
class Outcome:
    status: Status
    enrollment_id: str | None = None


def clients_from_environment() -> tuple[UnifyClient, BoastClient]:
    """Both clients configured by UNIFY_* and BOAST_* (as deployed)."""
    return UnifyClient(), BoastClient()


def enroll_unify_lead(
    unify: UnifyClient, sequence_id: str, person_id: str, mailbox: str
) -> Outcome:
    try:
        enrollment = unify.enroll(sequence_id, person_id, mailbox_emails=[mailbox])
    except errors.AlreadyEnrolledError as conflict:
        return Outcome("already_enrolled", conflict.active_enrollment_id)
    return Outcome("enrolled", str(enrollment.id))


async def aenroll_unify_lead(
    unify: AsyncUnifyClient, sequence_id: str, person_id: str, mailbox: str
) -> Outcome:
    try:
        enrollment = await unify.enroll(sequence_id, person_id, mailbox_emails=[mailbox])
    except errors.AlreadyEnrolledError as conflict:
        return Outcome("already_enrolled", conflict.active_enrollment_id)
    return Outcome("enrolled", str(enrollment.id))


def enroll_boast_contact(boast: BoastClient, contact_id: str, sequence_id: str) -> Outcome:
    try:
        enrollment = boast.enroll(contact_id, sequence_id)
    except errors.AlreadyEnrolledError as conflict:
        return Outcome("already_enrolled", conflict.active_enrollment_id)
    except errors.AuthenticationError:
        # The grant is gone (revoked, or the refresh token refused): a person must sign in again.
        return Outcome("needs_reauthorization")
    return Outcome("enrolled", str(enrollment.id))


async def aenroll_boast_contact(
    boast: AsyncBoastClient, contact_id: str, sequence_id: str
) -> Outcome:
    try:
        enrollment = await boast.enroll(contact_id, sequence_id)
    except errors.AlreadyEnrolledError as conflict:
        return Outcome("already_enrolled", conflict.active_enrollment_id)
    except errors.AuthenticationError:
        return Outcome("needs_reauthorization")
    return Outcome("enrolled", str(enrollment.id))


def count_in_sequence(unify: UnifyClient, sequence_id: str) -> int:
    """People actively in the sequence: every page of the listing."""
    return sum(1 for _ in unify.list_enrollments(sequence_id=sequence_id, status=["IN_PROGRESS"]))


async def acount_in_sequence(unify: AsyncUnifyClient, sequence_id: str) -> int:
    listing = unify.list_enrollments(sequence_id=sequence_id, status=["IN_PROGRESS"])
    return sum([1 async for _ in listing])
