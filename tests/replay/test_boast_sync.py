"""BoastClient, every public method, OAuth refresh and rotation, error classes and retry
paths, replayed from cassettes. Every test starts with an expired access token, so its first
request is a refresh grant (see replay_support)."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from replay_support import UNKNOWN_ID, BoastEnv, ListStore, Session, sandbox_only

from sequence_clients import BoastClient, errors
from sequence_clients.generated.boast.models import Account, Contact, SequenceEnrollment
from sequence_clients.generated.boast.models import Sequence as BoastSequence
from sequence_clients.sandbox import FaultConfig

pytestmark = pytest.mark.vcr
MakeBoast = Callable[..., BoastClient]


def test_enroll_get_list_remove(make_boast: MakeBoast, boast_env: BoastEnv) -> None:
    boast = make_boast()
    created = boast.enroll(boast_env.contacts[0], boast_env.sequence_id)

    assert isinstance(created, SequenceEnrollment) and created.status == "active"
    assert str(created.contact_id) == boast_env.contacts[0]
    assert boast.get_enrollment(created.id).id == created.id
    listed = list(boast.list_enrollments(contact_id=boast_env.contacts[0], status="active"))
    assert [e.id for e in listed] == [created.id]
    assert boast.remove_enrollment(str(created.id)).status == "removed"


def test_accounts_sequences_contacts(make_boast: MakeBoast, boast_env: BoastEnv) -> None:
    boast = make_boast()
    accounts = list(boast.list_accounts())
    sequences = list(boast.list_sequences())
    first_page = next(iter(boast.list_contacts().pages()))

    assert all(isinstance(a, Account) for a in accounts)
    assert boast_env.account_id in {str(a.id) for a in accounts}
    assert all(isinstance(s, BoastSequence) for s in sequences)
    assert boast_env.sequence_id in {str(s.id) for s in sequences}
    assert first_page.items and all(isinstance(c, Contact) for c in first_page.items)


def test_create_contact(make_boast: MakeBoast) -> None:
    contact = make_boast().create_contact(
        email="replay.test@example.org", first_name="Replay", last_name="Test"
    )
    assert isinstance(contact, Contact) and contact.email == "replay.test@example.org"


def test_with_options_shares_the_rotating_token(make_boast: MakeBoast) -> None:
    store = ListStore(live=False)
    boast = make_boast(store=store)
    patient = boast.with_options(max_retries=7)
    try:
        assert list(patient.list_accounts())
        assert list(boast.list_accounts())  # no second refresh: the copy shares the token
    finally:
        patient.close()
    assert len(store.saved) == 1


# --- OAuth -----------------------------------------------------------------------------------
def test_expired_token_refreshes_and_saves_the_rotated_refresh_token(
    make_boast: MakeBoast, boast_env: BoastEnv
) -> None:
    store = ListStore(live=False)
    boast = make_boast(store=store)

    assert list(boast.list_accounts())

    [saved] = store.saved
    assert saved.refresh_token and saved.refresh_token != boast_env.refresh_token
    assert saved.access_token != "expired-access-token-never-sent"


def test_401_refreshes_once_and_replays_with_the_new_token(
    make_boast: MakeBoast, boast_env: BoastEnv
) -> None:
    """A token Boast refuses (the sandbox does not know it) but that is not yet expired: the
    401 triggers one refresh; the replayed request carries the new token. The cassette matches
    on the (scrubbed) Authorization header, so replay proves which token each request used."""
    import datetime as dt

    store = ListStore(live=False)
    boast = make_boast(
        store=store,
        access_token="refused-access-token-for-the-401-test",
        expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1),
    )

    assert list(boast.list_accounts())

    [saved] = store.saved
    assert saved.refresh_token != boast_env.refresh_token
    if not boast_env.session.recording:
        assert saved.access_token == "REDACTED-ACCESS-TOKEN-2"  # -1 is the refused one
        assert saved.refresh_token == "REDACTED-REFRESH-TOKEN-2"


def test_refused_refresh_is_an_authentication_error(
    make_boast: MakeBoast, boast_env: BoastEnv
) -> None:
    boast = make_boast(client_secret="not-the-client-secret-for-this-test", max_retries=0)
    with pytest.raises(errors.AuthenticationError) as raised:
        list(boast.list_accounts())
    assert raised.value.status_code in (400, 401) and raised.value.codes
    assert "not-the-client-secret" not in str(raised.value)


# --- error classes ---------------------------------------------------------------------------
def test_422_already_enrolled_raises_or_returns_existing(
    make_boast: MakeBoast, boast_env: BoastEnv
) -> None:
    boast = make_boast()
    first = boast.enroll(boast_env.contacts[1], boast_env.sequence_id)

    with pytest.raises(errors.AlreadyEnrolledError) as raised:
        boast.enroll(boast_env.contacts[1], boast_env.sequence_id)
    again = boast.enroll(
        boast_env.contacts[1], boast_env.sequence_id, on_conflict="return_existing"
    )

    assert raised.value.status_code == 422 and raised.value.active_enrollment_id == str(first.id)
    assert again.id == first.id
    boast.remove_enrollment(first.id)


def test_404_is_not_found(make_boast: MakeBoast) -> None:
    with pytest.raises(errors.NotFoundError) as raised:
        make_boast(max_retries=0).get_enrollment(UNKNOWN_ID)
    assert raised.value.status_code == 404 and raised.value.message


def test_unknown_contact_is_a_bad_request(make_boast: MakeBoast, boast_env: BoastEnv) -> None:
    with pytest.raises(errors.APIStatusError) as raised:
        make_boast(max_retries=0).enroll(UNKNOWN_ID, boast_env.sequence_id)
    assert raised.value.status_code in (404, 422) and raised.value.message


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
def test_fault_error_classes(
    session: Session,
    make_boast: MakeBoast,
    fault: FaultConfig,
    error_class: type[errors.SequenceClientError],
    broken: str | None,
) -> None:
    # The refresh grant goes first, on the token client: the armed fault hits the API call.
    boast = make_boast(fault=fault, max_retries=0)
    with pytest.raises(error_class) as raised:
        list(boast.list_sequences())
    if broken:
        session.mark_broken(broken)
    elif isinstance(raised.value, errors.ServerError) and raised.value.status_code != 500:
        session.mark_broken(f"server_error fault: {raised.value.status_code}, undocumented")
    if isinstance(raised.value, errors.RateLimitError):
        assert raised.value.retry_after == 2.0


# --- retry paths -----------------------------------------------------------------------------
@sandbox_only
def test_429_with_retry_after_then_success(
    session: Session, make_boast: MakeBoast, sleeps: list[float]
) -> None:
    burst = FaultConfig(rate_limit_burst=1.0, burst_length=1, burst_retry_after=3)
    assert list(make_boast(fault=burst).list_sequences())
    assert sleeps == [3.0]


def test_reset_after_commit_finds_the_enrollment_instead_of_creating_another(
    make_boast: MakeBoast, boast_env: BoastEnv, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="sequence_clients")
    boast = make_boast(reset_after_commit=True)

    enrollment = boast.enroll(boast_env.contacts[2], boast_env.sequence_id)

    assert str(enrollment.contact_id) == boast_env.contacts[2]
    active = list(boast.list_enrollments(contact_id=boast_env.contacts[2], status="active"))
    assert [e.id for e in active] == [enrollment.id], "exactly one enrollment, ours"
    boast.remove_enrollment(enrollment.id)
