"""Servers, wires, answers and constants more than one promise file uses (tests/wrapper/test_*.py);
the fixtures among them (`wire`, `slept`, …) reach every test through conftest.py."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from twin_harness import Twin
from virtual_clock import VirtualClock, drive_plans_with
from waits import record_waits

from sequence_clients import (
    AsyncUnifyClient,
    BoastClient,
    OAuthToken,
    RetryPolicy,
    UnifyClient,
)
from sequence_clients.sandbox import Sandbox

Answer = Callable[[httpx.Request], httpx.Response | None]


class MemoryTokenStore:
    """A TokenStore that keeps every saved token, in order (thread-safe); it refuses the first
    `fail` saves with OSError("disk full")."""

    def __init__(self, fail: int = 0) -> None:
        self.saved: list[OAuthToken] = []
        self.fail = fail
        self._lock = threading.Lock()

    def save(self, token: OAuthToken) -> None:
        with self._lock:
            if self.fail:
                self.fail -= 1
                raise OSError("disk full")
            self.saved.append(token)


def answer(status: int, body: bytes = b"{}", **headers: str) -> bytes:
    lines = [
        f"HTTP/1.1 {status} X",
        f"content-length: {len(body)}",
        "content-type: application/json",
    ]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def scripted(*answers: httpx.Response) -> tuple[Handler, list[httpx.Request]]:
    """A server that gives these answers in order, and the requests it received."""
    received: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return answers[len(received) - 1]

    return handle, received


class Wire:
    """Every request a client sends, in order; each answered by `answer` or, when that gives
    None (or there is none), by the sandbox."""

    def __init__(self, answer: Answer | None = None) -> None:
        self.sent: list[httpx.Request] = []
        self._answer = answer
        self._loopback = httpx.Client()

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        scripted = self._answer(request) if self._answer else None
        if scripted is not None:
            return scripted
        return self.forward(request, request.url)

    def forward(self, request: httpx.Request, url: httpx.URL) -> httpx.Response:
        """`request` sent to the sandbox at `url`, and its answer."""
        passed = httpx.Request(
            request.method, url, headers=request.headers, content=request.content
        )
        answer = self._loopback.send(passed)
        headers = {k: v for k, v in answer.headers.items() if k.lower() != "content-encoding"}
        return httpx.Response(answer.status_code, headers=headers, content=answer.content)

    def paths(self) -> list[str]:
        return [f"{r.method} {r.url.path}" for r in self.sent]

    def close(self) -> None:
        self._loopback.close()


@pytest.fixture
def wire() -> Iterable[Wire]:
    w = Wire()
    yield w
    w.close()


def unavailable(request: httpx.Request) -> httpx.Response:
    return httpx.Response(503, json={"status": "unavailable", "message": "try later"})


def boast_root(sandbox: Sandbox) -> str:
    """The path every Boast request of the sandbox starts with (its host root, then /v1)."""
    return httpx.URL(sandbox.boast_base_url).path.rstrip("/") + "/v1"


def boast_on(twin: Twin, sandbox: Sandbox, wire: Wire, **options: Any) -> Any:
    state = sandbox.boast
    settings: dict[str, Any] = {
        "account_id": state.account_ids[0],
        "access_token": state.issue_token().access_token,
        "base_url": sandbox.boast_base_url,
        "max_retries": 0,
        "httpx_client": twin.over(wire),
        **options,
    }
    return twin.boast(**settings)


SEQUENCE_ID = uuid.UUID("3d1f0e2c-5b4a-4c3d-9e8f-7a6b5c4d3e2f")


PERSON_ID = uuid.UUID("9c8b7a6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d")


PAUSE_PATH = f"/sequences/v1/sequences/{SEQUENCE_ID}/pause"


Handler = Callable[[httpx.Request], httpx.Response]


def paused() -> httpx.Response:
    return httpx.Response(200, json={"id": str(SEQUENCE_ID), "is_paused": True})


# The `async_http` fixture (conftest): an httpx.AsyncClient on the parametrized transport.
AsyncHttp = Callable[..., httpx.AsyncClient]


PAUSED = b'{"id": "3d1f0e2c-5b4a-4c3d-9e8f-7a6b5c4d3e2f", "is_paused": true}'


class Streamed(httpx.SyncByteStream, httpx.AsyncByteStream):
    """An answer's body arriving in parts, for either twin (`httpx.Response(200, stream=...)`,
    no content-length): each bytes part is a chunk, each callable runs between chunks — moves
    a virtual clock, or raises what a connection dropped mid-body raises."""

    def __init__(self, *parts: bytes | Callable[[], object]) -> None:
        self.parts = parts

    def __iter__(self) -> Iterator[bytes]:
        for part in self.parts:
            if isinstance(part, bytes):
                yield part
            else:
                part()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self:
            yield chunk


# What the server does with one request: bytes to answer, "close" (drop the connection after
# reading it), or "hang" (never answer).
Action = bytes | str


@dataclass
class SocketServer:
    """A loopback HTTP/1.1 server playing `actions` in order (the last one repeated)."""

    actions: list[Action]
    requests: list[str] = field(default_factory=list)  # request lines, as received
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                length = next(
                    (int(line.split(":", 1)[1]) for line in lines
                     if line.lower().startswith("content-length:")),
                    0,
                )  # fmt: skip
                await reader.readexactly(length)
                self.requests.append(lines[0])
                action = self.actions[min(len(self.requests), len(self.actions)) - 1]
                if action == "close":
                    break
                if action == "hang":
                    await asyncio.sleep(3600)
                assert isinstance(action, bytes)
                writer.write(action)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()


BoastOptions = Callable[..., dict[str, Any]]


def contact(number: int) -> dict[str, Any]:
    when = "2026-01-01T00:00:00Z"
    return {
        "id": str(uuid.UUID(int=number + 1)), "email": f"c{number}@acme.example",
        "created_at": when, "updated_at": when,
    }  # fmt: skip


def contact_pages(request: httpx.Request) -> httpx.Response:
    """Boast's shape: `data` and meta.pagination; three pages of two."""
    number = int(request.url.params["page"])
    meta = {"pagination": {"count": 6, "page": number, "items": 2, "pages": 3}}
    data = [contact(n) for n in range(2 * (number - 1), 2 * number)]
    return httpx.Response(200, json={"data": data, "meta": meta})


def refused(status: int, **headers: str) -> httpx.Response:
    return httpx.Response(status, headers=headers, json={"status": "x", "message": "slow down"})


def timeouts(request: httpx.Request) -> dict[str, float | None]:
    return dict(request.extensions["timeout"])


async def elapsed(work: Awaitable[object]) -> tuple[float, BaseException | None]:
    start = time.monotonic()
    try:
        await work
    except BaseException as error:  # the test inspects it
        return time.monotonic() - start, error
    return time.monotonic() - start, None


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every wait the client takes, in seconds, instead of taking it."""
    return record_waits(monkeypatch)


@pytest.fixture
def clock_at_zero(monkeypatch: pytest.MonkeyPatch) -> VirtualClock:
    return drive_plans_with(monkeypatch, VirtualClock())


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> VirtualClock:
    """One clock for the driver (monotonic, sleep) and the limiter (wall clock)."""
    return drive_plans_with(monkeypatch, VirtualClock(start=1_800_000_000.0))


def sequence_answer(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"status": "success", "sequences": [], "next_cursor": None})


def free_pair(sandbox: Sandbox) -> tuple[str, str, str]:
    """An account, one of its contacts and an active sequence the contact is not enrolled in."""
    state = sandbox.boast
    account = state.account_ids[0]
    for sequence in state.active_sequences(account):
        for contact in state.contacts[account]:
            if state.active_enrollment(contact["id"], sequence["id"]) is None:
                return account, contact["id"], sequence["id"]
    raise AssertionError("the seed has no free (contact, sequence) pair")


STAMP = "2026-01-01T00:00:00Z"


FASTER_BACKOFF = RetryPolicy(base_delay=0.001, max_delay=0.002)


MAILBOX = "rep@acme.example"


MakeSandbox = Callable[..., Sandbox]


def targets(sandbox: Sandbox) -> tuple[list[str], str, str]:
    """Contacts of account 0 with no seeded history, an active sequence, and a paused one."""
    state = sandbox.boast
    account = state.account_ids[0]
    contacts = [c["id"] for c in state.contacts[account][:2900]]  # the last 60 have history
    sequences = state.sequences[account]
    active = next(s["id"] for s in sequences if s["status"] == "active")
    paused = next(s["id"] for s in sequences if s["status"] == "paused")
    return contacts, active, paused


# Millisecond backoff keeps fault tests fast; server-requested waits are still honoured.
FAST_BACKOFF = RetryPolicy(base_delay=0.001, max_delay=0.01)


def client_answering(handler: Handler, **options: object) -> UnifyClient:
    http = httpx.Client(transport=httpx.MockTransport(handler))
    return UnifyClient(
        "secret-key-123", httpx_client=http, retry_policy=RetryPolicy(base_delay=0.001), **options
    )  # type: ignore[arg-type]


def job(number: int) -> dict[str, Any]:
    return {
        "job_id": f"job-{number}", "status": "FINISHED", "total_rows": number,
        "error_code": None, "created_at": "2026-01-01T00:00:00Z",
        "expires_at": "2026-01-02T00:00:00Z", "canceled_at": None,
    }  # fmt: skip


def listing_recorder() -> tuple[httpx.Client, list[httpx.Request]]:
    """A client whose every request answers an empty page, and the requests it sent."""
    sent: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"enrollments": [], "next_cursor": None})

    return httpx.Client(transport=httpx.MockTransport(handle)), sent


FAST = RetryPolicy(base_delay=0.001, max_delay=0.01)


class Server:
    """Answers in order (the last one repeated), noting each request and when it arrived by
    `clock` (0.0 without one); each answer takes `takes` seconds of the virtual clock."""

    def __init__(
        self, clock: VirtualClock | None, *answers: httpx.Response, takes: float = 0.0
    ) -> None:
        self.clock = clock
        self.answers = answers or (paused(),)
        self.takes = takes
        self.received: list[httpx.Request] = []
        self.arrivals: list[float] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.received.append(request)
        self.arrivals.append(self.clock.now if self.clock is not None else 0.0)
        if self.clock is not None:
            self.clock.now += self.takes
        answer = self.answers[min(len(self.received), len(self.answers)) - 1]
        # A fresh response each time: httpx binds a response to the request it answers.
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)


@contextlib.asynccontextmanager
async def serving(*actions: Action) -> AsyncIterator[SocketServer]:
    server = SocketServer(list(actions))
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    server.port = listener.sockets[0].getsockname()[1]
    try:
        yield server
    finally:
        listener.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(listener.wait_closed(), 1)


def client(http: httpx.AsyncClient, url: str, **options: object) -> AsyncUnifyClient:
    options.setdefault("retry_policy", FAST)
    return AsyncUnifyClient("key", base_url=url, httpx_client=http, **options)  # type: ignore[arg-type]


ACCOUNT_ID = "7a2f1f8c-7771-47e2-8dbd-332b301028a8"

# A Boast account id given as a UUID rather than as text.
ACCOUNT_UUID = uuid.UUID("6a5b4c3d-2e1f-4a0b-8c9d-0e1f2a3b4c5d")

ENROLLMENT_ID = uuid.uuid4()


def unify_sync(handler: Handler, **options: Any) -> UnifyClient:
    http = httpx.Client(transport=httpx.MockTransport(handler))
    return UnifyClient("key", httpx_client=http, retry_policy=FAST, **options)


def unify_async(handler: Handler, **options: Any) -> AsyncUnifyClient:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return AsyncUnifyClient("key", httpx_client=http, retry_policy=FAST, **options)


ACCOUNT = str(uuid.uuid4())


class ScriptedBoast:
    """Boast's contacts and sequences. Each contact POST's fate is scripted: "ok", "refuse"
    (never arrived) or "commit-then-reset" (stored, answer lost). Sequences come `per_page`
    to a page, and each list request's query is kept."""

    def __init__(self, *fates: str, sequences: int = 0, per_page: int = 2) -> None:
        self.fates = list(fates)
        self.contacts: list[dict[str, Any]] = []
        self.sequences = [
            {"id": str(uuid.uuid4()), "name": f"s{n}", "status": "active", "created_at": STAMP, "updated_at": STAMP}
            for n in range(sequences)
        ]  # fmt: skip
        self.per_page = per_page
        self.queries: list[dict[str, str]] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path.endswith("/contacts"):
            return self._create_contact(request)
        self.queries.append(dict(request.url.params))
        if request.url.path.endswith("/sequences"):
            number = int(request.url.params.get("page", "1"))
            pages = max(1, -(-len(self.sequences) // self.per_page))
            start = (number - 1) * self.per_page
            meta = {"pagination": {"count": len(self.sequences), "page": number, "items": self.per_page, "pages": pages}}  # fmt: skip
            return httpx.Response(
                200, json={"data": self.sequences[start : start + self.per_page], "meta": meta}
            )
        return httpx.Response(200, json={"data": []})

    def _create_contact(self, request: httpx.Request) -> httpx.Response:
        fate = self.fates.pop(0) if self.fates else "ok"
        if fate == "refuse":
            raise httpx.ConnectError("connection refused", request=request)
        fields = json.loads(request.content)
        contact = {"id": str(uuid.uuid4()), "created_at": STAMP, "updated_at": STAMP, **fields}
        self.contacts.append(contact)
        if fate == "commit-then-reset":
            raise httpx.ReadError("connection reset by peer", request=request)
        return httpx.Response(201, json={"data": contact})


def boast_on_boast(server: ScriptedBoast, **options: Any) -> BoastClient:
    http = httpx.Client(transport=httpx.MockTransport(server.handle))
    return BoastClient(account_id=ACCOUNT, access_token="t", httpx_client=http, **options)


PERSON = str(uuid.uuid4())

NOW = "2026-11-24T10:00:00Z"


def ids(sandbox: Sandbox) -> tuple[str, list[str], str]:
    """A live sequence with no active enrollment yet, people free to enroll, and a sandbox
    mailbox address."""
    state = sandbox.unify
    empty = (s["id"] for s in state.live_sequences() if state.active_enrollment_count(s["id"]) == 0)
    return (
        next(empty),
        [p["id"] for p in state.people[:3000]],
        state.mailboxes[0]["email"],
    )


def valid_enrollment() -> dict[str, object]:
    now = "2026-11-24T10:00:00Z"
    return {
        "id": str(ENROLLMENT_ID), "created_at": now, "updated_at": now,
        "sequence": {"id": str(uuid.uuid4()), "name": "s", "is_paused": False},
        "person": {"id": str(uuid.uuid4()), "email": "p@x.com", "first_name": None, "last_name": None, "linkedin_url": None},
        "mailbox": {"id": str(uuid.uuid4()), "email": "m@x.com", "display_name": None, "is_paused": False, "is_unauthorized": False},
        "enrolled_by_play": None, "reply_email_message": None, "status": "IN_PROGRESS",
        "is_blocked": False, "is_bounced": False, "is_canceled": False, "is_excluded": False,
        "is_opted_out": False, "is_paused": False, "is_replied": False, "started_at": None, "ended_at": None,
    }  # fmt: skip


ROOT = Path(__file__).resolve().parents[2]


SEQUENCE = str(uuid.uuid4())

OTHER_SEQUENCE = str(uuid.uuid4())


def unify_enrollment(enrollment_id: str, sequence_id: str, person_id: str) -> dict[str, Any]:
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
        created = unify_enrollment(str(uuid.uuid4()), sequence, person)
        self.active[person] = created
        self.created += 1
        if fate == "commit-then-500":
            return httpx.Response(500, json={"status": "internal", "message": "try again"})
        if fate == "commit-then-reset":
            raise httpx.ReadError("connection reset by peer", request=request)
        return httpx.Response(201, json=created)

    def someone_else_enrolled(self, sequence_id: str) -> str:
        """Another integration enrolled PERSON first; the id of that enrollment."""
        other = unify_enrollment(str(uuid.uuid4()), sequence_id, PERSON)
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
