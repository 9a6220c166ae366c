"""A refresh is part of the call: with a token endpoint that never answers, calls with
`deadline=2` end by about 2 s with DeadlineExceededError, whether they made the token request,
waited for another thread's refresh or for the token store's lock; none waits 30 s."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from grant_helpers import LONG_AGO

from sequence_clients import (
    AsyncBoastClient,
    BoastClient,
    FileTokenStore,
    OAuthToken,
    _clock,
    errors,
    oauth,
)
from sequence_clients._telemetry import TOKEN_WAIT

DEADLINE = 2.0
LATE = 1.0  # how much later than the deadline a call may end on a busy machine
CALLERS = 4


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    """A server that accepts connections and never answers."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        for connection in held:
            connection.close()
        server.close()


def expired_token() -> OAuthToken:
    return OAuthToken("old-access", "old-refresh", LONG_AGO)


def options(base: str, store: FileTokenStore) -> dict[str, object]:
    return {
        "account_id": "7b3f1c2e-1d2a-4c1e-9f00-000000000001",
        "access_token": "old-access",
        "refresh_token": "old-refresh",
        "expires_at": LONG_AGO,
        "client_id": "client",
        "client_secret": "secret",
        "token_store": store,
        "base_url": base,
        "auth_base_url": base,
        "deadline": DEADLINE,
    }


def test_calls_that_refresh_keep_their_deadline(silent_endpoint: str, tmp_path: Path) -> None:
    path = tmp_path / "boast.json"
    FileTokenStore(path).save(expired_token())
    # Two store objects on one file: half the callers wait for another thread's refresh, the
    # other half for the file's lock, which the first refresher holds.
    stores = [FileTokenStore(path), FileTokenStore(path)]
    outcomes: list[tuple[BaseException | None, float]] = []

    def call(index: int) -> None:
        store = stores[index % 2]
        with BoastClient(**options(silent_endpoint, store)) as client:  # type: ignore[arg-type]
            started = time.monotonic()
            try:
                client.get_account()
                outcomes.append((None, time.monotonic() - started))
            except Exception as error:
                outcomes.append((error, time.monotonic() - started))

    threads = [threading.Thread(target=call, args=(i,)) for i in range(CALLERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(outcomes) == CALLERS
    for error, took in outcomes:
        assert isinstance(error, errors.DeadlineExceededError)
        assert error.maybe_applied is False  # the API request itself was never sent
        assert DEADLINE - 0.1 < took < DEADLINE + LATE
    # The token in the store is untouched: nothing was refreshed.
    assert FileTokenStore(path).load() == expired_token()


async def test_async_calls_that_refresh_keep_their_deadline(
    silent_endpoint: str, tmp_path: Path
) -> None:
    store = FileTokenStore(tmp_path / "boast.json")
    store.save(expired_token())
    clients = [AsyncBoastClient(**options(silent_endpoint, store)) for _ in range(2)]  # type: ignore[arg-type]

    async def call(client: AsyncBoastClient) -> tuple[BaseException | None, float]:
        started = time.monotonic()
        try:
            await client.get_account()
        except Exception as error:
            return error, time.monotonic() - started
        return None, time.monotonic() - started

    try:
        outcomes = await asyncio.gather(*(call(clients[i % 2]) for i in range(CALLERS)))
    finally:
        for client in clients:
            await client.close()
    for error, took in outcomes:
        assert isinstance(error, errors.DeadlineExceededError)
        assert DEADLINE - 0.1 < took < DEADLINE + LATE


async def test_an_async_call_arriving_during_another_task_s_refresh_says_it_waits(
    silent_endpoint: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = FileTokenStore(tmp_path / "boast.json")
    store.save(expired_token())
    caplog.set_level(logging.INFO, logger="sequence_clients")
    async with AsyncBoastClient(**{**options(silent_endpoint, store), "deadline": 1.0}) as client:  # type: ignore[arg-type]
        first = asyncio.create_task(client.get_account())
        await asyncio.sleep(0.3)  # refreshing now
        with pytest.raises(errors.DeadlineExceededError):
            await client.get_account()
        with pytest.raises(errors.DeadlineExceededError):
            await first
    # (A wait for the store's lock by the refreshing task may be told too on a busy machine.)
    waits = [(r.what, r.holder) for r in caplog.records if hasattr(r, "what")]  # type: ignore[attr-defined]
    assert waits == [("another task's refresh", "task")]


@pytest.mark.parametrize("in_async", [False, True])
async def test_a_token_request_timing_out_before_the_deadline_is_a_timeout(
    silent_endpoint: str, tmp_path: Path, in_async: bool
) -> None:
    store = FileTokenStore(tmp_path / "boast.json")
    store.save(expired_token())
    settings = {
        **options(silent_endpoint, store),
        "deadline": 30.0,
        "timeout": 0.3,
        "max_retries": 0,
    }
    started = time.monotonic()
    raised = await call_once(settings, in_async)
    # The call had time left: the token endpoint's own timeout is what the caller meets.
    assert type(raised) is errors.APITimeoutError
    assert time.monotonic() - started < 15.0  # long before the deadline


async def test_an_async_call_waiting_for_a_thread_s_refresh_keeps_its_deadline(
    silent_endpoint: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = FileTokenStore(tmp_path / "boast.json")
    store.save(expired_token())
    caplog.set_level(logging.INFO, logger="sequence_clients")
    # A sync client in a thread, with a longer deadline, is refreshing when the async call
    # starts, and still is when the async call's deadline comes.
    holder = BoastClient(**{**options(silent_endpoint, store), "deadline": DEADLINE + 3})  # type: ignore[arg-type]
    refreshing = threading.Thread(target=lambda: _ignore(holder.get_account))
    refreshing.start()
    await asyncio.sleep(0.3)
    client = AsyncBoastClient(**options(silent_endpoint, store))  # type: ignore[arg-type]
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.1)
            ticks += 1

    ticking = asyncio.create_task(tick())
    started = time.monotonic()
    try:
        with pytest.raises(errors.DeadlineExceededError):
            await client.get_account()
    finally:
        ticking.cancel()
        await client.close()
    assert DEADLINE - 0.1 < time.monotonic() - started < DEADLINE + LATE
    assert ticks >= DEADLINE / 0.1 / 2  # the wait left the event loop free
    refreshing.join(timeout=30)
    holder.close()
    ours = threading.get_ident()  # the async call's records, not the refreshing thread's
    waits = [
        (getattr(r, "what", None), r.holder)  # type: ignore[attr-defined]
        for r in caplog.records
        if getattr(r, "event", None) == TOKEN_WAIT and r.thread == ours
    ]
    # It waited for the thread, and only for it: never reached the store's lock.
    assert waits == [("another thread's refresh", "thread")]


def test_a_call_gives_up_on_a_store_lock_another_process_holds(
    silent_endpoint: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "boast.json"
    FileTokenStore(path).save(expired_token())
    caplog.set_level(logging.INFO, logger="sequence_clients")
    short = {**options(silent_endpoint, FileTokenStore(path)), "deadline": 0.5}
    with (
        FileTokenStore(path).lock(1.0),  # as another process holding it would
        BoastClient(**short) as client,  # type: ignore[arg-type]
        pytest.raises(errors.DeadlineExceededError) as raised,
    ):
        client.get_account()
    assert raised.value.maybe_applied is False
    gave_up = [r for r in caplog.records if getattr(r, "timed_out", None) is not None]
    assert [(r.event, r.holder, r.timed_out, r.levelno) for r in gave_up] == [  # type: ignore[attr-defined]
        (TOKEN_WAIT, "token_store", True, logging.INFO)
    ]


def _held_by_another_process() -> None:
    raise TimeoutError("held by another process")

    @contextlib.asynccontextmanager
    async def alock(self, timeout: float) -> AsyncIterator[None]:
        raise TimeoutError("held by another process")
        yield


@pytest.mark.parametrize("in_async", [False, True])
async def test_without_a_deadline_a_store_lock_not_had_is_a_token_store_error(
    silent_endpoint: str, in_async: bool
) -> None:
    settings = {
        **options(silent_endpoint, _MemoryStore(expired_token(), on_lock=_held_by_another_process)),
        "deadline": None,
    }  # type: ignore[arg-type]
    raised = await call_once(settings, in_async)
    assert isinstance(raised, errors.TokenStoreAccessError)
    assert not isinstance(raised, errors.DeadlineExceededError)  # no deadline to blame


def _ignore(call: Callable[[], object]) -> None:
    with contextlib.suppress(errors.SequenceClientError):
        call()


class _FakeClock:
    """Moves only when the code sleeps or a handler says so; in steps of 1e-9 s, so that a
    poll reaches its end exactly. Gives up after many sleeps (a wait that never ends)."""

    def __init__(self) -> None:
        self.now, self.sleeps = 0.0, 0

    def monotonic(self) -> float:
        return self.now

    time = monotonic

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        if self.sleeps > 10_000:
            raise RuntimeError("a wait that never ends")
        self.now = round(self.now + seconds, 9)

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)


TOKEN_ANSWER = {"access_token": "new-access", "refresh_token": "new-refresh", "expires_in": 7200}


class _MemoryStore:
    """A shared token store in memory; `on_lock` runs as its lock is taken."""

    def __init__(self, token: OAuthToken, on_lock: Callable[[], None] = lambda: None) -> None:
        self.token, self.on_lock = token, on_lock

    def load(self) -> OAuthToken:
        return self.token

    def save(self, token: OAuthToken) -> None:
        self.token = token

    @contextlib.contextmanager
    def lock(self, timeout: float) -> Iterator[None]:
        self.on_lock()
        yield

    @contextlib.asynccontextmanager
    async def alock(self, timeout: float) -> AsyncIterator[None]:
        self.on_lock()
        yield


def mocked(
    store: object, handle: Callable[[httpx.Request], httpx.Response], in_async: bool, **more: Any
) -> dict[str, Any]:
    token = store.token  # type: ignore[attr-defined]
    transport = httpx.MockTransport(handle)
    kind = httpx.AsyncClient if in_async else httpx.Client
    return {
        **options("https://boast.invalid", store),  # type: ignore[arg-type]
        "access_token": token.access_token, "refresh_token": token.refresh_token,
        "expires_at": token.expires_at, "max_retries": 0,
        "httpx_client": kind(transport=transport), "auth_httpx_client": kind(transport=transport),
        **more,
    }  # fmt: skip


async def call_once(settings: dict[str, Any], in_async: bool) -> BaseException | None:
    try:
        if in_async:
            async with AsyncBoastClient(**settings) as aclient:
                await aclient.get_account()
        else:
            with BoastClient(**settings) as client:
                client.get_account()
    except Exception as error:
        return error
    return None


@pytest.mark.parametrize("in_async", [False, True])
async def test_a_refresh_after_a_401_keeps_the_call_s_deadline(in_async: bool) -> None:
    """The token is not expired, Boast answers 401; the refresh that follows is bounded by
    the call's deadline like a proactive one."""
    clock = _FakeClock()
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/oauth/token"):
            clock.now += 2.0  # past the one-second deadline
            raise httpx.ReadTimeout("timed out", request=request)
        return httpx.Response(401, json={"error": "invalid_token"})

    store = _MemoryStore(OAuthToken("valid-looking", "old-refresh", later))
    with _clock.use(clock):
        error = await call_once(mocked(store, handle, in_async, deadline=1.0), in_async)
    assert isinstance(error, errors.DeadlineExceededError)
    assert error.method == "GET" and "/accounts/" in str(error.url)


@pytest.mark.parametrize("in_async", [False, True])
async def test_a_deadline_just_beyond_the_slack_still_asks_the_token_endpoint(
    in_async: bool,
) -> None:
    """Once the store's lock is had, exactly _SLACK left is still time for a token request."""
    clock = _FakeClock()
    asked: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/oauth/token"):
            asked.append(request.method)
            return httpx.Response(200, json=TOKEN_ANSWER)
        return httpx.Response(503)

    def late() -> None:
        clock.now = 0.1 - oauth._SLACK  # ends - now == _SLACK, exactly

    store = _MemoryStore(expired_token(), on_lock=late)
    with _clock.use(clock):
        await call_once(mocked(store, handle, in_async, deadline=0.1), in_async)
    assert asked == ["POST"]
    assert store.token.access_token == "new-access"


async def test_an_async_wait_for_a_thread_s_refresh_ends_when_its_time_is_up() -> None:
    """The async call polls the grant's thread lock until nothing is left of its deadline."""
    clock = _FakeClock()

    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=TOKEN_ANSWER)

    store = _MemoryStore(expired_token())
    thread_lock = oauth._grant_of(store).thread_lock  # type: ignore[arg-type]
    assert thread_lock.acquire(blocking=False)  # as a sync client refreshing in a thread
    try:
        with _clock.use(clock):
            error = await call_once(mocked(store, handle, True, deadline=1.0), True)
    finally:
        thread_lock.release()
    assert isinstance(error, errors.DeadlineExceededError)
    assert clock.now == 1.0
