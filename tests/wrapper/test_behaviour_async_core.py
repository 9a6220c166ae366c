"""One promise, both twins: the deadline, the rate limit's waits and shared pauses, the
timeouts cut to what is left, and the errors a failed send raises, held to the same behaviour on
UnifyClient and AsyncUnifyClient.

Each scenario is written once and run against both (the `twin` parameter); the sync client is
driven from inside the test's coroutine, which changes nothing for it. Waits go through a virtual
clock (the driver's sleeps and monotonic time, the limiter's wall clock), so nothing here sleeps
for real except the cancellation test's few milliseconds.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from virtual_clock import VirtualClock, drive_plans_and_limits_with
from virtual_clock import fresh_limit as limit

from sequence_clients import (
    AsyncUnifyClient,
    RetryPolicy,
    UnifyClient,
    errors,
)
from sequence_clients._pagination import AsyncPager, Page, SyncPager
from sequence_clients.generated.unify.api.sequences import pause_sequence

FAST = RetryPolicy(base_delay=0.001, max_delay=0.01)
SEQUENCE_ID = uuid.UUID("3d1f0e2c-5b4a-4c3d-9e8f-7a6b5c4d3e2f")
PERSON_ID = uuid.UUID("9c8b7a6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d")
PAUSE_PATH = f"/sequences/v1/sequences/{SEQUENCE_ID}/pause"
PAUSE_URL = f"https://api.unifygtm.com{PAUSE_PATH}"
Handler = Callable[[httpx.Request], httpx.Response]


class Twin:
    """A Unify client of one flavour, called the same way from a test's coroutine."""

    def __init__(self, flavour: str, handler: Handler, **options: Any) -> None:
        options.setdefault("retry_policy", FAST)
        self.flavour = flavour
        if flavour == "sync":
            transport = httpx.MockTransport(handler)
            self.sync = UnifyClient(
                "key", httpx_client=httpx.Client(transport=transport), **options
            )
        else:
            http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
            self.async_ = AsyncUnifyClient("key", httpx_client=http, **options)

    async def enroll(self, mailbox_emails: object) -> object:
        arguments: dict[str, Any] = {"mailbox_emails": mailbox_emails}
        if self.flavour == "sync":
            return self.sync.enroll(SEQUENCE_ID, PERSON_ID, **arguments)
        return await self.async_.enroll(SEQUENCE_ID, PERSON_ID, **arguments)

    async def list_sequences(self) -> list[object]:
        if self.flavour == "sync":
            return list(self.sync.list_sequences())
        return [sequence async for sequence in self.async_.list_sequences()]

    async def pause(self) -> object:
        operation = pause_sequence.operation(SEQUENCE_ID)
        if self.flavour == "sync":
            return self.sync.call(operation)
        return await self.async_.call(operation)


@pytest.fixture(params=["sync", "async"])
def twin(request: pytest.FixtureRequest) -> Callable[..., Twin]:
    return lambda handler, **options: Twin(request.param, handler, **options)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> VirtualClock:
    """One clock for the driver (monotonic, sleep) and the limiter (wall clock)."""
    return drive_plans_and_limits_with(monkeypatch, VirtualClock(start=1_800_000_000.0))


class Server:
    """Answers in order (the last one repeated), noting each request and when it arrived; each
    answer takes `takes` seconds of the virtual clock."""

    def __init__(self, clock: VirtualClock, *answers: httpx.Response, takes: float = 0.0) -> None:
        self.clock = clock
        self.answers = answers or (paused(),)
        self.takes = takes
        self.received: list[httpx.Request] = []
        self.arrivals: list[float] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.received.append(request)
        self.arrivals.append(self.clock.now)
        self.clock.now += self.takes
        answer = self.answers[min(len(self.received), len(self.answers)) - 1]
        # A fresh response each time: httpx binds a response to the request it answers.
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)


def paused() -> httpx.Response:
    return httpx.Response(200, json={"id": str(SEQUENCE_ID), "is_paused": True})


def refused(status: int, **headers: str) -> httpx.Response:
    return httpx.Response(status, headers=headers, json={"status": "x", "message": "slow down"})


def timeouts(request: httpx.Request) -> dict[str, float | None]:
    return dict(request.extensions["timeout"])


# The deadline ------------------------------------------------------------------------------


async def test_a_deadline_stops_the_retries_and_says_what_it_was_doing(
    twin: Callable[..., Twin], clock: VirtualClock
) -> None:
    server = Server(clock, refused(503), takes=0.4)
    client = twin(server, max_retries=10, deadline=1.0)
    with pytest.raises(errors.DeadlineExceededError) as raised:
        await client.pause()

    assert len(server.received) == 3  # at 0, ~0.4 and ~0.8 s; a fourth would start past 1 s
    error = raised.value
    # The deadline names the operation's request as planned (its path), not the sent URL.
    assert str(error) == (
        f"POST {PAUSE_PATH}: deadline of 1s reached (retries and back-off included)"
    )
    assert (error.method, error.url) == ("POST", PAUSE_PATH)
    assert error.maybe_applied  # a 503 may come after the backend committed
    assert isinstance(error.__cause__, errors.ServerError)
    assert error.__cause__.status_code == 503


def cut_to(timeout: httpx.Timeout, left: float) -> dict[str, float | None]:
    phases = {"connect": timeout.connect, "read": timeout.read, "write": timeout.write}
    phases["pool"] = timeout.pool
    return {name: left if t is None else min(t, left) for name, t in phases.items()}


@pytest.mark.parametrize(
    "timeout",
    [
        httpx.Timeout(connect=0.5, read=20.0, write=0.9, pool=None),
        httpx.Timeout(connect=None, read=1.5, write=30.0, pool=0.7),
    ],
)
async def test_each_request_timeout_is_cut_to_what_is_left_of_the_deadline(
    twin: Callable[..., Twin], clock: VirtualClock, timeout: httpx.Timeout
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


@pytest.mark.parametrize(
    ("seconds", "sent"),
    [
        (10, {"connect": 5.0, "read": 10.0, "write": 10.0, "pool": 10.0}),  # connecting: 5 s at most
        (2.5, {"connect": 2.5, "read": 2.5, "write": 2.5, "pool": 2.5}),
        (None, {"connect": 5.0, "read": 30.0, "write": 30.0, "pool": 30.0}),  # the default
    ],
)  # fmt: skip
async def test_a_timeout_in_seconds_bounds_connecting_to_five_at_most(
    twin: Callable[..., Twin], clock: VirtualClock, seconds: float | None, sent: dict[str, float]
) -> None:
    server = Server(clock)
    client = twin(server, timeout=seconds)
    await client.pause()
    assert timeouts(server.received[0]) == sent


@pytest.mark.parametrize(
    ("base_url", "sent_to"),
    [
        ("https://proxy.example.com/unify/", "https://proxy.example.com/unify" + PAUSE_PATH),
        ("https://proxy.example.com/BOX/", "https://proxy.example.com/BOX" + PAUSE_PATH),
        ("https://proxy.example.com/unify", "https://proxy.example.com/unify" + PAUSE_PATH),
        ("https://proxy.example.com/unify//", "https://proxy.example.com/unify" + PAUSE_PATH),
    ],
)
async def test_a_base_url_with_a_path_is_kept_and_its_trailing_slashes_dropped(
    twin: Callable[..., Twin], clock: VirtualClock, base_url: str, sent_to: str
) -> None:
    server = Server(clock)
    client = twin(server, base_url=base_url)
    await client.pause()
    assert str(server.received[0].url) == sent_to


def test_a_plain_http_base_url_is_refused_saying_why_with_its_secrets_hidden() -> None:
    with pytest.raises(errors.InvalidRequestError) as raised:
        UnifyClient("key", base_url="http://proxy.example.com/?api_key=s3cret")
    assert str(raised.value) == (
        "refusing base URL 'http://proxy.example.com/?api_key=REDACTED': credentials must "
        "travel over https (plain http is allowed to loopback addresses, or with "
        "allow_insecure_http=True)"
    )


async def test_without_a_deadline_the_timeouts_are_sent_as_configured(
    twin: Callable[..., Twin], clock: VirtualClock
) -> None:
    server = Server(clock, takes=5.0)
    timeout = httpx.Timeout(connect=0.5, read=20.0, write=0.9, pool=None)
    client = twin(server, timeout=timeout)
    await client.pause()
    await client.pause()
    for request in server.received:
        assert timeouts(request) == {"connect": 0.5, "read": 20.0, "write": 0.9, "pool": None}


async def test_a_retry_after_that_would_use_up_the_deadline_is_not_slept(
    twin: Callable[..., Twin], clock: VirtualClock
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
    twin: Callable[..., Twin], clock: VirtualClock
) -> None:
    server = Server(clock, refused(429, **{"Retry-After": "7"}), paused())
    client = twin(server, deadline=10.0)
    result = await client.pause()

    assert getattr(result, "is_paused", None) is True
    assert clock.sleeps == [7.0]
    assert server.arrivals[1] - server.arrivals[0] == 7.0


# The rate limit ----------------------------------------------------------------------------


async def test_a_limiter_wait_past_the_deadline_is_refused_without_sending(
    twin: Callable[..., Twin], clock: VirtualClock
) -> None:
    server = Server(clock)
    client = twin(server, rate_limit=limit("1/1m"), deadline=10.0)
    await client.pause()
    with pytest.raises(errors.DeadlineExceededError) as raised:
        await client.pause()

    assert len(server.received) == 1
    # It says so rather than sleeping into the deadline: no wait beyond the (ms) back-off.
    assert sum(clock.sleeps) < 1.0
    error = raised.value
    assert (error.method, error.url) == ("POST", PAUSE_PATH)
    assert "deadline of 10s reached" in str(error)
    assert error.maybe_applied is False and error.__cause__ is None  # nothing was sent


async def test_a_limiter_wait_within_the_deadline_is_waited(
    twin: Callable[..., Twin], clock: VirtualClock
) -> None:
    server = Server(clock)
    client = twin(server, rate_limit=limit("1/5s"), deadline=10.0)
    await client.pause()
    await client.pause()

    assert len(server.received) == 2
    assert 5.0 <= server.arrivals[1] - server.arrivals[0] < 6.0
    assert 5.0 <= sum(clock.sleeps) < 6.0


async def test_a_limiter_wait_without_a_deadline_is_waited_however_long(
    twin: Callable[..., Twin], clock: VirtualClock
) -> None:
    server = Server(clock)
    client = twin(server, rate_limit=limit("1/1m"))
    await client.pause()
    await client.pause()

    assert 60.0 <= server.arrivals[1] - server.arrivals[0] < 61.0


@pytest.mark.parametrize(
    ("answer", "error_type", "pause"),
    [
        (refused(429, **{"Retry-After": "6"}), errors.RateLimitError, 6.0),
        (refused(503, **{"retry-after-ms": "2500"}), errors.ServerError, 2.5),
        (refused(429, **{"Retry-After": "120"}), errors.RateLimitError, 120.0),
        (
            refused(429, **{"retry-after-ms": "800"}),
            errors.RateLimitError,
            0.8,
        ),  # under a second  # the policy's most
    ],
)
async def test_a_retry_after_pauses_every_client_on_the_shared_limit(
    twin: Callable[..., Twin],
    clock: VirtualClock,
    answer: httpx.Response,
    error_type: type[errors.APIStatusError],
    pause: float,
) -> None:
    shared = limit("100/1s")
    hit, other = Server(clock, answer), Server(clock)
    first = twin(hit, rate_limit=shared, max_retries=0)
    second = twin(other, rate_limit=shared)
    started = clock.now
    with pytest.raises(error_type):
        await first.pause()
    await second.pause()

    waited = other.arrivals[0] - started  # it never met the refusal itself
    # (less a microsecond: the limiter's clock reads like an epoch time, in float seconds)
    assert pause - 1e-6 <= waited < pause + 1.0


@pytest.mark.parametrize(
    "answer",
    [
        refused(429, **{"Retry-After": "3600"}),  # beyond what the policy honours
        refused(500, **{"Retry-After": "6"}),  # a 500 asks nothing of the other clients
        refused(502, **{"Retry-After": "6"}),
        refused(429),  # no wait given
    ],
)
async def test_other_refusals_do_not_pause_the_other_clients(
    twin: Callable[..., Twin], clock: VirtualClock, answer: httpx.Response
) -> None:
    shared = limit("100/1s")
    hit, other = Server(clock, answer), Server(clock)
    first = twin(hit, rate_limit=shared, max_retries=0)
    second = twin(other, rate_limit=shared)
    started = clock.now
    with pytest.raises(errors.APIStatusError):
        await first.pause()
    await second.pause()

    assert other.arrivals[0] - started < 1.0


async def test_a_lower_max_retry_after_also_bounds_the_shared_pause(
    twin: Callable[..., Twin], clock: VirtualClock
) -> None:
    shared = limit("100/1s")
    hit, other = Server(clock, refused(429, **{"Retry-After": "30"})), Server(clock)
    policy = RetryPolicy(base_delay=0.001, max_delay=0.01, max_retry_after=20.0)
    first = twin(hit, rate_limit=shared, retry_policy=policy)
    second = twin(other, rate_limit=shared)
    started = clock.now
    with pytest.raises(errors.RateLimitError):
        await first.pause()  # 30 s is more than this policy waits: raised at once
    await second.pause()

    assert len(hit.received) == 1
    assert other.arrivals[0] - started < 1.0


async def test_every_retry_takes_its_own_slot(
    twin: Callable[..., Twin], clock: VirtualClock
) -> None:
    server = Server(clock, refused(503), refused(502), paused())
    client = twin(server, rate_limit=limit("1/4s"))
    await client.pause()

    first, second, third = server.arrivals
    # The back-off is milliseconds (FAST); the limit spaces the attempts a window apart.
    assert second - first >= 4.0 and third - second >= 4.0


async def test_cancelling_an_async_call_waiting_for_its_slot_sends_nothing() -> None:
    received: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return paused()

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    async with AsyncUnifyClient("key", httpx_client=http, rate_limit=limit("1/1m")) as client:
        await client.call(pause_sequence.operation(SEQUENCE_ID))
        waiting = asyncio.create_task(client.call(pause_sequence.operation(SEQUENCE_ID)))
        await asyncio.sleep(0.02)
        assert not waiting.done()  # waiting for the next minute's slot
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting

    assert len(received) == 1


# What a failed send raises -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raised", "error_type", "maybe_applied"),
    [
        (httpx.ConnectError("connection refused"), errors.APIConnectionError, False),
        (httpx.ConnectTimeout("connect timed out"), errors.APITimeoutError, False),
        (httpx.PoolTimeout("no free connection"), errors.APITimeoutError, False),
        (httpx.ReadTimeout("read timed out"), errors.APITimeoutError, True),
        (httpx.RemoteProtocolError("peer closed"), errors.APIConnectionError, True),
    ],
)
async def test_a_failed_send_is_a_typed_error_naming_the_request(
    twin: Callable[..., Twin],
    clock: VirtualClock,
    raised: httpx.HTTPError,
    error_type: type[errors.APIConnectionError],
    maybe_applied: bool,
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise raised

    client = twin(handler, max_retries=0)
    with pytest.raises(error_type) as caught:
        await client.pause()

    error = caught.value
    assert type(error) is error_type
    assert str(error) == f"POST {PAUSE_URL}: {type(raised).__name__}: {raised}"
    assert error.maybe_applied is maybe_applied
    assert error.__cause__ is raised  # the httpx error stays reachable for debugging


async def test_an_answer_the_spec_does_not_document_is_an_unexpected_response(
    twin: Callable[..., Twin], clock: VirtualClock
) -> None:
    server = Server(clock, httpx.Response(202, json={"id": str(SEQUENCE_ID), "is_paused": True}))
    client = twin(server, max_retries=3)
    with pytest.raises(errors.UnexpectedResponseError) as raised:
        await client.pause()

    assert len(server.received) == 1  # not retried: the answer is whole, just undocumented
    assert raised.value.status_code == 202
    assert str(raised.value) == (
        f"POST {PAUSE_URL} -> 202: status the API spec does not document; "
        f"""body starts '{{"id":"{SEQUENCE_ID}","is_paused":true}}'"""
    )


async def test_a_failed_send_on_a_rate_limited_client_is_the_same_typed_error(
    twin: Callable[..., Twin], clock: VirtualClock
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    shared = limit("100/1s")
    first = twin(handler, rate_limit=shared, max_retries=0)
    other = Server(clock)
    second = twin(other, rate_limit=shared)
    started = clock.now
    with pytest.raises(errors.APIConnectionError) as raised:
        await first.pause()
    await second.pause()

    assert str(raised.value) == f"POST {PAUSE_URL}: ConnectError: connection refused"
    assert other.arrivals[0] - started < 1.0  # a refused connection asks no one to wait


async def test_a_status_without_a_reason_phrase_or_body_still_says_error(
    twin: Callable[..., Twin], clock: VirtualClock
) -> None:
    server = Server(clock, httpx.Response(499))
    client = twin(server)
    with pytest.raises(errors.APIStatusError) as raised:
        await client.pause()
    assert str(raised.value) == f"POST {PAUSE_URL} -> 499: error"


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        (
            httpx.Response(500, content=b"<html>Bad Gateway \xff</html>"),
            "500: Internal Server Error (non-JSON body starts '<html>Bad Gateway \ufffd</html>')",
        ),
        (
            httpx.Response(404, json={"oops": 1}),
            """404: Not Found (body starts '{"oops":1}')""",
        ),
    ],
)
async def test_an_error_body_of_unknown_shape_is_quoted_saying_whether_it_was_json(
    twin: Callable[..., Twin], clock: VirtualClock, answer: httpx.Response, said: str
) -> None:
    server = Server(clock, answer)
    client = twin(server, max_retries=0)
    with pytest.raises(errors.APIStatusError) as raised:
        await client.pause()
    assert str(raised.value) == f"POST {PAUSE_URL} -> {said}"


def vendor_error(status: int, body: dict[str, Any]) -> httpx.Response:
    return httpx.Response(status, json=body)


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        (  # Unify: the status and each error's code; Boast-style items carry a message
            vendor_error(422, {
                "status": "invalid",
                "errors": [{"code": "too_long", "message": "name is too long"},
                           {"code": "missing", "detail": "email is missing"}],
            }),
            "422 [invalid, too_long, missing]: name is too long; email is missing",
        ),
        (  # codes are cut to 200 characters, however many the server sends
            vendor_error(422, {
                "message": "refused", "errors": [{"code": f"code{n:06}"} for n in range(40)]
            }),
            "422 [" + ", ".join(f"code{n:06}" for n in range(40))[:200]
            + "… (278 more characters)]: refused",
        ),
    ],
)  # fmt: skip
async def test_the_vendors_codes_and_messages_are_all_in_the_error(
    twin: Callable[..., Twin], clock: VirtualClock, answer: httpx.Response, said: str
) -> None:
    client = twin(Server(clock, answer), max_retries=0)
    with pytest.raises(errors.APIStatusError) as raised:
        await client.pause()
    assert str(raised.value) == f"POST {PAUSE_URL} -> {said}"


# Retry-After in its other forms ----------------------------------------------------------------


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
    twin: Callable[..., Twin], clock: VirtualClock, headers: dict[str, str]
) -> None:
    server = Server(clock, refused(429, **headers), paused())
    client = twin(server)
    await client.pause()
    assert clock.sleeps == [0.0] and len(server.received) == 2


async def test_a_reset_of_exactly_a_billion_is_a_delay_not_a_date(
    twin: Callable[..., Twin], clock: VirtualClock
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


# Arguments refused before anything is sent ---------------------------------------------------

TEN = [f"rep{n}@example.com" for n in range(10)]


@pytest.mark.parametrize(
    ("mailboxes", "message"),
    [
        ({"rep@example.com"}, "mailbox_emails must be a list of email addresses, got set"),
        (iter(TEN), "mailbox_emails must be a list of email addresses, got list_iterator"),
        (["rep@example.com", "rep at example"], (
            "mailbox_emails must be an email address, got 'rep at example'"
        )),
        ([], "mailbox_emails takes 1 to 10 addresses, got 0"),
        ([*TEN, "one.more@example.com"], "mailbox_emails takes 1 to 10 addresses, got 11"),
        ([*TEN, "one.more@example.com", "REP0@example.com"], (
            "mailbox_emails takes 1 to 10 addresses, got 11 once repeats are removed (12 given)"
        )),
    ],
)  # fmt: skip
async def test_a_bad_mailbox_list_is_refused_with_what_is_wrong_and_nothing_is_sent(
    twin: Callable[..., Twin], clock: VirtualClock, mailboxes: object, message: str
) -> None:
    server = Server(clock)
    client = twin(server)
    with pytest.raises(errors.InvalidRequestError) as raised:
        await client.enroll(mailboxes)
    assert str(raised.value) == message
    assert server.received == []


# The pagers' loop guard (written once, for both pagers) -----------------------------------


def fake_pages(pages: dict[Any, Page[int]], asked: list[object]) -> Callable[[Any], Any]:
    """Page plans that make no request: each gives the page for its cursor at once."""

    def fetch(token: Any) -> Any:
        asked.append(token)
        return pages[tuple(token) if isinstance(token, list) else token]
        yield  # a plan: a generator

    return fetch


def run_fake_plan(plan: Any) -> Any:
    try:
        next(plan)
    except StopIteration as done:
        return done.value
    raise AssertionError("the fake plan made a request")


async def arun_fake_plan(plan: Any) -> Any:
    return run_fake_plan(plan)


@pytest.mark.parametrize("flavour", ["sync", "async"])
async def test_a_cursor_coming_back_after_another_is_a_loop_too(flavour: str) -> None:
    # a, b, a again: round in circles, with new items on every page.
    pages = {
        None: Page([1], raw=None, next="c-a"),
        "c-a": Page([2], raw=None, next="c-b"),
        "c-b": Page([3], raw=None, next="c-a"),
    }
    seen: list[int] = []
    with pytest.raises(errors.PaginationError) as raised:
        if flavour == "sync":
            seen.extend(SyncPager(run_fake_plan, fake_pages(pages, [])))
        else:
            async for item in AsyncPager(arun_fake_plan, fake_pages(pages, [])):
                seen.append(item)
    assert seen == [1, 2, 3]
    assert str(raised.value) == (
        "pagination stopped after 3 pages: the server repeated the cursor 'c-a'"
    )


@pytest.mark.parametrize("flavour", ["sync", "async"])
async def test_a_page_served_again_under_a_new_cursor_stops_the_pager(flavour: str) -> None:
    pages = {
        None: Page([1, 2], raw=None, next="c-a"),
        "c-a": Page([1, 2], raw=None, next="c-b"),  # the first page again, a fresh cursor
    }
    seen: list[int] = []
    with pytest.raises(errors.PaginationError) as raised:
        if flavour == "sync":
            seen.extend(SyncPager(run_fake_plan, fake_pages(pages, [])))
        else:
            async for item in AsyncPager(arun_fake_plan, fake_pages(pages, [])):
                seen.append(item)
    assert seen == [1, 2]  # nothing yielded twice
    assert str(raised.value) == (
        "pagination stopped after 1 pages: the server sent the previous page again"
    )


async def test_the_async_pager_catches_a_repeated_cursor_it_cannot_hash() -> None:
    # A cursor that is a JSON list: it cannot go into the set of seen cursors, so only a repeat
    # of the one just used can be seen, and that must still stop the loop.
    pages = {None: Page([1], raw=None, next=["a"]), ("a",): Page([2], raw=None, next=["a"])}
    asked: list[object] = []
    fetch = fake_pages(pages, asked)

    seen: list[int] = []
    with pytest.raises(errors.PaginationError) as raised:
        async for item in AsyncPager(arun_fake_plan, fetch):
            seen.append(item)

    assert seen == [1, 2] and asked == [None, ["a"]]
    assert str(raised.value) == (
        "pagination stopped after 2 pages: the server repeated the cursor ['a']"
    )
