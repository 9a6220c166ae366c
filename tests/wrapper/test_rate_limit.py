"""`rate_limit=`: every attempt takes a slot before it is sent, the wait counts against the
deadline, a 429's Retry-After pauses every client on the limit, quotas are per API key (named
by a fingerprint, never the key), and the limiter follows the one clock in force."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from twin_harness import Twin
from virtual_clock import VirtualClock
from virtual_clock import fresh_limit as limit
from wrapper_helpers import (
    ACCOUNT_UUID,
    FAST,
    PAUSE_PATH,
    SEQUENCE_ID,
    Handler,
    Server,
    paused,
    refused,
)

from sequence_clients import (
    AsyncBoastClient,
    AsyncUnifyClient,
    BoastClient,
    RateLimit,
    RetryPolicy,
    UnifyClient,
    _telemetry,
    errors,
)
from sequence_clients.generated.unify.api.sequences import pause_sequence


def unify(handler: Handler, **options: Any) -> UnifyClient:
    http = httpx.Client(transport=httpx.MockTransport(handler))
    return UnifyClient("key", httpx_client=http, retry_policy=FAST, **options)


def async_unify(handler: Handler, **options: Any) -> AsyncUnifyClient:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return AsyncUnifyClient("key", httpx_client=http, retry_policy=FAST, **options)


def busiest(arrivals: list[float], window: float) -> int:
    """The most requests that arrived within any `window` seconds (half-open)."""
    ordered = sorted(arrivals)
    return max(
        sum(1 for later in ordered[i:] if later - start < window) for i, start in enumerate(ordered)
    )


async def test_a_limiter_wait_past_the_deadline_is_refused_without_sending(
    twin: Twin, clock: VirtualClock
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
    twin: Twin, clock: VirtualClock
) -> None:
    server = Server(clock)
    client = twin(server, rate_limit=limit("1/5s"), deadline=10.0)
    await client.pause()
    await client.pause()

    assert len(server.received) == 2
    assert 5.0 <= server.arrivals[1] - server.arrivals[0] < 6.0
    assert 5.0 <= sum(clock.sleeps) < 6.0


async def test_a_limiter_wait_without_a_deadline_is_waited_however_long(
    twin: Twin, clock: VirtualClock
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
    twin: Twin,
    clock: VirtualClock,
    answer: httpx.Response,
    error_type: type[errors.APIStatusError],
    pause: float,
    caplog: pytest.LogCaptureFixture,
) -> None:
    shared = limit("100/1s")
    hit, other = Server(clock, answer), Server(clock)
    first = twin(hit, rate_limit=shared, max_retries=0)
    second = twin(other, rate_limit=shared)
    started = clock.now
    caplog.set_level(logging.INFO, logger="sequence_clients")
    with pytest.raises(error_type):
        await first.pause()
    await second.pause()

    waited = other.arrivals[0] - started  # it never met the refusal itself
    # (less a microsecond: the limiter's clock reads like an epoch time, in float seconds)
    assert pause - 1e-6 <= waited < pause + 1.0
    # Operators see who asked for the pause: one event, with the status that said so.
    (said,) = [r for r in caplog.records if getattr(r, "event", None) == _telemetry.PAUSE]
    assert (said.shared, said.status_code, said.levelno) == (True, answer.status_code, logging.INFO)  # type: ignore[attr-defined]


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
    twin: Twin, clock: VirtualClock, answer: httpx.Response
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
    twin: Twin, clock: VirtualClock
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


async def test_every_retry_takes_its_own_slot_on_either_twin(
    twin: Twin, clock: VirtualClock
) -> None:
    server = Server(clock, refused(503), refused(502), paused())
    client = twin(server, rate_limit=limit("1/4s"))
    await client.pause()

    first, second, third = server.arrivals
    # The back-off is milliseconds (FAST); the limit spaces the attempts a window apart.
    assert second - first >= 4.0 and third - second >= 4.0


def test_calls_beyond_the_limit_wait_for_the_window_instead_of_being_sent(
    clock: VirtualClock,
) -> None:
    server = Server(clock)
    with unify(server, rate_limit=limit("3/10s")) as client:
        for _ in range(7):
            client.call(pause_sequence.operation(SEQUENCE_ID))

    assert len(server.arrivals) == 7
    assert busiest(server.arrivals, 10.0) == 3
    # Seven calls at three per ten seconds: the seventh goes in the third window.
    assert server.arrivals[-1] - server.arrivals[0] >= 20.0
    assert clock.sleeps, "the waits were the driver's sleeps"


async def test_the_async_twin_waits_for_the_same_window(clock: VirtualClock) -> None:
    server = Server(clock)
    async with async_unify(server, rate_limit=limit("2/5s")) as client:
        for _ in range(5):
            await client.call(pause_sequence.operation(SEQUENCE_ID))

    assert busiest(server.arrivals, 5.0) == 2
    assert server.arrivals[-1] - server.arrivals[0] >= 10.0


def test_every_retry_takes_its_own_slot(clock: VirtualClock) -> None:
    server = Server(clock, refused(503), refused(502), paused())
    with unify(server, rate_limit=limit("1/4s")) as client:
        assert client.call(pause_sequence.operation(SEQUENCE_ID)).is_paused

    first, second, third = server.arrivals
    # The back-off is milliseconds (FAST); the limit spaces the attempts a window apart.
    assert second - first >= 4.0 and third - second >= 4.0


@pytest.mark.parametrize(
    ("answer", "error_type", "pause"),
    [
        (refused(429, **{"Retry-After": "6"}), errors.RateLimitError, 6.0),
        (refused(503, **{"retry-after-ms": "2500"}), errors.ServerError, 2.5),
    ],
    ids=["429-retry-after", "503-retry-after-ms"],
)
def test_a_retry_after_pauses_every_client_on_the_limit(
    clock: VirtualClock,
    answer: httpx.Response,
    error_type: type[errors.APIStatusError],
    pause: float,
) -> None:
    shared = limit("100/1s")
    hit = Server(clock, answer)
    other = Server(clock)
    with (
        unify(hit, rate_limit=shared, max_retries=0) as first,
        unify(other, rate_limit=shared) as second,
    ):
        started = clock.now
        with pytest.raises(error_type):
            first.call(pause_sequence.operation(SEQUENCE_ID))
        second.call(pause_sequence.operation(SEQUENCE_ID))

    assert other.arrivals[0] - started >= pause  # it never met the 429 or 503 itself


def test_a_retry_after_beyond_the_policy_is_not_imposed_on_everyone(clock: VirtualClock) -> None:
    shared = limit("100/1s")
    hit = Server(clock, refused(429, **{"Retry-After": "3600"}))
    other = Server(clock)
    with unify(hit, rate_limit=shared) as first, unify(other, rate_limit=shared) as second:
        started = clock.now
        with pytest.raises(errors.RateLimitError):
            first.call(pause_sequence.operation(SEQUENCE_ID))  # raised at once, not retried
        second.call(pause_sequence.operation(SEQUENCE_ID))

    assert other.arrivals[0] - started < 1.0


def test_the_deadline_counts_the_wait_and_nothing_is_sent_past_it(clock: VirtualClock) -> None:
    server = Server(clock)
    with unify(server, rate_limit=limit("1/1m"), deadline=10) as client:
        client.call(pause_sequence.operation(SEQUENCE_ID))
        with pytest.raises(errors.DeadlineExceededError) as raised:
            client.call(pause_sequence.operation(SEQUENCE_ID))

    assert len(server.arrivals) == 1
    assert clock.sleeps == []  # it says so at once: no wait, and no back-off retrying the refusal
    assert raised.value.method == "POST" and "/pause" in raised.value.url


def test_a_wait_within_the_deadline_is_waited(clock: VirtualClock) -> None:
    server = Server(clock)
    with unify(server, rate_limit=limit("1/5s"), deadline=10) as client:
        client.call(pause_sequence.operation(SEQUENCE_ID))
        client.call(pause_sequence.operation(SEQUENCE_ID))

    assert len(server.arrivals) == 2 and server.arrivals[1] - server.arrivals[0] >= 5.0


# The default back-off, and milliseconds of it (FAST): a call waiting for its slot is not retrying.
@pytest.mark.parametrize("backoff", [{}, {"retry_policy": FAST}], ids=["default", "fast"])
async def test_cancelling_a_waiting_call_cancels_its_wait_and_sends_nothing(
    backoff: dict[str, Any],
) -> None:
    server = Server(None)
    http = httpx.AsyncClient(transport=httpx.MockTransport(server))
    async with AsyncUnifyClient(
        "key", httpx_client=http, rate_limit=limit("1/1m"), **backoff
    ) as client:
        await client.call(pause_sequence.operation(SEQUENCE_ID))
        waiting = asyncio.create_task(client.call(pause_sequence.operation(SEQUENCE_ID)))
        await asyncio.sleep(0.05)
        assert not waiting.done()  # waiting for the next minute's slot
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting

    assert len(server.arrivals) == 1


def test_the_string_form_is_one_window_for_the_vendors_clients_in_a_process(
    clock: VirtualClock,
) -> None:
    text = f"2/{uuid.uuid4().int % 1000 + 1000}s"  # a limit no other test uses
    servers = [Server(clock) for _ in range(3)]
    clients = [unify(server, rate_limit=text) for server in servers]
    clients.append(clients[0].with_options(max_retries=1))  # a copy keeps the limit
    copy_server = servers[0]
    for client in clients:
        client.call(pause_sequence.operation(SEQUENCE_ID))
        client.close()

    arrivals = sorted(t for server in servers for t in server.arrivals)
    assert len(arrivals) == 4 and copy_server.arrivals
    assert busiest(arrivals, 1000.0) == 2  # the third and fourth waited for the next window
    assert clients[3]._rate_limit is clients[0]._rate_limit


def test_with_options_can_change_or_drop_the_limit(clock: VirtualClock) -> None:
    server = Server(clock)
    with unify(server, rate_limit=limit("1/1h")) as limited:
        limited.call(pause_sequence.operation(SEQUENCE_ID))
        with limited.with_options(rate_limit=None) as unlimited:
            unlimited.call(pause_sequence.operation(SEQUENCE_ID))
        with limited.with_options(rate_limit=limit("5/1h")) as other:
            other.call(pause_sequence.operation(SEQUENCE_ID))

    assert len(server.arrivals) == 3 and clock.sleeps == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"rate_limit": "fast"}, "not a rate limit: 'fast'"),
        ({"rate_limit": "0/s"}, "must be positive"),
        ({"rate_limit": 100}, "rate_limit must be a string"),
        ({"rate_limit_storage": "redis://localhost"}, "needs a rate_limit"),
        ({"rate_limit": RateLimit("5/s"), "rate_limit_storage": "memory://"}, "has its storage"),
        ({"rate_limit": "5/s", "rate_limit_storage": "mongodb://x"}, "memory:// or redis://"),
    ],
)
def test_a_bad_rate_limit_option_is_a_typed_error(options: dict[str, Any], message: str) -> None:
    with pytest.raises(errors.InvalidRequestError, match=message):
        UnifyClient("key", **options)
    with pytest.raises(errors.InvalidRequestError, match=message):
        AsyncBoastClient(access_token="t", **options)


def test_every_client_takes_the_option_and_repr_hides_the_storage_password() -> None:
    storage = "redis://user:hunter2@127.0.0.1:1/0"
    made = [
        UnifyClient("key", rate_limit="9/s", rate_limit_storage=storage),
        AsyncUnifyClient("key", rate_limit="9/s", rate_limit_storage=storage),
        BoastClient(account_id=ACCOUNT_UUID, access_token="t", rate_limit="9/s",
                    rate_limit_storage=storage),
        AsyncBoastClient(access_token="t", rate_limit="9/s", rate_limit_storage=storage),
    ]  # fmt: skip
    for client in made:
        shown = repr(client)
        assert "rate_limit=RateLimit('9/s'" in shown and "hunter2" not in shown
    assert made[0]._rate_limit is made[1]._rate_limit  # one Unify quota per process
    assert made[2]._rate_limit is made[3]._rate_limit
    assert made[0]._rate_limit is not made[2]._rate_limit  # each vendor has its own
    assert "rate_limit" not in repr(UnifyClient("key"))  # opt-in: no limit unless asked


def test_each_api_key_has_its_own_quota_named_by_a_fingerprint_never_the_key() -> None:
    first = UnifyClient("sk_first_0123456789", rate_limit="9/s")
    same = AsyncUnifyClient("sk_first_0123456789", rate_limit="9/s")
    other = UnifyClient("sk_other_0123456789", rate_limit="9/s")
    assert first._rate_limit is same._rate_limit  # one quota per key, whichever twin
    assert first._rate_limit is not other._rate_limit  # two keys on one Redis: two quotas
    keys = {repr(client).split("key='")[1].split("'")[0] for client in (first, other)}
    assert len(keys) == 2 and all(k.startswith("unify-") and len(k) == 22 for k in keys)
    for client in (first, same, other):
        assert "0123456789" not in repr(client)


def test_boast_quotas_follow_the_oauth_app_and_a_bare_token_shares_the_vendors() -> None:
    saved: list[object] = []
    store = SimpleNamespace(save=saved.append)

    def boast(client_id: str | None) -> BoastClient:
        if client_id is None:
            return BoastClient(account_id=ACCOUNT_UUID, access_token="t", rate_limit="9/s")
        return BoastClient(
            account_id=ACCOUNT_UUID, access_token="t", refresh_token="r", client_id=client_id,
            client_secret="s", token_store=store, rate_limit="9/s",
        )  # fmt: skip

    app_one, app_two, bare = boast("app-one"), boast("app-two"), boast(None)
    assert app_one._rate_limit is not app_two._rate_limit
    assert bare._rate_limit is not None and bare._rate_limit.key == "boast"
    assert app_one._rate_limit is not None and app_one._rate_limit.key.startswith("boast-")


def test_the_limiters_window_follows_the_clock_in_force() -> None:
    """No module global patched: the in-process window reads wall time through `_clock`."""
    from sequence_clients import _clock

    quota = limit("2/10s")
    virtual = VirtualClock(start=1_800_000_000.0)
    with _clock.use(virtual):
        assert [quota.wait_time(), quota.wait_time()] == [0.0, 0.0]
        assert quota.wait_time() == 10.0
        virtual.sleep(10.0)  # a hit exactly one window old still counts (as in `limits`)
        assert quota.wait_time() == 0.001
        virtual.sleep(0.001)
        assert quota.wait_time() == 0.0


class _MonotonicOnly:
    """A `Clock` written before `time()` joined the protocol: no wall time of its own."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    async def asleep(self, seconds: float) -> None:
        self.now += seconds


def test_a_clock_without_wall_time_leaves_the_limiter_on_the_real_one() -> None:
    from sequence_clients import _clock

    quota = limit("1/1h")
    with _clock.use(_MonotonicOnly()):
        assert _clock.wall_time() == pytest.approx(time.time(), abs=5)
        assert quota.wait_time() == 0.0
        assert 3590 < quota.wait_time() <= 3600


def test_setting_no_clock_puts_the_real_one_back() -> None:
    from sequence_clients import _clock

    before = _clock.current()
    try:
        _clock.set_clock(_MonotonicOnly())
        _clock.set_clock(None)
        assert _clock.current() is _clock.REAL
        assert _clock.wall_time() == pytest.approx(time.time(), abs=5)
    finally:
        _clock.set_clock(before)
