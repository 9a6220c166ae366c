"""Which failures are retried and how long the client waits: documented transient statuses and
connection failures are retried up to `max_retries` with doubling back-off, a Retry-After (in
seconds, milliseconds or as a date) is waited out up to the policy's ceiling, anything else is
raised at once, and each retry is logged naming the request and the reason."""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import random
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from twin_harness import Twin, closed, settle
from virtual_clock import VirtualClock
from waits import record_waits
from wrapper_helpers import (
    ENROLLMENT_ID,
    FAST_BACKOFF,
    MAILBOX,
    PAUSED,
    PERSON,
    SEQUENCE,
    SEQUENCE_ID,
    AsyncHttp,
    Handler,
    MakeSandbox,
    ScriptedUnify,
    Server,
    Wire,
    answer,
    client_answering,
    elapsed,
    paused,
    refused,
    scripted,
    serving,
    unavailable,
    unify_on,
    valid_enrollment,
)

from sequence_clients import (
    AsyncUnifyClient,
    RetryPolicy,
    UnifyClient,
    _telemetry,
    errors,
)
from sequence_clients._plan import Call, Sleep, with_retries
from sequence_clients.errors import parse_retry_after
from sequence_clients.generated.unify.api.sequences import pause_sequence
from sequence_clients.generated.unify.models import (
    PauseSequenceSuccessResponse,
)


def client(http: httpx.AsyncClient, url: str, **options: object) -> AsyncUnifyClient:
    options.setdefault("retry_policy", FAST_BACKOFF)
    return AsyncUnifyClient("key", base_url=url, httpx_client=http, **options)  # type: ignore[arg-type]


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


def unify_sync(handler: Handler, **options: Any) -> UnifyClient:
    http = httpx.Client(transport=httpx.MockTransport(handler))
    return UnifyClient("key", httpx_client=http, retry_policy=FAST_BACKOFF, **options)


def unify_async(handler: Handler, **options: Any) -> AsyncUnifyClient:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return AsyncUnifyClient("key", httpx_client=http, retry_policy=FAST_BACKOFF, **options)


def flaky_then_paused() -> tuple[Handler, list[httpx.Request]]:
    return scripted(
        httpx.Response(503, json={"status": "internal_error", "message": "try again"}),
        httpx.Response(
            429, headers={"Retry-After": "7"}, json={"status": "rate_limited", "message": "slow"}
        ),
        paused(),
    )


async def test_unify_max_retries_and_retry_policy_are_the_ones_given(
    twin: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    slept = record_waits(monkeypatch)
    wire = Wire(unavailable)
    unify = twin.unify("key", max_retries=2, httpx_client=twin.over(wire))
    with pytest.raises(errors.ServerError):
        await settle(unify.get_sequence(uuid.uuid4()))
    assert len(wire.sent) == 3 and len(slept) == 2

    # A Retry-After beyond the policy's max_retry_after is raised at once, not waited out.
    late = Wire(lambda r: httpx.Response(503, headers={"Retry-After": "5"}, json={}))
    policy = RetryPolicy(max_retry_after=1.0)
    impatient = twin.unify("key", retry_policy=policy, httpx_client=twin.over(late))
    with pytest.raises(errors.ServerError) as raised:
        await settle(impatient.get_sequence(uuid.uuid4()))
    assert len(late.sent) == 1 and raised.value.retry_after == 5
    patient = twin.unify("key", max_retries=1, httpx_client=twin.over(late))
    with pytest.raises(errors.ServerError):
        await settle(patient.get_sequence(uuid.uuid4()))
    assert len(late.sent) == 3 and slept[-1] == 5
    for client in (unify, impatient, patient):
        await closed(client)
    wire.close()
    late.close()


@pytest.mark.parametrize(
    "headers",
    [
        {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"},  # a date already past
        {"X-RateLimit-Reset": "1700000000"},  # an epoch time already past
        {"X-RateLimit-Reset": "1000000000.5"},  # the smallest epoch time there is
        {"X-RateLimit-Reset": "0"},  # a delay of nothing
        {"X-RateLimit-Reset": "-3"},
    ],
)
async def test_a_wait_that_is_already_over_is_retried_at_once(
    twin: Twin, clock: VirtualClock, headers: dict[str, str]
) -> None:
    server = Server(clock, refused(429, **headers), paused())
    client = twin(server)
    await client.pause()
    assert clock.sleeps == [0.0] and len(server.received) == 2


async def test_a_reset_of_exactly_a_billion_is_a_delay_not_a_date(
    twin: Twin, clock: VirtualClock
) -> None:
    # Vendors send an epoch time or a delay; up to 1e9 it is read as a delay (here decades,
    # more than the policy waits, so it is raised at once).
    server = Server(clock, refused(429, **{"X-RateLimit-Reset": "1000000000"}))
    client = twin(server)
    with pytest.raises(errors.RateLimitError) as raised:
        await client.pause()
    assert raised.value.retry_after == 1e9 and clock.sleeps == []


def test_parse_retry_after_counts_a_date_from_the_given_now() -> None:
    headers = httpx.Headers({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})
    moment = dt.datetime(2015, 10, 21, 7, 28, tzinfo=dt.UTC).timestamp()
    assert errors.parse_retry_after(headers, now=moment - 30) == 30.0
    reset = httpx.Headers({"X-RateLimit-Reset": str(int(moment))})
    assert errors.parse_retry_after(reset, now=moment - 12) == 12.0


async def test_a_dropped_connection_is_retried_and_the_retry_answers(
    async_http: AsyncHttp,
) -> None:
    async with serving("close", answer(200, PAUSED)) as server:
        unify = client(async_http(), server.url, max_retries=2)
        paused = await unify.pause_sequence(SEQUENCE_ID)
    assert paused.id == SEQUENCE_ID
    assert len(server.requests) == 2


async def test_a_429_with_retry_after_is_waited_out_and_retried(async_http: AsyncHttp) -> None:
    refused = answer(429, b'{"status": "x", "message": "slow down"}', retry_after="1")
    async with serving(refused, answer(200, PAUSED)) as server:
        unify = client(async_http(), server.url, max_retries=2)
        took, error = await elapsed(unify.pause_sequence(SEQUENCE_ID))
    assert error is None
    assert len(server.requests) == 2
    assert 0.9 <= took < 5


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


@pytest.mark.parametrize(
    ("header", "status", "paused"),
    [({"Retry-After": "0"}, 503, None), ({"retry-after-ms": "500"}, 503, 0.5),
     ({"Retry-After": "120"}, 429, 120.0)],
)  # fmt: skip
def test_a_server_s_wait_is_told_as_this_call_s_pause(
    header: dict[str, str],
    status: int,
    paused: float | None,
    slept: list[float],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="sequence_clients")
    handle, _ = answering(httpx.Response(status, headers=header))
    with unify_on(handle) as unify:
        list(unify.list_sequences())
    pauses = [
        (r.seconds, r.shared, r.status_code, r.levelno)  # type: ignore[attr-defined]
        for r in caplog.records
        if getattr(r, "event", None) == _telemetry.PAUSE
    ]
    # No rate limit is shared here: the pause is this call's, told at DEBUG; none for no wait.
    assert pauses == ([] if paused is None else [(paused, False, status, logging.DEBUG)])


def test_retry_after_as_an_http_date_is_waited_until(slept: list[float]) -> None:
    when = email.utils.formatdate(time.time() + 40, usegmt=True)
    handle, seen = answering(httpx.Response(429, headers={"Retry-After": when}))
    with unify_on(handle) as unify:
        list(unify.list_sequences())
    assert len(seen) == 2 and len(slept) == 1
    assert 38 <= slept[0] <= 40


async def test_backoff_doubles_from_base_delay_up_to_max_delay(
    twin: Twin, slept: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Full jitter draws each wait from [0, base_delay * 2**n], capped at max_delay: with the
    draw pinned to its top, the waits are that ceiling itself. (The server hands back one
    Response object five times, as a test double may: each answer read is left sendable.)"""
    monkeypatch.setattr(random, "uniform", lambda low, high: high)
    handle, seen = answering(*[httpx.Response(503)] * 5)
    policy = RetryPolicy(base_delay=0.25, max_delay=1.5)
    unify = twin(handle, retry_policy=policy, max_retries=5)
    assert await unify.list_sequences() == []
    assert len(seen) == 6 and slept == [0.25, 0.5, 1.0, 1.5, 1.5]


def test_the_callers_retry_policy_is_the_one_applied(slept: list[float]) -> None:
    handle, seen = answering(httpx.Response(429, headers={"Retry-After": "10"}))
    strict = RetryPolicy(max_retry_after=5)
    with unify_on(handle, retry_policy=strict) as unify, pytest.raises(errors.RateLimitError):
        list(unify.list_sequences())
    assert len(seen) == 1 and slept == []


class UnhashablePolicy(RetryPolicy):
    """A caller's own policy that cannot be a cache key (its tenacity.Retrying is per call)."""

    __hash__ = None  # type: ignore[assignment]


def test_a_callers_unhashable_policy_still_retries(slept: list[float]) -> None:
    handle, seen = answering(httpx.Response(503), httpx.Response(503))
    with unify_on(handle, retry_policy=UnhashablePolicy(base_delay=0.25)) as unify:
        assert list(unify.list_sequences()) == []
    assert len(seen) == 3 and len(slept) == 2


def test_max_retries_bounds_the_attempts(slept: list[float]) -> None:
    handle, seen = answering(*[httpx.Response(503)] * 10)
    with unify_on(handle, max_retries=2) as unify, pytest.raises(errors.ServerError):
        list(unify.list_sequences())
    assert len(seen) == 3 and len(slept) == 2


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


def test_a_callers_policy_may_retry_an_error_that_names_no_request(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class RetryEverything(RetryPolicy):
        def is_retryable(self, error: BaseException) -> bool:
            return True

    caplog.set_level(logging.INFO, logger="sequence_clients")
    plan = with_retries(Call(pause_sequence.operation(SEQUENCE_ID)), RetryEverything(base_delay=0))
    assert isinstance(next(plan), Call)
    assert isinstance(plan.throw(errors.SequenceClientError("the store is locked")), Sleep)
    (retry,) = [r for r in caplog.records if vars(r).get("event") == "sequence_clients.retry"]
    assert (vars(retry)["method"], vars(retry)["url"]) == ("?", "?")
    assert vars(retry)["reason"] == "SequenceClientError" and vars(retry)["attempt"] == 1


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


def test_truncated_then_whole_body_is_retried_to_success() -> None:
    answers = iter(
        [httpx.Response(200, content=b'{"id": '), httpx.Response(200, json=valid_enrollment())]
    )
    with client_answering(lambda request: next(answers)) as unify:
        assert unify.get_enrollment(ENROLLMENT_ID).id == ENROLLMENT_ID


def test_spec_violation_is_not_retried() -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, json={"id": str(ENROLLMENT_ID)})

    with client_answering(handler) as unify, pytest.raises(errors.UnexpectedResponseError):
        unify.get_enrollment(ENROLLMENT_ID)
    assert len(calls) == 1


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
def test_client_errors_are_never_retried(status: int) -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(status, json={"status": "no", "message": "refused"})

    with client_answering(handler) as unify, pytest.raises(errors.APIStatusError) as raised:
        unify.get_enrollment(ENROLLMENT_ID)
    assert raised.value.status_code == status and len(calls) == 1


def test_408_and_5xx_are_retried_up_to_max_retries() -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(408 if len(calls) == 1 else 504)

    with client_answering(handler, max_retries=3) as unify, pytest.raises(errors.ServerError):
        unify.get_enrollment(ENROLLMENT_ID)
    assert len(calls) == 4


def test_retry_after_forms() -> None:
    now = time.time()
    http_date = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after(httpx.Headers({"retry-after": "7"}), now) == 7
    assert parse_retry_after(httpx.Headers({"retry-after": http_date}), now) == pytest.approx(
        30, abs=1.5
    )
    assert parse_retry_after(
        httpx.Headers({"x-ratelimit-reset": str(int(now) + 12)}), now
    ) == pytest.approx(12, abs=1)
    assert parse_retry_after(httpx.Headers({"x-ratelimit-reset": "5"}), now) == 5
    assert parse_retry_after(httpx.Headers({"retry-after": "soon"}), now) is None
    assert parse_retry_after(httpx.Headers(), now) is None


def test_retry_after_ms_is_honoured_and_wins_over_retry_after() -> None:
    now = time.time()
    both = httpx.Headers({"retry-after-ms": "1500", "retry-after": "2"})
    assert parse_retry_after(both, now) == 1.5  # the more precise statement of the same wait
    assert parse_retry_after(httpx.Headers({"retry-after-ms": "250.5"}), now) == 0.2505
    assert parse_retry_after(httpx.Headers({"retry-after-ms": "-40"}), now) == 0
    for unusable in ("soon", "nan", "inf", ""):
        fallback = httpx.Headers({"retry-after-ms": unusable, "retry-after": "3"})
        assert parse_retry_after(fallback, now) == 3
    assert parse_retry_after(httpx.Headers({"retry-after": "nan"}), now) is None


def test_a_retry_waits_what_retry_after_ms_asks(caplog: pytest.LogCaptureFixture) -> None:
    answers = iter(
        [
            httpx.Response(429, headers={"retry-after-ms": "20", "retry-after": "1"}),
            httpx.Response(200, json=valid_enrollment()),
        ]
    )
    caplog.set_level("INFO", logger="sequence_clients")
    with client_answering(lambda request: next(answers), max_retries=1) as unify:
        assert unify.get_enrollment(ENROLLMENT_ID).id == ENROLLMENT_ID
    assert [record.wait for record in caplog.records if hasattr(record, "wait")] == [0.02]


def test_an_operation_without_a_method_is_retried_through_503_and_429(
    clock_at_zero: VirtualClock,
) -> None:
    handle, received = flaky_then_paused()
    with unify_sync(handle) as unify:
        result = unify.call(pause_sequence.operation(SEQUENCE_ID))

    assert isinstance(result, PauseSequenceSuccessResponse) and result.is_paused
    assert [r.url.path for r in received] == [f"/sequences/v1/sequences/{SEQUENCE_ID}/pause"] * 3
    assert clock_at_zero.sleeps[0] <= FAST_BACKOFF.max_delay  # back-off after the 503
    assert clock_at_zero.sleeps[1] == 7.0  # the server's Retry-After, not a guess


async def test_the_async_twin_retries_an_operation_the_same_way(
    clock_at_zero: VirtualClock,
) -> None:
    handle, received = flaky_then_paused()
    async with unify_async(handle) as unify:
        result = await unify.call(pause_sequence.operation(SEQUENCE_ID))

    assert result.is_paused and len(received) == 3 and clock_at_zero.sleeps[1] == 7.0


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
        sandbox.unify_api_key,
        base_url=sandbox.unify_base_url,
        max_retries=10,
        retry_policy=FAST_BACKOFF,
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
