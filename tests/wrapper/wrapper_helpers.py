"""Servers, wires, answers and constants more than one promise file uses (tests/wrapper/test_*.py);
the fixtures among them (`wire`, `slept`, …) reach every test through conftest.py."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from twin_harness import Twin
from virtual_clock import VirtualClock, drive_plans_with
from waits import record_waits

from sequence_clients import (
    RetryPolicy,
    UnifyClient,
)
from sequence_clients.sandbox import Sandbox

Answer = Callable[[httpx.Request], httpx.Response | None]


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
