"""The exact wording of the messages a user reads, in one table.

Each case builds a message through the code that makes it (a client answering or failing
through a mock transport, the error class itself, the bulk engine run on fake rows, a campaign
file refused, the CLI's preflight) and names the text it must read, word for word. Tests
elsewhere assert types and attributes (status_code, codes, method, url, maybe_applied,
retry_after…), exit codes, and the tokens a message names (a path, a line, an option, an id),
so a change to a message's wording or frame is one edit here. (The sentences the campaign
commands print from sequence_clients.cli.messages.MESSAGES are held as templates by
campaign_messages.json, beside this file, checked by test_messages.py.)
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import datetime as dt
import fcntl
import logging
import os
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import redis
from boast_grant import boast_refusing_to_save
from bulk_helpers import ENROLLMENTS_URL, status
from bulk_helpers import rows as bulk_rows

from sequence_clients import (
    AsyncBoastClient,
    AsyncUnifyClient,
    BoastClient,
    FileTokenStore,
    OAuthToken,
    RateLimit,
    RedisTokenStore,
    RetryPolicy,
    UnifyClient,
    _clock,
    _telemetry,
    errors,
)
from sequence_clients._extras import needs_extra
from sequence_clients._pagination import Page, SyncPager
from sequence_clients.bulk.engine import SERVER_TROUBLE_RUN, run_bulk_enroll
from sequence_clients.bulk.journal import Journal, JournalLock
from sequence_clients.bulk.rows import UNIFY_ROWS, Row, open_csv
from sequence_clients.bulk.vendors import preflight_failure, unify_enroller
from sequence_clients.cli.login import login
from sequence_clients.generated.unify.api.sequences import pause_sequence
from sequence_clients.oauth import exchange_code
from sequence_clients.sandbox import Sandbox
from sequence_clients.sandbox.__main__ import parse_port

SEQUENCE_ID = uuid.UUID("3d1f0e2c-5b4a-4c3d-9e8f-7a6b5c4d3e2f")
PAUSE_URL = f"https://api.unifygtm.com/sequences/v1/sequences/{SEQUENCE_ID}/pause"
SEQUENCES = "https://api.unifygtm.com/sequences/v1/sequences?limit=100"
Handler = Callable[[httpx.Request], httpx.Response]


@dataclass(frozen=True)
class Case:
    id: str
    build: Callable[[], object]  # the error (or text) the user meets
    text: str


def _unify(handler: Handler) -> UnifyClient:
    http = httpx.Client(transport=httpx.MockTransport(handler))
    policy = RetryPolicy(base_delay=0.001, max_delay=0.002)
    return UnifyClient("secret-key-123", httpx_client=http, retry_policy=policy, max_retries=0)


def pausing(handler: Handler) -> Callable[[], errors.SequenceClientError]:
    """What `unify.call(pause_sequence.operation(...))` raises when `handler` answers."""

    def build() -> errors.SequenceClientError:
        with _unify(handler) as unify:
            try:
                unify.call(pause_sequence.operation(SEQUENCE_ID))
            except errors.SequenceClientError as error:
                return error
        raise AssertionError("the call did not fail")

    return build


def listing(handler: Handler) -> Callable[[], errors.SequenceClientError]:
    """What reading `unify.list_sequences()` raises when `handler` answers."""

    def build() -> errors.SequenceClientError:
        with _unify(handler) as unify:
            try:
                list(unify.list_sequences())
            except errors.SequenceClientError as error:
                return error
        raise AssertionError("the list did not fail")

    return build


def answer(response: httpx.Response) -> Handler:
    return lambda request: response


def raise_(make: Callable[[httpx.Request], Exception]) -> Handler:
    def handle(request: httpx.Request) -> httpx.Response:
        raise make(request)

    return handle


def refused(text: str) -> errors.InvalidRequestError:
    try:
        with UnifyClient("key") as unify:
            unify.get_enrollment(text)
    except errors.InvalidRequestError as error:
        return error
    raise AssertionError("not refused")


def raised_by(action: Callable[[], object]) -> Callable[[], errors.SequenceClientError]:
    """What `action` raises (it must raise one of ours)."""

    def build() -> errors.SequenceClientError:
        try:
            action()
        except errors.SequenceClientError as error:
            return error
        raise AssertionError("nothing was raised")

    return build


class _Clock:
    """Moves only when the code sleeps, or when a request takes time (`took`)."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    time = monotonic

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)


def deadline_reached() -> errors.SequenceClientError:
    """A one-second deadline on a call answered 503, each answer taking 0.4 s."""
    clock = _Clock()

    def handle(request: httpx.Request) -> httpx.Response:
        clock.now += 0.4
        return httpx.Response(503, json={"status": "x", "message": "slow down"})

    with _clock.use(clock):
        http = httpx.Client(transport=httpx.MockTransport(handle))
        policy = RetryPolicy(base_delay=0.001, max_delay=0.01)
        with UnifyClient(
            "key", httpx_client=http, retry_policy=policy, max_retries=10, deadline=1.0
        ) as unify:
            return raised_by(lambda: unify.call(pause_sequence.operation(SEQUENCE_ID)))()


def deadline_reached_mid_body() -> errors.SequenceClientError:
    """A one-second deadline that runs out while the answer's body is still coming."""
    clock = _Clock()

    def body() -> Iterator[bytes]:
        yield b'{"id": "'
        clock.now += 2.0
        yield b'x", "is_paused": true}'

    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body())

    with _clock.use(clock):
        http = httpx.Client(transport=httpx.MockTransport(handle))
        with UnifyClient("key", httpx_client=http, max_retries=0, deadline=1.0) as unify:
            return raised_by(lambda: unify.call(pause_sequence.operation(SEQUENCE_ID)))()


def on_a_second_event_loop() -> errors.SequenceClientError:
    """An async client that sent under one asyncio.run(), used again under another."""

    async def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"status": "success", "sequences": [], "next_cursor": None})

    http = httpx.AsyncClient(transport=httpx.MockTransport(handle))
    unify = AsyncUnifyClient("key", httpx_client=http)

    async def listed() -> list[object]:
        return [sequence async for sequence in unify.list_sequences()]

    asyncio.run(listed())
    return raised_by(lambda: asyncio.run(listed()))()


def listing_sequences(unify: UnifyClient) -> None:
    list(unify.list_sequences())


def on_a_closed_client() -> errors.SequenceClientError:
    unify = _unify(lambda request: httpx.Response(200, json={"sequences": []}))
    unify.close()
    return raised_by(lambda: listing_sequences(unify))()


def over_a_closed_httpx_client() -> errors.SequenceClientError:
    http = httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(200)))
    unify = UnifyClient("key", httpx_client=http)
    http.close()
    return raised_by(lambda: listing_sequences(unify))()


def in_a_forked_child() -> str:
    """The message a child process meets using a client built over the caller's httpx client,
    and used, before os.fork() (the child writes it to a pipe and exits)."""
    unify = _unify(lambda request: httpx.Response(200, json={"sequences": []}))
    listing_sequences(unify)
    reading, writing = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            text = str(raised_by(lambda: listing_sequences(unify))())
        except BaseException as error:  # anything else fails the case, in the parent
            text = f"not a typed error: {error!r}"
        os.write(writing, text.encode())
        os._exit(0)
    os.close(writing)
    with os.fdopen(reading, "rb") as pipe:
        text = pipe.read().decode()
    os.waitpid(pid, 0)
    unify.close()
    return text


def paging(pages: dict[Any, Page[int]]) -> Callable[[], errors.SequenceClientError]:
    """What a pager raises reading `pages` (cursor -> page; a list cursor is looked up as a tuple)."""

    def fetch(token: Any) -> Iterator[Any]:
        return pages[tuple(token) if isinstance(token, list) else token]
        yield  # a plan: a generator

    def run(plan: Any) -> Any:
        try:
            next(plan)
        except StopIteration as done:
            return done.value
        raise AssertionError("the fake plan made a request")

    return raised_by(lambda: list(SyncPager(run, fetch)))


GRANT = {"client_id": "cid", "client_secret": "csecret", "redirect_uri": "https://app.example/cb"}
TOKEN_URL = "https://app.boast.io/oauth/token"


def exchanging(
    handler: Handler, code: str = "c", **grant: str
) -> Callable[[], errors.SequenceClientError]:
    http = httpx.Client(transport=httpx.MockTransport(handler))
    return raised_by(lambda: exchange_code(code, **{**GRANT, **grant}, httpx_client=http))


def store_refusing() -> errors.SequenceClientError:
    """A client whose token store cannot save the rotated token."""
    boast = boast_refusing_to_save()
    with boast:
        return raised_by(lambda: list(boast.list_sequences()))()


def enrolling(mailboxes: object, **options: Any) -> Callable[[], errors.SequenceClientError]:
    unify = UnifyClient("key")
    return raised_by(
        lambda: unify.enroll(SEQUENCE_ID, PERSON_ID, mailbox_emails=mailboxes, **options)
    )


def unify_refusing(
    method: str, *args: Any, **kwargs: Any
) -> Callable[[], errors.SequenceClientError]:
    return raised_by(lambda: getattr(UnifyClient("key"), method)(*args, **kwargs))


def heard(action: Callable[[], object], event: str, holder: str | None = None) -> Callable[[], str]:
    """The message of the one log record `event` (of `holder`, if given: a wait for the token
    store's lock may be told too on a busy machine) that `action` leaves (what it raises aside)."""

    def build() -> str:
        records: list[logging.LogRecord] = []
        handler = logging.Handler(logging.DEBUG)
        handler.emit = records.append  # type: ignore[method-assign]
        logger = logging.getLogger("sequence_clients")
        level = logger.level
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
        try:
            with contextlib.suppress(Exception):
                action()
        finally:
            logger.removeHandler(handler)
            logger.setLevel(level)
        (said,) = [
            r.getMessage()
            for r in records
            if getattr(r, "event", None) == event and holder in (None, getattr(r, "holder", None))
        ]
        return said

    return build


class _MemoryStore:
    """A shared token store in memory; its lock is held by someone else when `busy`."""

    def __init__(self, token: OAuthToken | None = None, busy: bool = False) -> None:
        self.token, self.busy = token, busy

    def load(self) -> OAuthToken | None:
        return self.token

    def save(self, token: OAuthToken) -> None:
        self.token = token

    @contextlib.contextmanager
    def lock(self, timeout: float) -> Iterator[None]:
        if self.busy:
            raise TimeoutError("held elsewhere")
        yield

    @contextlib.asynccontextmanager
    async def alock(self, timeout: float) -> AsyncIterator[None]:
        with self.lock(timeout):
            yield


BOAST_ACCOUNT = uuid.UUID("7b3f1c2e-1d2a-4c1e-9f00-000000000001")


def _invalid_grant(request: httpx.Request) -> httpx.Response:
    return httpx.Response(400, json={"error": "invalid_grant", "error_description": "revoked"})


def refreshing(
    store: object, handle: Handler = _invalid_grant, deadline: float | None = None
) -> Callable[[], object]:
    """A call that must refresh its expired token; the token endpoint answers `handle`
    (invalid_grant unless told)."""

    def call() -> object:
        transport = httpx.MockTransport(handle)
        boast = BoastClient(
            account_id=BOAST_ACCOUNT, access_token="a0", refresh_token="r0",
            expires_at=dt.datetime(2000, 1, 1, tzinfo=dt.UTC), client_id="id",
            client_secret="secret", token_store=store, deadline=deadline,
            httpx_client=httpx.Client(transport=transport),
            auth_httpx_client=httpx.Client(transport=transport),
        )  # fmt: skip
        with boast:
            return boast.get_account()

    return call


def token_endpoint_past_the_deadline() -> Exception:
    """A call with a one-second deadline whose token request times out two seconds in."""
    clock = _Clock()

    def handle(request: httpx.Request) -> httpx.Response:
        clock.now += 2.0
        raise httpx.ReadTimeout("timed out", request=request)

    with _clock.use(clock):
        return raising(refreshing(_MemoryStore(), handle, deadline=1.0))


def behind_another_task() -> Exception:
    """An async call arriving while another task of its client refreshes, past its deadline."""

    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(1.0)
        return httpx.Response(503)

    async def calls() -> Exception:
        transport = httpx.MockTransport(slow)
        async with AsyncBoastClient(
            account_id=BOAST_ACCOUNT, access_token="a0", refresh_token="r0",
            expires_at=dt.datetime(2000, 1, 1, tzinfo=dt.UTC), client_id="id",
            client_secret="secret", token_store=_MemoryStore(), deadline=0.3,
            httpx_client=httpx.AsyncClient(transport=transport),
            auth_httpx_client=httpx.AsyncClient(transport=transport),
        ) as boast:  # fmt: skip
            first = asyncio.ensure_future(boast.get_account())
            await asyncio.sleep(0.05)
            try:
                await boast.get_account()
            except Exception as error:
                return error
            finally:
                await asyncio.gather(first, return_exceptions=True)
        raise AssertionError("nothing was raised")

    return asyncio.run(calls())


def behind_another_thread() -> Exception:
    """An async call arriving while a sync client of the same grant refreshes in a thread."""
    store = _MemoryStore()

    def slow(request: httpx.Request) -> httpx.Response:
        time.sleep(1.0)
        return httpx.Response(503)

    # The thread's call gives up at its own deadline, after the async call's.
    holder = threading.Thread(target=lambda: raising(refreshing(store, slow, deadline=0.6)))
    holder.start()
    time.sleep(0.1)

    async def call() -> Exception:
        transport = httpx.MockTransport(slow)
        async with AsyncBoastClient(
            account_id=BOAST_ACCOUNT, access_token="a0", refresh_token="r0",
            expires_at=dt.datetime(2000, 1, 1, tzinfo=dt.UTC), client_id="id",
            client_secret="secret", token_store=store, deadline=0.3,
            httpx_client=httpx.AsyncClient(transport=transport),
            auth_httpx_client=httpx.AsyncClient(transport=transport),
        ) as boast:  # fmt: skip
            try:
                await boast.get_account()
            except Exception as error:
                return error
        raise AssertionError("nothing was raised")

    try:
        return asyncio.run(call())
    finally:
        holder.join()


def behind_another_thread_sync() -> Exception:
    """A sync call arriving while another client of the same grant refreshes in a thread."""
    store, asked = _MemoryStore(), threading.Event()

    def slow(request: httpx.Request) -> httpx.Response:
        asked.set()  # the holder is inside its refresh, the grant's thread lock held
        time.sleep(1.0)
        return httpx.Response(503)

    holder = threading.Thread(target=lambda: raising(refreshing(store, slow, deadline=0.6)))
    holder.start()
    assert asked.wait(10)
    try:
        return raising(refreshing(store, slow, deadline=0.3))
    finally:
        holder.join()


class _LateLockStore(_MemoryStore):
    """A shared store whose lock comes two seconds later, on `clock`."""

    def __init__(self, clock: _Clock) -> None:
        super().__init__()
        self.clock = clock

    @contextlib.contextmanager
    def lock(self, timeout: float) -> Iterator[None]:
        self.clock.now += 2.0
        yield


def deadline_gone_at_the_store_lock() -> Exception:
    """A one-second deadline that runs out while the token store's lock is awaited: nothing
    is left for the token request."""
    clock = _Clock()
    with _clock.use(clock):
        return raising(refreshing(_LateLockStore(clock), deadline=1.0))


class _SlowLockStore(_MemoryStore):
    """A shared store whose lock takes a tenth of a second (another holder)."""

    @contextlib.contextmanager
    def lock(self, timeout: float) -> Iterator[None]:
        time.sleep(0.1)
        yield


class _UnreadableStore(_MemoryStore):
    """A store of the caller's own whose load fails with its own exception."""

    def load(self) -> OAuthToken | None:
        raise ValueError("the store's own trouble")


def store_lock_waited() -> str:
    """What a wait for the store's lock says, its digits as 9s (a duration of real time)."""
    said = heard(refreshing(_SlowLockStore()), _telemetry.TOKEN_WAIT, "token_store")()
    return "".join("9" if c.isdigit() else c for c in said)


def async_store_busy() -> Exception:
    """An async call whose token store's lock is held elsewhere."""

    async def call() -> None:
        transport = httpx.MockTransport(_invalid_grant)
        async with AsyncBoastClient(
            account_id=BOAST_ACCOUNT, access_token="a0", refresh_token="r0",
            expires_at=dt.datetime(2000, 1, 1, tzinfo=dt.UTC), client_id="id",
            client_secret="secret", token_store=_MemoryStore(busy=True),
            httpx_client=httpx.AsyncClient(transport=transport),
            auth_httpx_client=httpx.AsyncClient(transport=transport),
        ) as boast:  # fmt: skip
            await boast.get_account()

    return raising(lambda: asyncio.run(call()))


REDIS_KEY = "boast:golden"


class _ReplicaRedis:
    """A Redis as a read-only replica answers redis-py: reads work (here: `value`), writes are
    refused; and its lock is held by another process."""

    def __init__(self, value: bytes | None = None) -> None:
        self.value = value

    def hmget(self, key: str, fields: list[str]) -> list[object]:
        return [self.value, b"3"]

    def pipeline(self, transaction: bool) -> object:
        raise redis.ReadOnlyError("You can't write against a read only replica.")

    def lock(self, name: str, **options: object) -> object:
        return _BusyLock()


class _BusyLock:
    def acquire(self) -> bool:
        return False


def redis_store(action: Callable[[RedisTokenStore], object], replica: bool = False,
                value: bytes | None = None) -> Callable[[], Exception]:  # fmt: skip
    """What `action` raises on a RedisTokenStore: nothing listens at its URL, or (`replica`) a
    read-only replica holding `value` answers."""

    def build() -> Exception:
        where: Any = _ReplicaRedis(value) if replica else "redis://127.0.0.1:1/0"
        store = RedisTokenStore(where, key=REDIS_KEY, socket_timeout=0.5)
        return raising(lambda: action(store))

    return build


def without_redis_py() -> Exception:
    saved = sys.modules.get("redis")
    sys.modules["redis"] = None  # type: ignore[assignment]  # what an import then raises
    try:
        return raising(lambda: RedisTokenStore("redis://127.0.0.1:1/0"))
    finally:
        if saved is None:
            del sys.modules["redis"]
        else:
            sys.modules["redis"] = saved


# --- the bulk engine and its campaign files (sequence_clients.bulk) ----------------------------
# A message naming a file names it in a fresh temporary folder, shown here as <dir>.

PERSON = "0b9e6f8e-3c1a-4d7e-9a57-2f4b8c6d1e01"
OTHER = "5d2c8a4e-7b61-4f0a-8e3d-9c1b2a3f4e02"


def in_a_folder(build: Callable[[Path], object]) -> Callable[[], str]:
    """The message `build` makes in a fresh folder, the folder shown as <dir>."""

    def made() -> str:
        with tempfile.TemporaryDirectory() as folder:
            return str(build(Path(folder))).replace(folder, "<dir>")

    return made


def csv_refused(content: str | bytes, encoding: str | None = None) -> Callable[[], str]:
    """Why `bulk-enroll unify` refuses a campaign file holding `content` (<dir>/people.csv)."""

    def build(folder: Path) -> Exception:
        path = folder / "people.csv"
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8", newline="")
        try:
            open_csv(path, UNIFY_ROWS, encoding)
        except ValueError as refused:
            return refused
        raise AssertionError("the file was accepted")

    return in_a_folder(build)


def journal_busy(holder: bytes) -> Callable[[], str]:
    """What a second run is told while another process holds the journal, naming `holder`."""

    def build(folder: Path) -> Exception:
        journal = folder / "people.csv.journal.sqlite"
        fd = os.open(journal.with_name(journal.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            os.write(fd, holder)
            fcntl.flock(fd, fcntl.LOCK_EX)
            JournalLock(journal).acquire()
        except Exception as busy:
            return busy
        finally:
            os.close(fd)
        raise AssertionError("the journal was free")

    return in_a_folder(build)


def raising(action: Callable[[], object]) -> Exception:
    """What `action` raises, of any type (an argument parser's error, say)."""
    try:
        action()
    except Exception as error:
        return error
    raise AssertionError("nothing was raised")


def storage_outage() -> str:
    """The warning a shared rate limit logs when its Redis does not answer (nothing listens)."""
    heard: list[str] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: heard.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("sequence_clients")
    logger.addHandler(handler)
    try:
        limiter = RateLimit(
            "100/1s", "redis://127.0.0.1:1/0", key=f"golden-{uuid.uuid4()}", fallback_limit="3/1s",
            storage_options={"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        )  # fmt: skip
        limiter.wait_time()
    finally:
        logger.removeHandler(handler)
    (warning,) = heard
    return warning


def preflight_without_the_sequence() -> Exception:
    """What bulk-enroll's preflight says when the API key sees no such sequence."""

    async def check(sandbox: Sandbox) -> None:
        async with unify_enroller(
            sandbox.unify_api_key, str(SEQUENCE_ID), base_url=sandbox.unify_base_url
        ) as enroller:
            await enroller.preflight()

    with Sandbox(seed=7) as sandbox:
        return raising(lambda: asyncio.run(check(sandbox)))


def login_redirected_with_another_state(folder: Path) -> Exception:
    """What `boast login` says when the redirect it receives carries another state."""

    def say(line: str) -> None:
        if line.startswith("http"):  # the authorization URL: redirect as a forger would
            redirect = httpx.URL(line).params["redirect_uri"]
            forged = httpx.URL(redirect, params={"code": "c", "state": "someone-elses"})
            threading.Thread(target=httpx.get, args=(forged,), daemon=True).start()

    def sign_in() -> object:
        return login(
            client_id="id",
            client_secret="secret",
            auth_base_url="https://auth.example",
            token_file=folder / "token.json",
            port=0,
            open_browser=False,
            timeout=10,
            say=say,
        )

    return raising(sign_in)


def bulk_run(error: errors.SequenceClientError, rows: int = 3, **options: Any) -> Callable[[], str]:
    """Why a bulk-enroll run stopped (its report's `stopped`) when every row raises `error`, or
    what it raised refusing `options`."""

    async def enroll(row: Row, resume: bool) -> str:
        raise error

    def build(folder: Path) -> object:
        journal = Journal(folder / "run.journal", "unify", str(SEQUENCE_ID))
        try:
            return asyncio.run(
                run_bulk_enroll(bulk_rows(rows), enroll, journal, **{"concurrency": 1, **options})
            ).stopped
        except ValueError as refused:
            return refused
        finally:
            journal.close()

    return in_a_folder(build)


PERSON_ID = uuid.UUID("9c8b7a6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d")
TEN = [f"rep{n}@example.com" for n in range(10)]
PARTIAL_MESSAGE = (
    "refreshing needs refresh_token, client_id, client_secret and token_store together "
    "(Boast rotates refresh tokens, so each new one must be saved)"
)
LONG_URL = "https://h.example/" + "p" * 400
CODES = [{"code": f"code{n:06}"} for n in range(40)]
_PAUSED = httpx.Response(202, json={"id": str(SEQUENCE_ID), "is_paused": True})

CASES = [
    # A failed send: "METHOD URL: <httpx error>: <its text>".
    *(
        Case(f"send-{kind.__name__}", pausing(raise_(lambda r, k=kind, t=text: k(t))),
             f"POST {PAUSE_URL}: {kind.__name__}: {text}")
        for kind, text in [
            (httpx.ConnectError, "connection refused"),
            (httpx.ConnectTimeout, "connect timed out"),
            (httpx.PoolTimeout, "no free connection"),
            (httpx.ReadTimeout, "read timed out"),
            (httpx.RemoteProtocolError, "peer closed"),
        ]
    ),
    Case("send-listing", listing(raise_(lambda r: httpx.ConnectError("connection refused", request=r))),
         f"GET {SEQUENCES}: ConnectError: connection refused"),
    Case("send-without-text", listing(raise_(lambda r: httpx.ReadError("", request=r))),
         f"GET {SEQUENCES}: ReadError"),
    Case("send-without-its-request", listing(raise_(lambda r: httpx.RemoteProtocolError("peer closed"))),
         f"GET {SEQUENCES}: RemoteProtocolError: peer closed"),
    # An answer the spec does not allow: "METHOD URL -> status: reason; body starts '…'".
    Case("undocumented-status", pausing(answer(_PAUSED)),
         f"POST {PAUSE_URL} -> 202: status the API spec does not document; "
         f"""body starts '{{"id":"{SEQUENCE_ID}","is_paused":true}}'"""),
    Case("not-json", listing(answer(httpx.Response(200, content=b"\xff\xfeOK \xc3"))),
         f"GET {SEQUENCES} -> 200: body is not valid JSON; body starts '\ufffd\ufffdOK \ufffd'"),
    # An error status: "METHOD URL -> status [codes]: message".
    Case("status-without-reason-or-body", pausing(answer(httpx.Response(499))),
         f"POST {PAUSE_URL} -> 499: error"),
    Case("status-body-not-json",
         pausing(answer(httpx.Response(500, content=b"<html>Bad Gateway \xff</html>"))),
         f"POST {PAUSE_URL} -> 500: Internal Server Error "
         "(non-JSON body starts '<html>Bad Gateway \ufffd</html>')"),
    Case("status-body-of-unknown-shape", pausing(answer(httpx.Response(404, json={"oops": 1}))),
         f"""POST {PAUSE_URL} -> 404: Not Found (body starts '{{"oops":1}}')"""),
    Case("status-codes-and-messages",
         pausing(answer(httpx.Response(422, json={
             "status": "invalid",
             "errors": [{"code": "too_long", "message": "name is too long"},
                        {"code": "missing", "detail": "email is missing"}],
         }))),
         f"POST {PAUSE_URL} -> 422 [invalid, too_long, missing]: name is too long; email is missing"),
    Case("status-codes-cut-to-200-characters",
         pausing(answer(httpx.Response(422, json={"message": "refused", "errors": CODES}))),
         f"POST {PAUSE_URL} -> 422 ["
         + ", ".join(f"code{n:06}" for n in range(40))[:200] + "… (278 more characters)]: refused"),
    # Long values are cut, saying how much is left.
    Case("bulk-job-long-values", lambda: errors.BulkJobError("j" * 150, "S" * 101, "E" * 100),
         f"bulk job {'j' * 100}… (50 more characters) ended {'S' * 100}… (1 more characters) "
         f"({'E' * 100})"),
    Case("bulk-job-long-error-code", lambda: errors.BulkJobError("job-1", "FAILED", "E" * 150),
         f"bulk job job-1 ended FAILED ({'E' * 100}… (50 more characters))"),
    Case("bulk-job-empty-error-code", lambda: errors.BulkJobError("j1", "CANCELED", ""),
         "bulk job j1 ended CANCELED"),
    Case("bulk-job-without-error-code", lambda: errors.BulkJobError("j1", "EXPIRED", None),
         "bulk job j1 ended EXPIRED"),
    Case("bulk-job-without-error-code-2", lambda: errors.BulkJobError("job-1", "EXPIRED", None),
         "bulk job job-1 ended EXPIRED"),
    Case("long-id-refused", lambda: refused("x" * 120),
         f"enrollment_id must be a UUID, got {repr('x' * 120)[:100]}… (22 more characters)"),
    Case("method-and-url-cut",
         lambda: errors.APIConnectionError("refused", method="M" * 25, url=LONG_URL, maybe_applied=False),
         f"{'M' * 20}… (5 more characters) {LONG_URL[:300]}… (118 more characters): refused"),
    # Secrets in a URL never reach a message.
    *(
        Case(f"url-redacted-{n}",
             lambda u=url: errors.APIConnectionError(
                 "refused", method="GET", url=errors.redact_url(u), maybe_applied=False),
             f"GET {shown}: refused")
        for n, (url, shown) in enumerate([
            ("https://h.example/v1/x?api_key=s3cret&page=2", "https://h.example/v1/x?api_key=REDACTED&page=2"),
            ("https://h.example/v1/x?cursor=&page=2", "https://h.example/v1/x?cursor=&page=2"),
            ("https://h.example/v1/x?access_token=&page=2", "https://h.example/v1/x?access_token=REDACTED&page=2"),
            ("https://h.example/v1/x", "https://h.example/v1/x"),
        ])
    ),
    # The deadline names the operation's request as planned (its path), not the sent URL.
    Case("deadline-reached", deadline_reached,
         f"POST /sequences/v1/sequences/{SEQUENCE_ID}/pause: deadline of 1s reached (retries and back-off included)"),
    # Past it while an answer's body is still coming: the request being read, as sent.
    Case("deadline-reached-mid-body", deadline_reached_mid_body,
         f"POST {PAUSE_URL}: deadline reached while reading the answer's body"),
    # An async client is bound to the event loop it first sent on.
    Case("event-loop-mismatch", on_a_second_event_loop,
         "this async client first sent on another event loop (a second asyncio.run()?); "
         "its connections belong to that loop: build the client inside the loop using it"),
    # A closed client, or one over the caller's closed httpx client, sends nothing.
    Case("client-closed", on_a_closed_client,
         "the client is closed; build a new one to send again"),
    Case("callers-httpx-client-closed", over_a_closed_httpx_client,
         "the httpx client given as httpx_client= is closed"),
    # The caller's httpx client cannot be rebuilt in a forked child (ours are, silently).
    Case("used-after-fork-over-callers-httpx-client", in_a_forked_child,
         "this client's httpx_client was made before os.fork(): build the client "
         "(and its httpx client) in the child process"),
    # Paging stopped: how many pages were read, and why.
    Case("pagination-repeated-cursor",
         paging({None: Page([1], raw=None, next="c-a"), "c-a": Page([2], raw=None, next="c-b"),
                 "c-b": Page([3], raw=None, next="c-a")}),
         "pagination stopped after 3 pages: the server repeated the cursor 'c-a'"),
    Case("pagination-previous-page-again",
         paging({None: Page([1, 2], raw=None, next="c-a"), "c-a": Page([1, 2], raw=None, next="c-b")}),
         "pagination stopped after 1 pages: the server sent the previous page again"),
    Case("pagination-repeated-unhashable-cursor",
         paging({None: Page([1], raw=None, next=["a"]), ("a",): Page([2], raw=None, next=["a"])}),
         "pagination stopped after 2 pages: the server repeated the cursor ['a']"),
    # A bulk job that failed.
    Case("bulk-job-failed", lambda: errors.BulkJobError("job-1", "FAILED", "QUERY_TIMEOUT"),
         "bulk job job-1 ended FAILED (QUERY_TIMEOUT)"),
    # OAuth: the token store, the code grant, the token endpoint.
    Case("token-store-failure", store_refusing,
         "token_store.save() raised PermissionError; the rotated OAuth token was not used. "
         "It is kept on this error as .token and offered to the store again next request"),
    *(
        Case(f"grant-missing-{part}", exchanging(lambda r: httpx.Response(500), **{part: ""}),
             "code, client_id, client_secret and redirect_uri are required")
        for part in ["client_id", "client_secret", "redirect_uri"]
    ),
    Case("grant-missing-code", exchanging(lambda r: httpx.Response(500), code=""),
         "code, client_id, client_secret and redirect_uri are required"),
    Case("token-endpoint-out-of-reach",
         exchanging(raise_(lambda r: httpx.ConnectError("connection refused", request=r))),
         f"POST {TOKEN_URL}: ConnectError: connection refused"),
    *(
        Case(f"token-endpoint-{status}",
             exchanging(answer(httpx.Response(status, json={"error": code, "error_description": "try again later"}))),
             f"POST {TOKEN_URL} -> {status} {said}")
        for status, code, said in [
            (503, "temporarily_unavailable", "[temporarily_unavailable]: try again later"),
            (403, "access_denied", "[access_denied]: try again later"),
            (400, "access_denied", "[access_denied]: the token endpoint refused the grant: try again later"),
        ]
    ),
    Case("grant-revoked", lambda: raising(refreshing(_MemoryStore())),
         f"POST {TOKEN_URL} -> 400 [invalid_grant]: a person must sign in to Boast again "
         "(`sequence-clients boast login`, or your app's own sign-in): the authorization was "
         "revoked or a used refresh token was presented (the token endpoint refused the grant: revoked)"),
    Case("grant-revoked-warning", heard(refreshing(_MemoryStore()), _telemetry.TOKEN_REVOKED),
         "Boast refused the refresh token and no newer one exists: sign in again"),
    Case("stored-token-without-refresh-token",
         lambda: raising(refreshing(_MemoryStore(OAuthToken("s", None, dt.datetime(2001, 1, 1, tzinfo=dt.UTC))))),
         "the token store holds no refresh token"),
    Case("store-lock-not-had", lambda: raising(refreshing(_MemoryStore(busy=True))),
         "waited 90 s for the token store's lock; the refresh did not happen"),
    Case("token-endpoint-past-the-deadline", token_endpoint_past_the_deadline,
         f"GET https://api.boast.io/v1/accounts/{BOAST_ACCOUNT}: the call's deadline ran out "
         "while waiting for the token endpoint"),
    Case("another-task-s-refresh", behind_another_task,
         f"GET https://api.boast.io/v1/accounts/{BOAST_ACCOUNT}: the call's deadline ran out "
         "while waiting for another task's refresh"),
    Case("another-task-s-refresh-said", heard(behind_another_task, _telemetry.TOKEN_WAIT, "task"),
         "waiting for another task's refresh of the Boast token"),
    Case("another-thread-s-refresh", behind_another_thread,
         f"GET https://api.boast.io/v1/accounts/{BOAST_ACCOUNT}: the call's deadline ran out "
         "while waiting for another thread's refresh"),
    Case("another-thread-s-refresh-said", heard(behind_another_thread, _telemetry.TOKEN_WAIT, "thread"),
         "waiting for another thread's refresh of the Boast token"),
    Case("store-lock-given-up", heard(refreshing(_MemoryStore(busy=True)), _telemetry.TOKEN_WAIT),
         "gave up waiting for the Boast token store's lock"),
    Case("store-load-failed", lambda: raising(refreshing(_UnreadableStore())),
         "token_store.load() raised ValueError"),
    Case("token-refresh-said", heard(refreshing(_MemoryStore()), _telemetry.TOKEN_REFRESH),
         "refreshing the Boast access token (expiring, try 1)"),
    Case("store-lock-not-had-async", async_store_busy,
         "waited 90 s for the token store's lock; the refresh did not happen"),
    Case("another-thread-s-refresh-sync", behind_another_thread_sync,
         f"GET https://api.boast.io/v1/accounts/{BOAST_ACCOUNT}: the call's deadline ran out "
         "while waiting for another thread's refresh"),
    Case("another-thread-s-refresh-sync-said",
         heard(behind_another_thread_sync, _telemetry.TOKEN_WAIT, "thread"),
         "waiting for another thread's refresh of the Boast token"),
    Case("deadline-gone-at-the-store-lock", deadline_gone_at_the_store_lock,
         f"GET https://api.boast.io/v1/accounts/{BOAST_ACCOUNT}: the call's deadline ran out "
         "while waiting for the token endpoint"),
    Case("store-lock-waited-said", store_lock_waited,
         "waited 9.99s for the Boast token store's lock"),
    # The token stores: which store, what it could not do, and why (by type; never a token).
    Case("redis-store-unreachable-read", redis_store(lambda store: store.load()),
         f"cannot read the Boast token in Redis ({REDIS_KEY}): ConnectionError"),
    Case("redis-store-unreachable-lock", redis_store(lambda store: store.lock(1.0).__enter__()),
         f"cannot lock the Boast token in Redis ({REDIS_KEY}): ConnectionError"),
    Case("redis-store-write-refused",
         redis_store(lambda store: store.save(OAuthToken("a", "r", None)), replica=True),
         f"cannot save the Boast token in Redis ({REDIS_KEY}): ReadOnlyError"),
    Case("redis-store-lock-busy", redis_store(lambda store: store.lock(0.25).__enter__(), replica=True),
         f"the Redis lock {REDIS_KEY}:lock was not free within 0.25 s"),
    Case("redis-store-corrupt", redis_store(lambda store: store.load(), replica=True, value=b"[1, 2]"),
         f"the Redis key {REDIS_KEY} does not hold a token this package wrote (not a JSON object); "
         "sign in again (`sequence-clients boast login`) or remove it"),
    *(
        Case(f"stored-value-{n}", redis_store(lambda store: store.load(), replica=True, value=value),
             f"the Redis key {REDIS_KEY} does not hold a token this package wrote ({reason}); "
             "sign in again (`sequence-clients boast login`) or remove it")
        for n, (value, reason) in enumerate([
            (b'{"access_token": 5}', "the tokens are not strings"),
            (b'{"access_token": "a", "retired": "abc"}', "retired is not a list of fingerprints"),
            (b'{"refresh_token": "r"}', "KeyError"),
        ])
    ),
    Case("token-file-unreadable", in_a_folder(lambda folder: raising(FileTokenStore(folder).load)),
         "cannot read the token file <dir>: Is a directory"),
    Case("token-file-unwritable",
         in_a_folder(lambda folder: raising(lambda: FileTokenStore(folder).save(OAuthToken("a", "r", None)))),
         "cannot write the token file <dir>: Is a directory"),
    Case("redis-store-without-redis-py", without_redis_py,
         "RedisTokenStore needs redis-py: pip install 'sequence-clients[redis]'"),
    Case("redis-store-empty-key", lambda: raising(lambda: RedisTokenStore("redis://127.0.0.1:1/0", key="")),
         "RedisTokenStore needs a non-empty key"),
    Case("redis-store-lock-ttl", lambda: raising(lambda: RedisTokenStore("redis://127.0.0.1:1/0", lock_ttl=0)),
         "lock_ttl must be a positive number of seconds: 0"),
    Case("redis-store-not-a-url", lambda: raising(lambda: RedisTokenStore("not a url")),
         "RedisTokenStore: not a redis:// URL"),
    # A setting missing everywhere; a body too large to read.
    Case("configuration-missing", lambda: errors.ConfigurationError("UNIFY_API_KEY"),
         "UNIFY_API_KEY is not set: pass the value to the constructor or set UNIFY_API_KEY"),
    Case("configuration-missing-long-name", lambda: errors.ConfigurationError("V" * 150),
         f"{'V' * 100}… (50 more characters) is not set: pass the value to the constructor or "
         f"set {'V' * 100}… (50 more characters)"),
    Case("response-too-large",
         lambda: errors.ResponseTooLargeError(method="GET", url=f"{SEQUENCES}", status_code=200, limit=1000),
         f"GET {SEQUENCES} -> 200: the body is larger than max_response_bytes=1000; reading "
         "stopped there (raise the option if meant)"),
    Case("response-too-large-warning",
         heard(lambda: UnifyClient("key", httpx_client=httpx.Client(transport=httpx.MockTransport(
             lambda r: httpx.Response(200, headers={"content-length": "5000"}))), max_response_bytes=1000,
         ).get_sequence(SEQUENCE_ID), "sequence_clients.body.too_large"),
         f"GET {PAUSE_URL.removesuffix('/pause')}: body over max_response_bytes=1000, not read"),
    Case("refresh-credentials-partial",
         raised_by(lambda: BoastClient(access_token="access-0", refresh_token="refresh-0")),
         PARTIAL_MESSAGE),
    Case("refresh-credential-empty",
         raised_by(lambda: BoastClient(access_token="access-0", refresh_token="", client_id="i",
                                       client_secret="s", token_store=object())),
         PARTIAL_MESSAGE),
    Case("access-token-required", raised_by(lambda: BoastClient(access_token="")),
         "access_token is required (or the refresh credentials)"),
    Case("expiry-without-time-zone",
         raised_by(lambda: BoastClient(access_token="a", expires_at=dt.datetime(2030, 1, 1, 12))),
         "expires_at must be a timezone-aware datetime"),
    # Arguments refused before anything is sent.
    *(
        Case(f"mailboxes-{n}", enrolling(mailboxes), text)
        for n, (mailboxes, text) in enumerate([
            ({"rep@example.com"}, "mailbox_emails must be a list of email addresses, got set"),
            (iter(TEN), "mailbox_emails must be a list of email addresses, got list_iterator"),
            (["rep@example.com", "rep at example"], "mailbox_emails must be an email address, got 'rep at example'"),
            ([], "mailbox_emails takes 1 to 10 addresses, got 0"),
            ([*TEN, "one.more@example.com"], "mailbox_emails takes 1 to 10 addresses, got 11"),
            ([*TEN, "one.more@example.com", "REP0@example.com"],
             "mailbox_emails takes 1 to 10 addresses, got 11 once repeats are removed (12 given)"),
        ])
    ),
    Case("on-conflict-unknown", enrolling(["a@b.example"], on_conflict="skip"),
         "on_conflict must be 'raise' or 'return_existing', got 'skip'"),
    Case("enrollment-id-not-a-uuid", unify_refusing("get_enrollment", "not-a-uuid"),
         "enrollment_id must be a UUID, got 'not-a-uuid'"),
    Case("sequence-id-not-a-uuid", unify_refusing("get_sequence", "not-a-uuid"),
         "sequence_id must be a UUID, got 'not-a-uuid'"),
    Case("export-timeout-negative", unify_refusing("export_enrollments", export_timeout=-1),
         "export_timeout must be seconds >= 0, got -1"),
    Case("export-timeout-not-a-number", unify_refusing("export_enrollments", export_timeout="soon"),
         "export_timeout must be seconds >= 0, got 'soon'"),
    Case("export-sequence-and-filter",
         unify_refusing("export_enrollments", sequence_id=uuid.UUID(int=1), filter=object()),
         "pass either sequence_id or filter, not both"),
    Case("export-sequence-not-a-uuid", unify_refusing("export_enrollments", sequence_id="seq"),
         "sequence_id must be a UUID, got 'seq'"),
    *(
        Case(f"page-size-{method}-{size!r}", unify_refusing(method, page_size=size),
             f"page_size must be 1..100, got {size!r}")
        for size in [0, 101, 2.5]
        for method in ["list_enrollments", "list_sequences"]
    ),
    Case("status-unknown", unify_refusing("list_enrollments", status=["DONE"]),
         "status must be among DRAFT, FINISHED, IN_PROGRESS; got ['DONE']"),
    Case("api-key-required", raised_by(lambda: UnifyClient("")), "api_key is required (UNIFY_API_KEY)"),
    Case("account-id-not-a-uuid", raised_by(lambda: BoastClient(access_token="a", account_id="x")),
         "account_id must be a UUID, got 'x'"),
    Case("plain-http-base-url",
         raised_by(lambda: UnifyClient("key", base_url="http://proxy.example.com/?api_key=s3cret")),
         "refusing base URL 'http://proxy.example.com/?api_key=REDACTED': credentials must "
         "travel over https (plain http is allowed to loopback addresses, or with "
         "allow_insecure_http=True)"),
    # The bulk engine: why a run stopped (its report and the CLI's "stopped: ..." line).
    Case("bulk-stop-401", bulk_run(status(errors.AuthenticationError, 401, "Invalid API key", "unauthorized")),
         "the vendor refused the credentials (401 [unauthorized]: Invalid API key); check them"),
    Case("bulk-stop-403", bulk_run(status(errors.PermissionDeniedError, 403, "Forbidden")),
         "the vendor refused the credentials (403: Forbidden); check them"),
    Case("bulk-stop-token-store", bulk_run(errors.TokenStoreError(token=None, cause=PermissionError("read-only"))),
         "the rotated Boast token could not be saved: token_store.save() raised PermissionError; "
         "the rotated OAuth token was not used. It is kept on this error as .token and offered "
         "to the store again next request"),
    Case("bulk-stop-unreachable",
         bulk_run(errors.APIConnectionError("[Errno 111]   Connection\n refused", method="POST", url=ENROLLMENTS_URL, maybe_applied=False)),
         "cannot reach the vendor (APIConnectionError: [Errno 111] Connection refused)"),
    Case("bulk-stop-sequence-gone", bulk_run(status(errors.NotFoundError, 404, "Sequence not found")),
         "the sequence is gone (404: Sequence not found)"),
    Case("bulk-stop-sequence-inactive",
         bulk_run(status(errors.BadRequestError, 422, "Sequence is paused", "sequence_not_active")),
         "the sequence takes no enrollments (422 [sequence_not_active]: Sequence is paused)"),
    Case("bulk-stop-mailbox-option",
         bulk_run(status(errors.BadRequestError, 422, "Unknown mailbox", "mailbox_not_found", "other")),
         "the --mailbox is unknown to the vendor (422 [mailbox_not_found, other]: Unknown mailbox)"),
    Case("bulk-stop-server-trouble",
         bulk_run(status(errors.ServerError, 503, "Unavailable"), rows=3 * SERVER_TROUBLE_RUN),
         "5 rows in a row failed with server errors or dropped connections after every retry "
         "(last: 503: Unavailable)"),
    Case("bulk-on-conflict-unknown", bulk_run(errors.InvalidRequestError("x"), on_conflict="overwrite"),
         "on_conflict must be one of ('skip', 'return-existing', 'fail'), got 'overwrite'"),
    Case("bulk-concurrency-zero", bulk_run(errors.InvalidRequestError("x"), concurrency=0),
         "concurrency must be at least 1"),
    # One run per journal: the second is told who holds it.
    Case("journal-busy", journal_busy(b"pid 4242 on build-host"),
         "another bulk-enroll run (pid 4242 on build-host) is using <dir>/people.csv.journal.sqlite; "
         "wait for it to finish, or stop it (a stopped run releases the journal)"),
    Case("journal-busy-holder-unnamed", journal_busy(b""),
         "another bulk-enroll run (another process) is using <dir>/people.csv.journal.sqlite; "
         "wait for it to finish, or stop it (a stopped run releases the journal)"),
    # A campaign file refused as a whole, saying how to fix it.
    Case("csv-no-key-column", csv_refused(f"email, id\nada@example.com,{PERSON}\n"),
         "<dir>/people.csv: no 'person_id' column (header: email, id); accepted names, "
         "ignoring case, spaces and underscores: person, person_id, personid, unifypersonid"),
    Case("csv-two-key-columns", csv_refused(f"person_id,Person ID\n{PERSON},{OTHER}\n"),
         "<dir>/people.csv: several columns could be person_id: 'person_id', 'Person ID'; keep one"),
    Case("csv-two-mailbox-columns", csv_refused(f"person_id,mailbox,sender\n{PERSON},a@x.io,b@x.io\n"),
         "<dir>/people.csv: several columns could be mailbox_email: 'mailbox', 'sender'; keep one"),
    Case("csv-empty", csv_refused("\n\n"),
         "<dir>/people.csv: the file is empty; expected a header with person_id"),
    Case("csv-header-only", csv_refused("person_id\n"),
         "<dir>/people.csv: no data rows after the header (line 1); nothing to enroll"),
    Case("csv-field-too-large", csv_refused(f'person_id,note\n{PERSON},"{"x" * 200_000}"\n'),
         "<dir>/people.csv: not readable as CSV: field larger than field limit (131072)"),
    Case("csv-not-utf8", csv_refused(f"person_id,name\n{PERSON},Zoe\n{OTHER},Zo\xeb\n".encode("latin-1")),
         "<dir>/people.csv line 3: not UTF-8 (byte 0xeb at column 40); "
         "save it as \"CSV UTF-8\" (Excel: File > Save As > CSV UTF-8; Google Sheets exports "
         "UTF-8), or read it as it is with --encoding cp1252 (Windows/Excel) or --encoding latin-1"),
    Case("csv-utf16", csv_refused(codecs.BOM_UTF16_LE + f"person_id\n{PERSON}\n".encode("utf-16-le")),
         "<dir>/people.csv line 1: this is a UTF-16 file; save it as \"CSV UTF-8\" (Excel: File > "
         "Save As > CSV UTF-8; Google Sheets exports UTF-8), or pass --encoding utf-16"),
    Case("csv-not-the-given-encoding", csv_refused(f"person_id,name\n{PERSON},Ada\n{OTHER},Zoë\n", "ascii"),
         "<dir>/people.csv line 3: not ascii (ordinal not in range(128)); "
         "save it as \"CSV UTF-8\" (Excel: File > Save As > CSV UTF-8; Google Sheets exports "
         "UTF-8), or pass the file's real --encoding"),
    Case("csv-cut-inside-a-character", csv_refused(f"person_id\n{PERSON}\n{OTHER}\xc3".encode("latin-1"), "utf-8"),
         "<dir>/people.csv line 3: not utf-8 (unexpected end of data); "
         "save it as \"CSV UTF-8\" (Excel: File > Save As > CSV UTF-8; Google Sheets exports "
         "UTF-8), or pass the file's real --encoding"),
    Case("csv-unknown-encoding", csv_refused(f"person_id\n{PERSON}\n", "klingon-8"),
         "--encoding: unknown encoding 'klingon-8'"),
    # A shared rate limit whose storage is down: said once, with the limit it falls back to.
    Case("rate-limit-storage-unreachable", storage_outage,
         "rate limit storage redis://127.0.0.1:1/0 unreachable (ConnectionError); limiting this "
         "process alone to 3/1s until it answers (tried again every 30 s)"),
    # The CLI: an extra not installed, a bad option, preflight before any row.
    Case("missing-extra", lambda: needs_extra(ModuleNotFoundError("no uvicorn", name="uvicorn")),
         "needs the testing extra (uvicorn is missing): pip install 'sequence-clients[testing]'"),
    Case("sandbox-port-refused", lambda: raising(lambda: parse_port("99999")),
         "not a port: '99999' (0..65535; 0 picks a free one)"),
    Case("preflight-no-such-sequence", preflight_without_the_sequence,
         f"preflight: Unify has no sequence {SEQUENCE_ID} for this API key "
         "(see `sequence-clients unify sequences`)"),
    Case("login-state-mismatch", in_a_folder(login_redirected_with_another_state),
         "the redirect's state does not match this login; nothing was saved"),
    Case("preflight-credentials-refused",
         lambda: preflight_failure("Unify", status(errors.AuthenticationError, 401, "Invalid API key", "unauthorized"), "UNIFY_API_KEY"),
         "preflight: Unify refused the credentials (401 [unauthorized]: Invalid API key); check UNIFY_API_KEY"),
    Case("preflight-out-of-reach",
         lambda: preflight_failure("Unify", errors.APIConnectionError("connection refused", method="GET", url="http://127.0.0.1:9/sequences/v1/sequences", maybe_applied=False), "UNIFY_API_KEY"),
         "preflight: cannot reach Unify at http://127.0.0.1:9/sequences/v1/sequences "
         "(APIConnectionError: connection refused); check the base URL"),
]  # fmt: skip
