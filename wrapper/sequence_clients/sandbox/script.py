"""Scripted faults per operation, and a log of every request, in front of one vendor app.

The probabilistic faults of `core.FaultMiddleware` suit load tests; a service's own test wants
"the second enroll answers 429 with Retry-After: 1", once, by name. `OperationScript` sits in
front of the vendor's middleware and answers a request whose operation (the spec's operationId,
see operations.py) has a scripted fault, in the vendor's own error shape:

- `status`: an error answer rendered by the vendor state's `error_body` (as the fault
  middleware renders its 429/5xx), with Retry-After when asked; with `after_commit` the request
  is applied first (a 503 from a proxy whose upstream did the work);
- `reset_before` / `reset_after_commit`: the connection drops before the request is applied, or
  after it was (the ambiguous case retries must never duplicate);
- `timeout`: applied, then no answer in time (in process: a read timeout at once; served: the
  answer is held `hold` seconds, longer than the client is expected to wait);
- state faults, answered by the fake itself from state made true first: `already_enrolled`
  (the person or contact is enrolled in the requested sequence first), `active_in_another_sequence`
  (Unify: in another live sequence), `invalid_grant` (Boast: the refresh token presented is
  revoked first), `token_expired` (Boast: the bearer token is refused as expired).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from ..errors import InvalidRequestError
from .core import (
    TRANSPORT_EXTENSION,
    ASGIApp,
    Message,
    Receive,
    Scope,
    Send,
    _call_buffered,
    _reset,
    _send_json,
    _vendor_path,
)
from .operations import operation_names, operation_of

TRANSPORT_KINDS = ("reset_before", "reset_after_commit", "timeout")
STATE_KINDS = {
    "unify": ("already_enrolled", "active_in_another_sequence"),
    "boast": ("already_enrolled", "invalid_grant", "token_expired"),
}
# The vendors' error codes by status where the documentation names one (5xx and 429 are
# rendered by each state's error_body, which applies its own spec enums).
_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    409: "conflict", 422: "invalid", 429: "rate_limited",
}  # fmt: skip
DEFAULT_HOLD = 5.0
# State faults that make sense for one operation only.
_ONLY_FOR = {
    "already_enrolled": "create_sequence_enrollment",
    "active_in_another_sequence": "create_sequence_enrollment",
    "invalid_grant": "create_token",
}


class ScriptedTimeout(Exception):
    """Raised inside the app (in process only) where a served sandbox would hold its answer;
    the testing kit's transport turns it into httpx.ReadTimeout."""


@dataclass
class Fault:
    operation: str
    kind: str  # "status", one of TRANSPORT_KINDS, or one of the vendor's STATE_KINDS
    status: int = 0
    retry_after: float | None = None
    message: str = ""
    remaining: int | None = 1  # None: every matching request
    hold: float = DEFAULT_HOLD
    after_commit: bool = False


@dataclass(frozen=True)
class LoggedRequest:
    """One request as the sandbox saw it, and what it answered (status 0: no answer)."""

    operation: str | None
    method: str
    path: str
    query: str
    body: bytes
    status: int
    fault: str | None

    def json(self) -> Any:
        return json.loads(self.body)


class OperationScript:
    """Faults to answer per operation, and the request log, of one vendor."""

    def __init__(self, vendor: str, state: Any, unauthorized: Callable[[str], Any] | None) -> None:
        self.vendor = vendor
        self.state = state
        self._unauthorized = unauthorized
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self.log: list[LoggedRequest] = []
        # Off by default: a long-running sandbox or a benchmark would keep every request. The
        # testing kit turns it on; with it off and nothing scripted, requests pass untouched.
        self.recording = False

    # --- scripting (test thread) -------------------------------------------------------------
    def add(self, fault: Fault) -> None:
        names = operation_names(self.vendor)
        if fault.operation not in names:
            raise InvalidRequestError(
                f"{self.vendor} has no operation {fault.operation!r}; its operations: "
                + ", ".join(sorted(names))
            )
        allowed = ("status", *TRANSPORT_KINDS, *STATE_KINDS[self.vendor])
        if fault.kind not in allowed:
            raise InvalidRequestError(
                f"unknown {self.vendor} fault {fault.kind!r}; one of: {', '.join(allowed)}"
            )
        only = _ONLY_FOR.get(fault.kind)
        if only is not None and fault.operation != only:
            raise InvalidRequestError(f"{fault.kind!r} is a fault of {only!r} only")
        if fault.kind == "token_expired" and fault.operation == "create_token":
            raise InvalidRequestError("'token_expired' is a fault of API calls, not create_token")
        if fault.kind == "status" and not 400 <= fault.status <= 599:
            raise InvalidRequestError(f"status must be an error status 400-599, got {fault.status}")
        if fault.remaining is not None and fault.remaining < 1:
            raise InvalidRequestError(
                f"times must be >= 1 (or None: always), got {fault.remaining}"
            )
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self.log.clear()

    def pending(self) -> list[Fault]:
        with self._lock:
            return [f for f in self._faults if f.remaining is None or f.remaining > 0]

    def _take(self, operation: str | None) -> Fault | None:
        """The first scripted fault still due for `operation`, counted down; None if none."""
        with self._lock:
            for fault in self._faults:
                if fault.operation != operation:
                    continue
                if fault.remaining is None:
                    return fault
                if fault.remaining > 0:
                    fault.remaining -= 1
                    return fault
        return None

    # --- ASGI -------------------------------------------------------------------------------
    def wrap(self, app: ASGIApp) -> ASGIApp:
        async def scripted(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            await self._handle(app, scope, receive, send)

        return scripted

    async def _handle(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.recording and not self._faults:
            await app(scope, receive, send)
            return
        body = await _read_body(receive)
        replay = _replaying(body, receive)
        path = _vendor_path(scope)
        operation = operation_of(self.vendor, scope["method"], path)
        fault = self._take(operation)
        answered = {"status": 0}

        async def logged_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                answered["status"] = message["status"]
            await send(message)

        kind = None if fault is None else fault.kind
        try:
            if fault is None:
                await app(scope, replay, logged_send)
            else:
                await self._inject(fault, app, scope, body, replay, logged_send)
        finally:
            entry = LoggedRequest(
                operation=operation,
                method=scope["method"],
                path=path,
                query=scope.get("query_string", b"").decode("latin-1"),
                body=body,
                status=answered["status"] if kind not in TRANSPORT_KINDS else 0,
                fault=kind,
            )
            if self.recording:
                with self._lock:
                    self.log.append(entry)

    async def _inject(
        self, fault: Fault, app: ASGIApp, scope: Scope, body: bytes, replay: Receive, send: Send
    ) -> None:
        if fault.kind == "status":
            if fault.after_commit:
                await _call_buffered(app, scope, replay)
            message = fault.message or f"Scripted {fault.status} from the sandbox"
            error = self.state.error_body(fault.status, _CODES.get(fault.status, "error"), message)
            extra = []
            if fault.retry_after is not None:
                extra.append((b"retry-after", _seconds(fault.retry_after).encode()))
            await _send_json(send, fault.status, error, extra)
        elif fault.kind == "reset_before":
            await _reset(scope, send)
        elif fault.kind in ("reset_after_commit", "timeout"):
            status, headers, answer = await _call_buffered(app, scope, replay)
            if fault.kind == "reset_after_commit":
                await _reset(scope, send)
                return
            if TRANSPORT_EXTENSION not in scope.get("extensions", {}):
                raise ScriptedTimeout(f"sandbox fault: {fault.operation} timed out")
            await asyncio.sleep(fault.hold)
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": answer})
        elif fault.kind == "token_expired":
            assert self._unauthorized is not None
            response = self._unauthorized(fault.message or "The access token expired")
            await response(scope, replay, send)
        else:
            self._make_true(fault.kind, scope, body)
            await app(scope, replay, send)

    def _make_true(self, kind: str, scope: Scope, body: bytes) -> None:
        """Put the state the fault stands for in place, so the fake's own answer follows."""
        state = self.state
        with state.lock:
            if kind == "invalid_grant":
                form = dict(parse_qsl(body.decode("latin-1")))
                if form.get("refresh_token"):
                    state.revoke(form["refresh_token"])
                return
            request = json.loads(body or b"{}")
            if self.vendor == "unify":
                person = str(request.get("person_id", ""))
                sequence = str(request.get("sequence_id", ""))
                if kind == "active_in_another_sequence":
                    others = [s["id"] for s in state.live_sequences() if s["id"] != sequence]
                    sequence = others[0]
                if state.person(person) is not None and state.active_enrollment_of(person) is None:
                    state.create_enrollment(sequence, person, state.mailboxes[0]["id"])
            else:
                account = _vendor_path(scope).split("/")[3]
                contact = str(request.get("contact_id", ""))
                sequence = str(request.get("sequence_id", ""))
                if state.active_enrollment(contact, sequence) is None:
                    state.create_enrollment(account, contact, sequence)


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


async def _read_body(receive: Receive) -> bytes:
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return bytes(body)
        body.extend(message.get("body", b""))
        if not message.get("more_body", False):
            return bytes(body)


def _replaying(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


__all__ = ["Fault", "LoggedRequest", "OperationScript", "ScriptedTimeout"]
