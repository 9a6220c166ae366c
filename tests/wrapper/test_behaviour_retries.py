"""Retries as a user meets them: who gets enrolled, how long the client waits, what it says.

Each test pins one promise of the README that mutation testing (`make mutation`) showed no other
test held. A scripted Unify (httpx.MockTransport) decides, request by request, whether the
create was applied and what the client hears back; `time.sleep` is replaced by a recorder, so a
120-second Retry-After costs nothing and the waits are read exactly.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from waits import record_waits

from sequence_clients import AsyncUnifyClient, RetryPolicy, UnifyClient, errors

SEQUENCE, OTHER_SEQUENCE = str(uuid.uuid4()), str(uuid.uuid4())
PERSON = str(uuid.uuid4())
MAILBOX = "rep@acme.example"
NOW = "2026-11-24T10:00:00Z"


def enrollment(enrollment_id: str, sequence_id: str, person_id: str) -> dict[str, Any]:
    return {
        "id": enrollment_id, "created_at": NOW, "updated_at": NOW,
        "sequence": {"id": sequence_id, "name": "s", "is_paused": False},
        "person": {"id": person_id, "email": "p@x.com", "first_name": None, "last_name": None, "linkedin_url": None},
        "mailbox": {"id": str(uuid.uuid4()), "email": MAILBOX, "display_name": None, "is_paused": False, "is_unauthorized": False},
        "enrolled_by_play": None, "reply_email_message": None, "status": "IN_PROGRESS",
        "is_blocked": False, "is_bounced": False, "is_canceled": False, "is_excluded": False,
        "is_opted_out": False, "is_paused": False, "is_replied": False, "started_at": None, "ended_at": None,
    }  # fmt: skip


class ScriptedUnify:
    """Unify's enroll and get, one active enrollment per person, with the fate of each POST
    scripted: "ok", "refuse" (connection refused: never arrived), "commit-then-500" and
    "commit-then-reset" (applied, but the answer is lost)."""

    def __init__(self, *fates: str) -> None:
        self.fates = list(fates)
        self.active: dict[str, dict[str, Any]] = {}  # person id -> enrollment
        self.created = 0
        self.requests: list[httpx.Request] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.method == "GET":
            wanted = request.url.path.rsplit("/", 1)[-1]
            found = [e for e in self.active.values() if e["id"] == wanted]
            return httpx.Response(200, json=found[0]) if found else httpx.Response(404, json={})
        fate = self.fates.pop(0) if self.fates else "ok"
        if fate == "refuse":
            raise httpx.ConnectError("connection refused", request=request)
        body = json.loads(request.content)
        person, sequence = str(body["person_id"]), str(body["sequence_id"])
        held = self.active.get(person)
        if held is not None:
            return httpx.Response(
                409,
                json={
                    "status": "conflict",
                    "message": f"Person {person} is already enrolled in an active sequence",
                    "active_sequence_id": held["sequence"]["id"],
                    "active_enrollment_id": held["id"],
                },
            )
        created = enrollment(str(uuid.uuid4()), sequence, person)
        self.active[person] = created
        self.created += 1
        if fate == "commit-then-500":
            return httpx.Response(500, json={"status": "internal", "message": "try again"})
        if fate == "commit-then-reset":
            raise httpx.ReadError("connection reset by peer", request=request)
        return httpx.Response(201, json=created)

    def someone_else_enrolled(self, sequence_id: str) -> str:
        """Another integration enrolled PERSON first; the id of that enrollment."""
        other = enrollment(str(uuid.uuid4()), sequence_id, PERSON)
        self.active[PERSON] = other
        return str(other["id"])

    def posts(self) -> int:
        return sum(1 for r in self.requests if r.method == "POST")


def unify_on(
    server: ScriptedUnify | Callable[[httpx.Request], httpx.Response], **options: Any
) -> UnifyClient:
    handler = server.handle if isinstance(server, ScriptedUnify) else server
    http = httpx.Client(transport=httpx.MockTransport(handler))
    return UnifyClient("secret-key-123", httpx_client=http, **options)


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every wait the client takes, in seconds, instead of taking it."""
    return record_waits(monkeypatch)


# --- who gets enrolled --------------------------------------------------------------------


def test_a_committed_500_then_409_is_our_own_enrollment(slept: list[float]) -> None:
    server = ScriptedUnify("commit-then-500")
    with unify_on(server) as unify:
        enrolled = unify.enroll(SEQUENCE, PERSON, mailbox_emails=[MAILBOX])
    assert server.created == 1
    assert str(enrolled.id) == server.active[PERSON]["id"]


def test_a_reset_after_commit_then_409_is_our_own_enrollment(slept: list[float]) -> None:
    server = ScriptedUnify("commit-then-reset")
    with unify_on(server) as unify:
        enrolled = unify.enroll(SEQUENCE, PERSON, mailbox_emails=[MAILBOX])
    assert server.created == 1 and str(enrolled.id) == server.active[PERSON]["id"]


def test_a_refused_connection_never_makes_someone_elses_enrollment_ours(
    slept: list[float],
) -> None:
    """The refused attempt never reached Unify, so the 409 of the retry is a real conflict:
    another integration's enrollment, which on_conflict="raise" must not hand back."""
    server = ScriptedUnify("refuse")
    theirs = server.someone_else_enrolled(SEQUENCE)
    with unify_on(server) as unify, pytest.raises(errors.AlreadyEnrolledError) as raised:
        unify.enroll(SEQUENCE, PERSON, mailbox_emails=[MAILBOX])
    assert raised.value.active_enrollment_id == theirs
    assert server.posts() == 2


async def test_async_committed_500_then_409_is_our_own_enrollment(slept: list[float]) -> None:
    server = ScriptedUnify("commit-then-500")
    http = httpx.AsyncClient(transport=httpx.MockTransport(server.handle))
    async with AsyncUnifyClient("secret-key-123", httpx_client=http) as unify:
        enrolled = await unify.enroll(SEQUENCE, PERSON, mailbox_emails=[MAILBOX])
    assert server.created == 1 and str(enrolled.id) == server.active[PERSON]["id"]
    await http.aclose()


def test_a_conflict_in_another_sequence_is_raised_even_after_our_ambiguous_attempt(
    slept: list[float],
) -> None:
    server = ScriptedUnify("refuse")
    server.someone_else_enrolled(OTHER_SEQUENCE)
    with unify_on(server) as unify, pytest.raises(errors.AlreadyEnrolledError) as raised:
        unify.enroll(SEQUENCE, PERSON, mailbox_emails=[MAILBOX], on_conflict="return_existing")
    assert raised.value.active_sequence_id == OTHER_SEQUENCE


# --- how long it waits --------------------------------------------------------------------


def answering(
    *responses: httpx.Response,
) -> tuple[Callable[[httpx.Request], httpx.Response], list[httpx.Request]]:
    """A server giving `responses` in turn, then 200 with an empty sequence list."""
    queue, seen = list(responses), []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return (
            queue.pop(0)
            if queue
            else httpx.Response(200, json={"sequences": [], "next_cursor": None})
        )

    return handle, seen


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_documented_transient_statuses_are_retried(status: int, slept: list[float]) -> None:
    handle, seen = answering(httpx.Response(status))
    with unify_on(handle) as unify:
        assert list(unify.list_sequences()) == []
    assert len(seen) == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 407, 409, 422, 428, 430, 501, 505])
def test_other_statuses_are_raised_at_once(status: int, slept: list[float]) -> None:
    handle, seen = answering(*[httpx.Response(status)] * 5)
    with unify_on(handle) as unify, pytest.raises(errors.APIStatusError) as raised:
        list(unify.list_sequences())
    assert raised.value.status_code == status
    assert len(seen) == 1 and slept == []


@pytest.mark.parametrize(("seconds", "retried"), [(120, True), (121, False)])
def test_retry_after_up_to_two_minutes_is_waited_out(
    seconds: int, retried: bool, slept: list[float]
) -> None:
    handle, seen = answering(httpx.Response(429, headers={"Retry-After": str(seconds)}))
    with unify_on(handle) as unify:
        if retried:
            assert list(unify.list_sequences()) == []
        else:
            with pytest.raises(errors.RateLimitError):
                list(unify.list_sequences())
    assert slept == ([seconds] if retried else [])
    assert len(seen) == (2 if retried else 1)


def test_retry_after_zero_retries_without_waiting(slept: list[float]) -> None:
    handle, seen = answering(httpx.Response(503, headers={"Retry-After": "0"}))
    with unify_on(handle) as unify:
        list(unify.list_sequences())
    assert slept == [0] and len(seen) == 2


def test_retry_after_as_an_http_date_is_waited_until(slept: list[float]) -> None:
    when = email.utils.formatdate(time.time() + 40, usegmt=True)
    handle, seen = answering(httpx.Response(429, headers={"Retry-After": when}))
    with unify_on(handle) as unify:
        list(unify.list_sequences())
    assert len(seen) == 2 and len(slept) == 1
    assert 38 <= slept[0] <= 40


def test_backoff_doubles_from_base_delay_up_to_max_delay(
    slept: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Full jitter draws each wait from [0, base_delay * 2**n], capped at max_delay: with the
    draw pinned to its top, the waits are that ceiling itself."""
    monkeypatch.setattr(random, "uniform", lambda low, high: high)
    handle, _ = answering(*[httpx.Response(503)] * 5)
    policy = RetryPolicy(base_delay=0.25, max_delay=1.5)
    with unify_on(handle, retry_policy=policy, max_retries=5) as unify:
        list(unify.list_sequences())
    assert slept == [0.25, 0.5, 1.0, 1.5, 1.5]


def test_the_callers_retry_policy_is_the_one_applied(slept: list[float]) -> None:
    handle, seen = answering(httpx.Response(429, headers={"Retry-After": "10"}))
    strict = RetryPolicy(max_retry_after=5)
    with unify_on(handle, retry_policy=strict) as unify, pytest.raises(errors.RateLimitError):
        list(unify.list_sequences())
    assert len(seen) == 1 and slept == []


def test_max_retries_bounds_the_attempts(slept: list[float]) -> None:
    handle, seen = answering(*[httpx.Response(503)] * 10)
    with unify_on(handle, max_retries=2) as unify, pytest.raises(errors.ServerError):
        list(unify.list_sequences())
    assert len(seen) == 3 and len(slept) == 2


# --- what it says -------------------------------------------------------------------------


def test_errors_and_retry_logs_name_the_method_url_and_reason(
    slept: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="sequence_clients")
    server = ScriptedUnify("refuse", "refuse")
    with (
        unify_on(server, max_retries=1) as unify,
        pytest.raises(errors.APIConnectionError) as raised,
    ):
        unify.enroll(SEQUENCE, PERSON, mailbox_emails=[MAILBOX])
    message = str(raised.value)
    assert "POST" in message and "/enrollments" in message and "ConnectError" in message
    assert raised.value.method == "POST"
    ours = [r for r in caplog.records if r.name == "sequence_clients"]
    (retry,) = [r for r in ours if vars(r).get("event") == "sequence_clients.retry"]
    (gave_up,) = [r for r in ours if vars(r).get("event") == "sequence_clients.gave_up"]
    assert vars(gave_up)["error_type"] == "APIConnectionError" and vars(gave_up)["attempts"] == 2
    logged = retry.getMessage()
    assert logged.startswith("retrying POST ") and "/enrollments" in logged
    assert "attempt 1 failed (APIConnectionError)" in logged
    assert vars(retry)["method"] == "POST" and vars(retry)["reason"] == "APIConnectionError"
    assert "secret-key-123" not in logged + message


def test_a_status_error_names_its_status_in_the_retry_log(
    slept: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="sequence_clients")
    handle, _ = answering(httpx.Response(503, json={"status": "unavailable", "message": "busy"}))
    with unify_on(handle) as unify:
        list(unify.list_sequences())
    (retry,) = [r for r in caplog.records if vars(r).get("event") == "sequence_clients.retry"]
    assert "(ServerError 503)" in retry.getMessage()
    assert retry.getMessage().startswith("retrying GET https://api.unifygtm.com/")
