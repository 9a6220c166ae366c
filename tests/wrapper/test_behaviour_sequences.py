"""Sequence operations, deadlines and the smaller client promises as a user meets them. Each test
pins behaviour that mutation testing (`make mutation`) found no other fast test exercising: the
Unify sequence methods of both twins (against the in-process sandbox), a call's overall deadline,
ids refused by name, errors that survive pickling, Boast accounts and option copies.
"""

from __future__ import annotations

import pickle
import time
import uuid

import httpx
import pytest
from virtual_clock import VirtualClock, drive_plans_with
from waits import record_waits

from sequence_clients import AsyncUnifyClient, BoastClient, RetryPolicy, UnifyClient, errors
from sequence_clients.sandbox import Sandbox


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every wait the client takes, in seconds, instead of taking it."""
    return record_waits(monkeypatch)


def a_live_sequence(sandbox: Sandbox) -> str:
    return str(sandbox.unify.live_sequences()[0]["id"])


def test_sequence_lifecycle_and_steps(sandbox: Sandbox) -> None:
    sequence_id = a_live_sequence(sandbox)
    with UnifyClient(sandbox.unify_api_key, base_url=sandbox.unify_base_url) as unify:
        assert str(unify.get_sequence(sequence_id).id) == sequence_id
        paused = unify.pause_sequence(sequence_id)
        assert str(paused.id) == sequence_id and paused.is_paused is True
        assert unify.get_sequence(sequence_id).is_paused is True
        assert unify.resume_sequence(sequence_id).is_paused is False
        steps = list(unify.list_sequence_steps(sequence_id, page_size=1))
        assert steps, "every sandbox sequence has steps"
        kinds = {step.type_ for step in steps}
        only = next(iter(kinds))
        picked = list(unify.list_sequence_steps(sequence_id, types=[only]))
        assert picked and {step.type_ for step in picked} == {only}
        deleted = unify.delete_sequence(sequence_id)
        assert str(deleted.id) == sequence_id and deleted.is_deleted is True
        with pytest.raises(errors.NotFoundError):
            unify.get_sequence(sequence_id)


async def test_async_sequence_lifecycle_and_steps(sandbox: Sandbox) -> None:
    sequence_id = a_live_sequence(sandbox)
    async with AsyncUnifyClient(sandbox.unify_api_key, base_url=sandbox.unify_base_url) as unify:
        assert str((await unify.get_sequence(sequence_id)).id) == sequence_id
        assert (await unify.pause_sequence(sequence_id)).is_paused is True
        assert (await unify.resume_sequence(sequence_id)).is_paused is False
        steps = [s async for s in unify.list_sequence_steps(sequence_id, page_size=1)]
        only = steps[0].type_
        picked = [s async for s in unify.list_sequence_steps(sequence_id, types=[only])]
        assert picked and {s.type_ for s in picked} == {only}
        assert (await unify.delete_sequence(sequence_id)).is_deleted is True


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
    assert str(raised.value) == f"{name} must be a UUID, got 'not-a-uuid'"


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


# --- deadlines ----------------------------------------------------------------------------


def always(status: int, retry_after: str) -> httpx.Client:
    answer = httpx.Response(status, headers={"Retry-After": retry_after})
    return httpx.Client(transport=httpx.MockTransport(lambda request: answer))


def test_a_deadline_stops_retries_that_would_outlast_it(slept: list[float]) -> None:
    unify = UnifyClient("key", httpx_client=always(503, "5"), deadline=2.0)
    with unify, pytest.raises(errors.DeadlineExceededError) as raised:
        list(unify.list_sequences())
    error = raised.value
    message = str(error)
    assert message.startswith("GET ") and "/sequences/v1/sequences" in message
    assert message.endswith(": deadline of 2s reached (retries and back-off included)")
    assert error.method == "GET" and "/sequences/v1/sequences" in error.url
    assert slept == []  # a 5 s wait cannot fit in 2 s: raised at once, not slept through
    assert isinstance(error, errors.APITimeoutError)


def test_a_deadline_after_an_ambiguous_create_says_it_may_have_been_applied() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        time.sleep(0.03)  # the create reached Unify; the answer is lost
        raise httpx.ReadError("reset", request=request)

    http = httpx.Client(transport=httpx.MockTransport(handle))
    quick = RetryPolicy(base_delay=0.001, max_delay=0.002)
    unify = UnifyClient("key", httpx_client=http, deadline=0.1, retry_policy=quick)
    with unify, pytest.raises(errors.DeadlineExceededError) as raised:
        unify.enroll(uuid.uuid4(), uuid.uuid4(), mailbox_emails=["rep@acme.example"])
    assert raised.value.maybe_applied is True
    assert raised.value.method == "POST"


def test_a_conflict_answered_as_the_deadline_runs_out_sends_no_lookup(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """return_existing looks the active enrollment up after a 409; when the 409 itself used the
    last of the deadline, that lookup is not sent."""
    clock = drive_plans_with(monkeypatch, VirtualClock())
    sequence, person = uuid.uuid4(), uuid.uuid4()
    sent: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        sent.append(request.method)
        clock.now += 2.0  # the answer arrives exactly as the 2 s deadline ends
        conflict = {"message": "already enrolled", "active_enrollment_id": str(uuid.uuid4()),
                    "active_sequence_id": str(sequence)}  # fmt: skip
        return httpx.Response(409, json=conflict)

    http = httpx.Client(transport=httpx.MockTransport(handle))
    unify = UnifyClient("key", httpx_client=http, deadline=2.0)
    with unify, pytest.raises(errors.DeadlineExceededError):
        unify.enroll(
            sequence, person, mailbox_emails=["rep@acme.example"], on_conflict="return_existing"
        )
    assert sent == ["POST"]


@pytest.mark.parametrize("deadline", [0, -1.5])
def test_a_deadline_must_be_positive(deadline: float) -> None:
    with pytest.raises(errors.InvalidRequestError, match="deadline must be a positive number"):
        UnifyClient("key", deadline=deadline)


# --- errors travel between processes ------------------------------------------------------


def test_typed_errors_survive_pickling_with_their_fields() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, json={"status": "rate_limited", "message": "slow down"}, headers={"Retry-After": "7"})  # fmt: skip

    http = httpx.Client(transport=httpx.MockTransport(handle))
    with (
        UnifyClient("key", httpx_client=http, max_retries=0) as unify,
        pytest.raises(errors.RateLimitError) as raised,
    ):
        list(unify.list_sequences())
    copy = pickle.loads(pickle.dumps(raised.value))
    assert type(copy) is errors.RateLimitError
    assert str(copy) == str(raised.value)
    assert (copy.status_code, copy.retry_after, copy.message) == (429, 7, "slow down")
    job = pickle.loads(pickle.dumps(errors.BulkJobError("j1", "EXPIRED", None)))
    assert (str(job), job.job_id, job.status, job.error_code) == (
        "bulk job j1 ended EXPIRED",
        "j1",
        "EXPIRED",
        None,
    )


# --- Boast accounts and option copies -----------------------------------------------------


def test_get_account_reads_the_clients_account(sandbox: Sandbox) -> None:
    state = sandbox.boast
    pair = state.issue_token()
    account = state.account_ids[0]
    with BoastClient(
        account_id=account, access_token=pair.access_token, base_url=sandbox.boast_base_url
    ) as boast:
        assert str(boast.get_account().id) == str(account)


def test_an_option_copy_with_a_new_access_token_uses_it() -> None:
    bearers: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        bearers.append(request.headers["authorization"])
        return httpx.Response(200, json={"data": []})

    http = httpx.Client(transport=httpx.MockTransport(handle))
    own = httpx.Client(transport=httpx.MockTransport(handle))
    with BoastClient(account_id=uuid.uuid4(), access_token="first", httpx_client=http) as boast:
        list(boast.with_options(access_token="second", httpx_client=own).list_sequences())
        list(boast.with_options(max_retries=0).list_sequences())
        list(boast.list_sequences())
    assert bearers == ["Bearer second", "Bearer first", "Bearer first"]
