"""A call's `deadline` bounds everything it waits for: attempts, back-off, Retry-After pauses and
each request's timeout (cut to what is left); when it runs out the call stops with
DeadlineExceededError, saying whether an attempt may have been applied."""

from __future__ import annotations

import uuid

import httpx
import pytest
from twin_harness import Twin
from virtual_clock import VirtualClock, drive_plans_with
from wrapper_helpers import (
    FAST,
    PAUSE_PATH,
    PAUSED,
    SEQUENCE_ID,
    AsyncHttp,
    Handler,
    Server,
    Streamed,
    client,
    elapsed,
    paused,
    refused,
    scripted,
    sequence_answer,
    serving,
    timeouts,
    unify_async,
    unify_sync,
)

from sequence_clients import (
    BoastClient,
    RetryPolicy,
    UnifyClient,
    errors,
)
from sequence_clients._pipeline import DEADLINE_EXTENSION
from sequence_clients.generated.unify.api.sequences import pause_sequence


def cut_to(timeout: httpx.Timeout, left: float) -> dict[str, float | None]:
    phases = {"connect": timeout.connect, "read": timeout.read, "write": timeout.write}
    phases["pool"] = timeout.pool
    return {name: left if t is None else min(t, left) for name, t in phases.items()}


def always(status: int, retry_after: str) -> httpx.Client:
    answer = httpx.Response(status, headers={"Retry-After": retry_after})
    return httpx.Client(transport=httpx.MockTransport(lambda request: answer))


def always_503(clock_at_zero: VirtualClock, takes: float) -> tuple[Handler, list[httpx.Request]]:
    """A server that answers 503 after `takes` seconds (of the virtual clock)."""
    received: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        received.append(request)
        clock_at_zero.now += takes
        return httpx.Response(503, json={"status": "internal_error", "message": "down"})

    return handle, received


async def test_a_deadline_stops_the_retries_and_says_what_it_was_doing(
    twin: Twin, clock: VirtualClock
) -> None:
    server = Server(clock, refused(503), takes=0.4)
    client = twin(server, max_retries=10, deadline=1.0)
    with pytest.raises(errors.DeadlineExceededError) as raised:
        await client.pause()

    assert len(server.received) == 3  # at 0, ~0.4 and ~0.8 s; a fourth would start past 1 s
    error = raised.value
    # The deadline names the operation's request as planned (its path), not the sent URL.
    assert (error.method, error.url) == ("POST", PAUSE_PATH)
    assert error.maybe_applied  # a 503 may come after the backend committed
    assert isinstance(error.__cause__, errors.ServerError)
    assert error.__cause__.status_code == 503


@pytest.mark.parametrize(
    "timeout",
    [
        httpx.Timeout(connect=0.5, read=20.0, write=0.9, pool=None),
        httpx.Timeout(connect=None, read=1.5, write=30.0, pool=0.7),
    ],
)
async def test_each_request_timeout_is_cut_to_what_is_left_of_the_deadline(
    twin: Twin, clock: VirtualClock, timeout: httpx.Timeout
) -> None:
    server = Server(clock, refused(503), takes=0.3)
    client = twin(server, max_retries=1, deadline=2.0, timeout=timeout)
    with pytest.raises(errors.ServerError):
        await client.pause()

    first, second = (timeouts(request) for request in server.received)
    # Each phase is the shorter of its own timeout and what is left; a phase without a timeout
    # gets what is left.
    assert first == cut_to(timeout, 2.0)
    left = 2.0 - (server.arrivals[1] - server.arrivals[0])
    assert 1.6 < left < 1.7
    assert second == cut_to(timeout, left)


async def test_a_retry_after_that_would_use_up_the_deadline_is_not_slept(
    twin: Twin, clock: VirtualClock
) -> None:
    server = Server(clock, refused(429, **{"Retry-After": "10"}), paused())
    client = twin(server, deadline=10.0)
    with pytest.raises(errors.DeadlineExceededError) as raised:
        await client.pause()

    # Waiting exactly the 10 s left would leave no time to send: it says so at once.
    assert clock.sleeps == [] and len(server.received) == 1
    assert isinstance(raised.value.__cause__, errors.RateLimitError)
    assert not raised.value.maybe_applied  # a 429 was refused, not applied


async def test_a_retry_after_within_the_deadline_is_slept_and_the_call_succeeds(
    twin: Twin, clock: VirtualClock
) -> None:
    server = Server(clock, refused(429, **{"Retry-After": "7"}), paused())
    client = twin(server, deadline=10.0)
    result = await client.pause()

    assert getattr(result, "is_paused", None) is True
    assert clock.sleeps == [7.0]
    assert server.arrivals[1] - server.arrivals[0] == 7.0


async def test_the_deadline_bounds_a_call_whose_timeouts_are_longer(
    async_http: AsyncHttp,
) -> None:
    async with serving("hang") as server:
        unify = client(async_http(), server.url, timeout=30.0, deadline=0.5, max_retries=3)
        took, error = await elapsed(unify.pause_sequence(SEQUENCE_ID))
    assert isinstance(error, errors.APITimeoutError)
    assert 0.4 <= took < 2.5


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


def test_a_deadline_after_an_ambiguous_create_says_it_may_have_been_applied(
    clock: VirtualClock,
) -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        clock.now += 0.03  # the create reached Unify; the answer is lost
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


def test_a_deadline_bounds_the_whole_call_retries_and_backoff_included(
    clock_at_zero: VirtualClock,
) -> None:
    handle, received = always_503(clock_at_zero, takes=0.4)
    unify = unify_sync(handle, max_retries=10, deadline=1.0)
    with unify, pytest.raises(errors.DeadlineExceededError) as raised:
        unify.pause_sequence(SEQUENCE_ID)

    assert len(received) == 3  # at 0, ~0.4 and ~0.8 s; the fourth would start past 1 s
    assert clock_at_zero.now < 1.0 + 0.4 + FAST.max_delay
    # Each request's timeouts are cut to what is left of the deadline.
    assert received[-1].extensions["timeout"]["read"] < 0.25
    assert isinstance(raised.value, errors.APITimeoutError)
    assert "deadline of 1s" in str(raised.value) and "/pause" in str(raised.value)
    assert isinstance(raised.value.__cause__, errors.ServerError)  # what went wrong meanwhile


async def test_the_async_twin_and_with_options_take_a_deadline(
    clock_at_zero: VirtualClock,
) -> None:
    handle, received = always_503(clock_at_zero, takes=0.4)
    async with unify_async(handle, max_retries=10) as unify:
        bounded = unify.with_options(deadline=1.0)
        with pytest.raises(errors.DeadlineExceededError):
            await bounded.pause_sequence(SEQUENCE_ID)
        await bounded.close()
    assert len(received) == 3 and "deadline=1.0" in repr(bounded)


def test_a_retry_after_past_the_deadline_is_not_slept_through(
    clock_at_zero: VirtualClock,
) -> None:
    handle, received = scripted(
        httpx.Response(429, headers={"Retry-After": "30"}, json={"status": "rate_limited"}),
        paused(),
    )
    unify = unify_sync(handle, deadline=10.0)
    with unify, pytest.raises(errors.DeadlineExceededError) as raised:
        unify.call(pause_sequence.operation(SEQUENCE_ID))
    assert clock_at_zero.sleeps == [] and len(received) == 1
    assert isinstance(raised.value.__cause__, errors.RateLimitError)


def test_no_deadline_by_default_and_a_bad_one_is_refused() -> None:
    with UnifyClient("key") as unify:
        assert "deadline=None" in repr(unify)
    for wrong in (0, -1.0):
        with pytest.raises(errors.InvalidRequestError, match="deadline"):
            UnifyClient("key", deadline=wrong)
        with pytest.raises(errors.InvalidRequestError, match="deadline"):
            BoastClient(access_token="t", deadline=wrong)


@pytest.mark.parametrize("deadline", [None, 5.0])
def test_every_request_carries_when_its_calls_deadline_ends(
    deadline: float | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What an auth flow reads to bound a token refresh by the call's deadline."""
    clock = drive_plans_with(monkeypatch, VirtualClock(start=100.0))
    seen: list[httpx.Request] = []
    answers = iter([httpx.Response(503), sequence_answer(httpx.Request("GET", "/"))])

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return next(answers)

    http = httpx.Client(transport=httpx.MockTransport(answer))
    policy = RetryPolicy(base_delay=0.5, max_delay=0.5)
    with UnifyClient("key", httpx_client=http, deadline=deadline, retry_policy=policy) as unify:
        list(unify.list_sequences())
    ends = [request.extensions[DEADLINE_EXTENSION] for request in seen]
    assert len(ends) == 2 and clock.now > 100.0  # the retry slept on the call's clock
    expected = [None, None] if deadline is None else [pytest.approx(100.0 + deadline)] * 2
    assert ends == expected


@pytest.mark.parametrize("late", [0.0, 0.25], ids=["at-the-deadline", "past-it"])
async def test_a_body_still_coming_is_read_up_to_the_deadline_and_stopped_past_it(
    twin: Twin, clock: VirtualClock, late: float
) -> None:
    """The rest of the body arrives `late` seconds after the call's deadline (the instant in
    the request's deadline extension): at the deadline itself it is still read; past it the
    call stops with the request it was reading."""

    def answer(request: httpx.Request) -> httpx.Response:
        ends = request.extensions[DEADLINE_EXTENSION]

        def wait() -> None:
            clock.now = ends + late

        return httpx.Response(200, stream=Streamed(PAUSED[:20], wait, PAUSED[20:]))

    client = twin(answer, max_retries=0, deadline=3.0)
    if not late:
        assert getattr(await client.pause(), "is_paused", None) is True
        return
    with pytest.raises(errors.DeadlineExceededError) as raised:
        await client.pause()
    error = raised.value  # its wording: tests/golden/messages.py
    assert (error.method, error.url) == ("POST", f"https://api.unifygtm.com{PAUSE_PATH}")
    assert error.maybe_applied is True  # it was answered: the server had it


def test_a_value_not_a_number_under_the_deadline_extension_is_no_deadline(
    clock: VirtualClock,
) -> None:
    """The extension is read defensively: whatever a hook of the caller's httpx client puts
    there (a number is a deadline, anything else is not) never breaks reading the answer."""

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=Streamed(PAUSED[:20], PAUSED[20:]))

    def overwrite(request: httpx.Request) -> None:
        request.extensions[DEADLINE_EXTENSION] = "soon"

    hooks = {"request": [overwrite]}
    http = httpx.Client(transport=httpx.MockTransport(answer), event_hooks=hooks)
    with UnifyClient("key", httpx_client=http, max_retries=0, deadline=3.0) as unify:
        assert unify.pause_sequence(SEQUENCE_ID).is_paused is True
