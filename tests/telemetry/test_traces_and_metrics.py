"""What an operator sees of a call in OpenTelemetry: one span per call, a CLIENT span per attempt
(HTTP client semantic conventions), events for the decisions, and the metrics — read back with
the SDK's in-memory exporter and metric reader."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import otel_capture
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode
from twin_harness import ASYNC, SYNC, Twin, settle
from virtual_clock import VirtualClock, drive_plans_and_limits_with, drive_plans_with, fresh_limit

from sequence_clients import AsyncUnifyClient, RetryPolicy, UnifyClient, _telemetry, errors
from sequence_clients.generated.unify.api.sequence_enrollments import (
    create_sequence_enrollment,
    get_sequence_enrollment,
)
from sequence_clients.generated.unify.models import CreateEnrollmentRequest

API_KEY = "sk_telemetry_canary_0123456789abcdef"
ENROLLMENT_ID = uuid.UUID("00000000-0000-4000-8000-00000000e001")
SEQUENCE_ID = uuid.UUID("00000000-0000-4000-8000-00000000500e")
PERSON_ID = uuid.UUID("00000000-0000-4000-8000-0000000000b1")
Handler = Callable[[httpx.Request], httpx.Response]


def enrollment() -> dict[str, object]:
    now = "2026-11-24T10:00:00Z"
    return {
        "id": str(ENROLLMENT_ID), "created_at": now, "updated_at": now,
        "sequence": {"id": str(SEQUENCE_ID), "name": "s", "is_paused": False},
        "person": {"id": str(PERSON_ID), "email": "p@x.com", "first_name": None, "last_name": None, "linkedin_url": None},
        "mailbox": {"id": str(uuid.uuid4()), "email": "m@x.com", "display_name": None, "is_paused": False, "is_unauthorized": False},
        "enrolled_by_play": None, "reply_email_message": None, "status": "IN_PROGRESS",
        "is_blocked": False, "is_bounced": False, "is_canceled": False, "is_excluded": False,
        "is_opted_out": False, "is_paused": False, "is_replied": False, "started_at": None, "ended_at": None,
    }  # fmt: skip


@pytest.fixture
def capture() -> tuple[Any, Any]:
    return otel_capture.installed()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> VirtualClock:
    return drive_plans_with(monkeypatch, VirtualClock())


def scripted(*answers: httpx.Response) -> tuple[Handler, list[httpx.Request]]:
    queue: Iterator[httpx.Response] = iter(answers)
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return next(queue)

    return handle, seen


def unify_on(handle: Handler, **options: Any) -> UnifyClient:
    http = httpx.Client(transport=httpx.MockTransport(handle))
    policy = RetryPolicy(base_delay=0.01, max_delay=0.05)
    return UnifyClient(API_KEY, httpx_client=http, retry_policy=policy, **options)


@pytest.fixture(params=[SYNC, ASYNC], ids=lambda twin: twin.name)
def twin(request: pytest.FixtureRequest) -> Twin:
    """The sync client, then the async one (tests/wrapper/twin_harness.py)."""
    return request.param  # type: ignore[no-any-return]


def by_kind(spans: tuple[ReadableSpan, ...]) -> tuple[list[ReadableSpan], list[ReadableSpan]]:
    calls = [s for s in spans if s.kind == SpanKind.INTERNAL]
    attempts = [s for s in spans if s.kind == SpanKind.CLIENT]
    return calls, attempts


def total(reader: Any, name: str, field: str = "value") -> float:
    return sum(getattr(point, field) for point in otel_capture.points(reader).get(name, []))


def test_503_then_429_then_200_is_one_call_span_with_three_attempts(
    capture: tuple[Any, Any], clock: VirtualClock
) -> None:
    exporter, reader = capture
    retries_before = total(reader, "sequence_clients.retries")
    limited_before = total(reader, "sequence_clients.rate_limited")
    requests_before = total(reader, "http.client.request.duration", "count")
    handle, seen = scripted(
        httpx.Response(503, json={"status": "unavailable", "message": "busy"}),
        httpx.Response(429, headers={"retry-after": "1"}, json={"status": "rate_limited"}),
        httpx.Response(200, json=enrollment()),
    )
    with unify_on(handle) as unify:
        assert unify.get_enrollment(ENROLLMENT_ID).id == ENROLLMENT_ID

    calls, attempts = by_kind(exporter.get_finished_spans())
    (call,) = calls
    assert call.name == get_sequence_enrollment.operation(ENROLLMENT_ID).operation_id
    assert len(attempts) == len(seen) == 3
    assert {a.parent.span_id for a in attempts if a.parent} == {call.context.span_id}
    template = get_sequence_enrollment.operation(ENROLLMENT_ID).url_template
    for attempt, request, status in zip(attempts, seen, (503, 429, 200), strict=True):
        attributes = dict(attempt.attributes or {})
        assert attempt.name == f"GET {template}"
        assert attributes["http.request.method"] == "GET"
        assert attributes["server.address"] == request.url.host
        assert attributes["server.port"] == 443
        assert attributes["url.full"] == str(request.url)
        assert attributes["url.template"] == template
        assert attributes["http.response.status_code"] == status
        assert attributes.get("error.type") == (None if status == 200 else str(status))
    resends = [dict(a.attributes or {}).get("http.request.resend_count") for a in attempts]
    assert resends == [None, 1, 2]
    pauses = [e for e in call.events if e.name == _telemetry.PAUSE]
    assert [dict(p.attributes or {})["seconds"] for p in pauses] == [1.0]
    assert [e.name for e in call.events].count(_telemetry.RETRY) == 2
    assert total(reader, "sequence_clients.retries") - retries_before == 2
    assert total(reader, "sequence_clients.rate_limited") - limited_before == 1
    assert total(reader, "http.client.request.duration", "count") - requests_before == 3
    assert unify.stats.snapshot().attempts == 3 and unify.stats.retries == 2
    assert unify.stats.rate_limited == 1


def test_a_resolved_conflict_is_an_event_a_log_line_and_a_count(
    capture: tuple[Any, Any], clock: VirtualClock, caplog: pytest.LogCaptureFixture
) -> None:
    exporter, _ = capture
    caplog.set_level(logging.INFO, logger="sequence_clients")
    conflict = {
        "status": "conflict",
        "message": "already enrolled",
        "active_enrollment_id": str(ENROLLMENT_ID),
        "active_sequence_id": str(SEQUENCE_ID),
    }
    handle, _ = scripted(httpx.Response(409, json=conflict), httpx.Response(200, json=enrollment()))
    with unify_on(handle) as unify:
        found = unify.enroll(
            SEQUENCE_ID, PERSON_ID, mailbox_emails=["m@x.com"], on_conflict="return_existing"
        )
    assert found.id == ENROLLMENT_ID
    calls, attempts = by_kind(exporter.get_finished_spans())
    (call,) = calls
    body = CreateEnrollmentRequest(
        sequence_id=SEQUENCE_ID, person_id=PERSON_ID, mailbox_emails=["m@x.com"]
    )
    assert call.name == create_sequence_enrollment.operation(body=body).operation_id
    assert len(attempts) == 2
    (resolved,) = [e for e in call.events if e.name == _telemetry.CONFLICT_RESOLVED]
    assert dict(resolved.attributes or {})["enrollment_id"] == str(ENROLLMENT_ID)
    assert dict(resolved.attributes or {})["ours"] is False
    (line,) = [r for r in caplog.records if vars(r).get("event") == _telemetry.CONFLICT_RESOLVED]
    assert line.levelno == logging.INFO and vars(line)["vendor"] == "unify"
    assert unify.stats.conflicts_resolved == 1


class BoastConflict:
    """A Boast whose create answers `first` (then "already enrolled"), and whose lookup finds the
    contact's active enrollment only once a create has been refused as a conflict."""

    def __init__(self, first: int, contact: str, sequence: str) -> None:
        self.first, self.posts = first, 0
        stamp = "2026-11-24T10:00:00Z"
        self.active = {
            "id": str(uuid.uuid4()), "contact_id": contact, "sequence_id": sequence,
            "status": "active", "created_at": stamp, "updated_at": stamp,
        }  # fmt: skip
        self.conflicted = False

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            self.posts += 1
            if self.posts == 1 and self.first != 422:
                return httpx.Response(self.first, json={"errors": [{"status": str(self.first)}]})
            self.conflicted = True
            detail = {"status": "422", "code": "already_enrolled", "detail": "Contact is already enrolled"}  # fmt: skip
            return httpx.Response(422, json={"errors": [detail]})
        found = [self.active] if self.conflicted else []
        meta = {"pagination": {"count": len(found), "page": 1, "items": 25, "pages": 1}}
        return httpx.Response(200, json={"data": found, "meta": meta})


@pytest.mark.parametrize(
    ("first", "on_conflict", "ours"),
    [(422, "return_existing", False), (500, "raise", True)],
    ids=["asked-for", "our-own-attempt"],
)
async def test_a_resolved_boast_conflict_is_an_event_a_log_line_and_a_count(
    capture: tuple[Any, Any],
    clock: VirtualClock,
    caplog: pytest.LogCaptureFixture,
    twin: Twin,
    first: int,
    on_conflict: str,
    ours: bool,
) -> None:
    """As Unify's: the vendor, the enrollment returned, and whether an attempt of this call
    made it (a 500 that may have been applied, then "already enrolled")."""
    exporter, _ = capture
    caplog.set_level(logging.INFO, logger="sequence_clients")
    server = BoastConflict(first, str(PERSON_ID), str(SEQUENCE_ID))
    boast = twin.boast(
        account_id=uuid.uuid4(), access_token="t", httpx_client=twin.over(server),
        retry_policy=RetryPolicy(base_delay=0.01, max_delay=0.05),
    )  # fmt: skip
    found = await settle(boast.enroll(PERSON_ID, SEQUENCE_ID, on_conflict=on_conflict))
    assert str(found.id) == server.active["id"]
    spans = exporter.get_finished_spans()
    (resolved,) = [e for s in spans for e in s.events if e.name == _telemetry.CONFLICT_RESOLVED]
    attributes = dict(resolved.attributes or {})
    assert attributes["vendor"] == "boast"
    assert attributes["enrollment_id"] == server.active["id"]
    assert attributes["ours"] is ours
    (line,) = [r for r in caplog.records if vars(r).get("event") == _telemetry.CONFLICT_RESOLVED]
    assert line.levelno == logging.INFO and vars(line)["vendor"] == "boast"
    assert vars(line)["enrollment_id"] == server.active["id"] and vars(line)["ours"] is ours
    assert boast.stats.conflicts_resolved == 1
    await settle(boast.close())


def test_giving_up_ends_the_call_span_in_error_with_an_event(
    capture: tuple[Any, Any], clock: VirtualClock
) -> None:
    exporter, _ = capture
    handle, _ = scripted(*[httpx.Response(503) for _ in range(3)])
    with unify_on(handle, max_retries=2) as unify, pytest.raises(errors.ServerError) as raised:
        unify.get_enrollment(ENROLLMENT_ID)
    calls, attempts = by_kind(exporter.get_finished_spans())
    (call,) = calls
    (gave_up,) = [e for e in call.events if e.name == _telemetry.GAVE_UP]
    assert dict(gave_up.attributes or {})["error_type"] == type(raised.value).__name__
    assert dict(gave_up.attributes or {})["attempts"] == len(attempts) == 3
    assert not call.status.is_ok and unify.stats.gave_up == 1


def test_a_rate_limit_wait_is_an_event_a_debug_line_and_time_counted(
    capture: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    exporter, reader = capture
    caplog.set_level(logging.DEBUG, logger="sequence_clients")
    clock = drive_plans_and_limits_with(monkeypatch, VirtualClock(start=1_800_000_000.0))
    waited_before = total(reader, "sequence_clients.rate_limit.wait_time")
    handle, _ = scripted(*[httpx.Response(200, json=enrollment()) for _ in range(2)])
    with unify_on(handle, rate_limit=fresh_limit("1/s")) as unify:
        unify.get_enrollment(ENROLLMENT_ID)
        unify.get_enrollment(ENROLLMENT_ID)
    waits = [r for r in caplog.records if vars(r).get("event") == _telemetry.LIMIT_WAIT]
    assert waits and all(r.levelno == logging.DEBUG for r in waits)
    waited = sum(vars(r)["seconds"] for r in waits)
    assert waited == pytest.approx(sum(clock.sleeps))
    assert total(reader, "sequence_clients.rate_limit.wait_time") - waited_before == pytest.approx(
        waited
    )
    assert unify.stats.limiter_waits == len(waits)
    assert unify.stats.limiter_wait_seconds == pytest.approx(waited)
    second_call = by_kind(exporter.get_finished_spans())[0][-1]
    assert _telemetry.LIMIT_WAIT in [e.name for e in second_call.events]


def test_an_event_from_the_auth_flow_lands_in_the_attempt_and_counts_refreshes(
    capture: tuple[Any, Any], clock: VirtualClock
) -> None:
    """What oauth.py will call while it refreshes: the event lands in the attempt being sent."""
    exporter, reader = capture
    before = total(reader, "sequence_clients.token.refreshes")

    class Refreshing(httpx.Auth):
        def auth_flow(self, request: httpx.Request) -> Any:
            _telemetry.event(_telemetry.TOKEN_REFRESH, "refreshed the token", reason="expiring")
            yield request

    handle, _ = scripted(httpx.Response(200, json=enrollment()))
    # Unify brings no auth of its own, so the auth of the caller's httpx client runs.
    http = httpx.Client(transport=httpx.MockTransport(handle), auth=Refreshing())
    with UnifyClient(API_KEY, httpx_client=http) as unify:
        unify.get_enrollment(ENROLLMENT_ID)
    _, attempts = by_kind(exporter.get_finished_spans())
    (attempt,) = attempts
    assert [e.name for e in attempt.events] == [_telemetry.TOKEN_REFRESH]
    assert total(reader, "sequence_clients.token.refreshes") - before == 1


async def test_each_attempt_reports_its_status_its_error_type_and_how_long_it_took(
    capture: tuple[Any, Any], clock: VirtualClock, twin: Twin
) -> None:
    """On its span and its duration point: the status of an answer (a success and an error
    status alike), the error type of a failure (the status, or the error's class when nothing
    answered), and the seconds the attempt took (real time: a small non-negative number)."""
    exporter, reader = capture
    host = f"{uuid.uuid4().hex}.example"  # this test's own duration points
    answers = iter([
        httpx.Response(200, json=enrollment()),
        httpx.Response(404, json={"status": "not_found", "message": "no such enrollment"}),
    ])  # fmt: skip

    def handle(request: httpx.Request) -> httpx.Response:
        found = next(answers, None)
        if found is None:
            raise httpx.ConnectError("connection refused", request=request)
        return found

    unify = twin(handle, base_url=f"https://{host}", max_retries=0).client
    assert (await settle(unify.get_enrollment(ENROLLMENT_ID))).id == ENROLLMENT_ID
    with pytest.raises(errors.NotFoundError):
        await settle(unify.get_enrollment(ENROLLMENT_ID))
    with pytest.raises(errors.APIConnectionError):
        await settle(unify.get_enrollment(ENROLLMENT_ID))

    _, attempts = by_kind(exporter.get_finished_spans())
    said = [
        (dict(a.attributes or {}).get("http.response.status_code"),
         dict(a.attributes or {}).get("error.type"), a.status.status_code)
        for a in attempts
    ]  # fmt: skip
    assert said == [
        (200, None, StatusCode.UNSET),
        (404, "404", StatusCode.ERROR),
        (None, "APIConnectionError", StatusCode.ERROR),
    ]
    durations = [
        point for point in otel_capture.points(reader)["http.client.request.duration"]
        if dict(point.attributes or {}).get("server.address") == host
    ]  # fmt: skip
    labels = {
        (dict(p.attributes).get("http.response.status_code"), dict(p.attributes).get("error.type"))
        for p in durations
    }
    assert labels == {(200, None), (404, "404"), (None, "APIConnectionError")}
    assert all(p.count == 1 and 0 <= p.min <= p.max < 60 for p in durations)


async def test_each_request_of_a_call_counts_its_own_resends(
    capture: tuple[Any, Any], clock: VirtualClock, twin: Twin
) -> None:
    """An enroll answered 409 then looks the enrollment up: two requests of one call, each
    sent once: two attempts, no retry, no resend count on either span."""
    exporter, _ = capture
    conflict = {
        "status": "conflict",
        "message": "already enrolled",
        "active_enrollment_id": str(ENROLLMENT_ID),
        "active_sequence_id": str(SEQUENCE_ID),
    }
    handle, seen = scripted(
        httpx.Response(409, json=conflict), httpx.Response(200, json=enrollment())
    )
    unify = twin(handle).client
    found = await settle(
        unify.enroll(
            SEQUENCE_ID, PERSON_ID, mailbox_emails=["m@x.com"], on_conflict="return_existing"
        )
    )
    assert found.id == ENROLLMENT_ID
    _, attempts = by_kind(exporter.get_finished_spans())
    assert [a.name.split()[0] for a in attempts] == [r.method for r in seen] == ["POST", "GET"]
    resends = [dict(a.attributes or {}).get("http.request.resend_count") for a in attempts]
    assert resends == [None, None]
    assert (unify.stats.attempts, unify.stats.retries) == (2, 0)


async def test_the_async_twin_reports_the_same_spans(
    capture: tuple[Any, Any], clock: VirtualClock
) -> None:
    exporter, _ = capture
    handle, seen = scripted(
        httpx.Response(503, json={"status": "unavailable", "message": "busy"}),
        httpx.Response(429, headers={"retry-after": "1"}, json={"status": "rate_limited"}),
        httpx.Response(200, json=enrollment()),
    )

    async def ahandle(request: httpx.Request) -> httpx.Response:
        return handle(request)

    http = httpx.AsyncClient(transport=httpx.MockTransport(ahandle))
    policy = RetryPolicy(base_delay=0.01, max_delay=0.05)
    async with AsyncUnifyClient(API_KEY, httpx_client=http, retry_policy=policy) as unify:
        assert (await unify.get_enrollment(ENROLLMENT_ID)).id == ENROLLMENT_ID
    calls, attempts = by_kind(exporter.get_finished_spans())
    (call,) = calls
    assert len(attempts) == len(seen) == 3
    assert {a.parent.span_id for a in attempts if a.parent} == {call.context.span_id}
    resends = [dict(a.attributes or {}).get("http.request.resend_count") for a in attempts]
    assert resends == [None, 1, 2]
    assert [e.name for e in call.events].count(_telemetry.PAUSE) == 1
    assert unify.stats.attempts == 3 and unify.stats.rate_limited == 1


def test_each_client_and_copy_keeps_its_own_totals(clock: VirtualClock) -> None:
    handle, _ = scripted(*[httpx.Response(200, json=enrollment()) for _ in range(3)])
    with unify_on(handle) as unify:
        copy = unify.with_options(max_retries=1)
        unify.get_enrollment(ENROLLMENT_ID)
        copy.get_enrollment(ENROLLMENT_ID)
        copy.get_enrollment(ENROLLMENT_ID)
        taken = copy.stats.snapshot()
    assert (unify.stats.attempts, copy.stats.attempts) == (1, 2)
    assert taken == copy.stats and taken is not copy.stats  # a copy, consistent
