"""Helpers shared by the cassette-backed tests (the fixtures are in conftest.py)."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace as Namespace
from typing import Any

import httpx
import pytest
from vcr.serialize import deserialize
from vcr.serializers import yamlserializer

from sequence_clients import (
    AsyncBoastClient,
    AsyncUnifyClient,
    BoastClient,
    OAuthToken,
    UnifyClient,
)
from sequence_clients.sandbox import FaultConfig, Sandbox

__all__ = ["Namespace"]

LIVE_ENV = "SEQUENCE_CLIENTS_LIVE"
UNIFY_URL = "https://api.unifygtm.com"
BOAST_URL = "https://api.boast.io"  # the host root; generated paths carry /v1
BOAST_AUTH_URL = "https://app.boast.io"
# Faults can only be injected by the sandbox; a live re-recording skips these tests, so they
# keep their sandbox-recorded cassettes.
sandbox_only = pytest.mark.skipif(
    bool(os.environ.get(LIVE_ENV)), reason="faults are injected by the sandbox"
)
# Used when a replayed cassette is missing: the test is failed (naming the file) before it runs.
MISSING = "00000000-0000-4000-8000-000000000000"
# A well-formed id no vendor has: the 404 tests ask for it.
UNKNOWN_ID = "0b7e9c1d-4a2f-4c3e-8d5a-6f1e2d3c4b5a"


@dataclass(frozen=True)
class VendorUrls:
    unify: str
    boast: str
    boast_auth: str


@dataclass
class Session:
    """How this test talks HTTP: recording (sandbox or live vendor) or replaying."""

    recording: bool
    live: str | None
    sandbox: Sandbox | None
    cassette: Any

    @property
    def urls(self) -> VendorUrls:
        if self.sandbox is not None:
            sb = self.sandbox
            return VendorUrls(sb.unify_base_url, sb.boast_base_url, sb.boast_auth_base_url)
        # Replay and live both use the vendors' own origins; vcr answers before any network.
        return VendorUrls(UNIFY_URL, BOAST_URL, BOAST_AUTH_URL)

    def metadata(self, key: str, record: Any) -> Any:
        """`record()` when recording, saved in the cassette; the saved value when replaying."""
        if self.recording:
            return self.cassette.get_metadata(key, record())
        saved = _saved_metadata(Path(self.cassette.path))
        return saved.get(key) if saved is not None else None

    def mark_broken(self, reason: str, back: int = 0) -> None:
        """The response recorded last (or `back` before it) is deliberately outside the spec:
        an injected fault. The spec check exempts it, and fails if it ever conforms."""
        if self.recording:
            marks = self.cassette.get_metadata("deliberately_broken", [])
            marks.append({"interaction": len(self.cassette.data) - 1 - back, "reason": reason})

    def sandbox_only(self) -> Sandbox | None:
        """The sandbox when recording against it (for fault injection), else None."""
        return self.sandbox


def _saved_metadata(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    loaded = deserialize(path.read_text(encoding="utf-8"), yamlserializer)
    return loaded[2] if len(loaded) > 2 else {}


# --- Unify ------------------------------------------------------------------------------------
@dataclass
class UnifyEnv:
    api_key: str
    base_url: str
    sequence_id: str  # a sequence nobody is active in
    other_sequence_id: str
    people: list[str]  # people free to enroll
    mailbox: str
    session: Session


def unify_env(session: Session) -> UnifyEnv:
    if session.sandbox is not None:
        api_key = session.sandbox.unify_api_key
    elif session.live:
        api_key = os.environ["UNIFY_API_KEY"]
    else:
        api_key = "REDACTED-API-KEY-1"  # what the recorded key was scrubbed to
    ids = session.metadata("unify_ids", lambda: _unify_ids(session)) or {
        "sequence_id": MISSING,
        "other_sequence_id": MISSING,
        "people": [MISSING] * 4,
        "mailbox": "missing@example.com",
    }
    return UnifyEnv(api_key=api_key, base_url=session.urls.unify, session=session, **ids)


def _unify_ids(session: Session) -> dict[str, Any]:
    if session.sandbox is None:  # live: the operator names safe test records
        return {
            "sequence_id": os.environ["UNIFY_SEQUENCE_ID"],
            "other_sequence_id": os.environ["UNIFY_OTHER_SEQUENCE_ID"],
            "people": os.environ["UNIFY_PERSON_IDS"].split(","),
            "mailbox": os.environ["UNIFY_MAILBOX_EMAIL"],
        }
    state = session.sandbox.unify
    free = [s["id"] for s in state.live_sequences() if state.active_enrollment_count(s["id"]) == 0]
    return {
        "sequence_id": free[0],
        "other_sequence_id": free[1],
        # The front of the list has no seeded history.
        "people": [p["id"] for p in state.people[:4]],
        "mailbox": state.mailboxes[0]["email"],
    }


def unify_client(
    env: UnifyEnv,
    *,
    fault: FaultConfig | None = None,
    reset_after_commit: bool = False,
    api_key: str | None = None,
    **options: Any,
) -> UnifyClient:
    hooks: list[Any] = []
    sandbox = env.session.sandbox
    if fault is not None and sandbox is not None:
        hooks.append(_arm(sandbox, fault))
    transport: httpx.BaseTransport = httpx.HTTPTransport()
    if reset_after_commit:
        transport = ResetAfterCommit(transport)
    http = httpx.Client(transport=transport, event_hooks={"response": hooks})
    return UnifyClient(api_key or env.api_key, base_url=env.base_url, httpx_client=http, **options)


def async_unify_client(
    env: UnifyEnv,
    *,
    fault: FaultConfig | None = None,
    reset_after_commit: bool = False,
    api_key: str | None = None,
    **options: Any,
) -> AsyncUnifyClient:
    hooks: list[Any] = []
    sandbox = env.session.sandbox
    if fault is not None and sandbox is not None:
        disarm = _arm(sandbox, fault)

        async def adisarm(response: httpx.Response) -> None:
            disarm(response)

        hooks.append(adisarm)
    transport: httpx.AsyncBaseTransport = httpx.AsyncHTTPTransport()
    if reset_after_commit:
        transport = AsyncResetAfterCommit(transport)
    http = httpx.AsyncClient(transport=transport, event_hooks={"response": hooks})
    return AsyncUnifyClient(
        api_key or env.api_key, base_url=env.base_url, httpx_client=http, **options
    )


def _arm(sandbox: Sandbox, fault: FaultConfig) -> Any:
    """Fault exactly the next request: on before it is sent, off once its answer is back.

    Random rates would make cassettes depend on luck; one armed request is byte-stable.
    """
    sandbox.set_faults(fault)

    def disarm(response: httpx.Response) -> None:
        sandbox.set_faults(FaultConfig())

    return disarm


# --- a connection reset after the server committed, simulated client-side ----------------------
# vcr cannot record "no response", so the server's answer is recorded (the create happened)
# and then thrown away here exactly as a reset would lose it. Replay goes through the same
# wrapper, so the client sees the same failure, retries, and gets the recorded 409.
RESET = "connection reset by peer (simulated: the server had committed the request)"


class ResetAfterCommit(httpx.BaseTransport):
    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.armed = True

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if self.armed and request.method == "POST":
            self.armed = False
            response.read()
            response.close()
            raise httpx.ReadError(RESET, request=request)
        return response

    def close(self) -> None:
        self.inner.close()


class AsyncResetAfterCommit(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.armed = True

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if self.armed and request.method == "POST":
            self.armed = False
            await response.aread()
            await response.aclose()
            raise httpx.ReadError(RESET, request=request)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


# --- Boast ------------------------------------------------------------------------------------
# Every Boast test starts from an already expired access token, so its first request refreshes:
# that is all a live recording can do too (it holds a refresh token, no access token), and it
# puts a token exchange, the secrets that matter most, in every Boast cassette.
EXPIRED_ACCESS_TOKEN = "expired-access-token-never-sent"
LONG_AGO = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
# Live runs rotate the refresh token with every refresh; the next test needs the newest one.
_live_refresh_token: dict[str, str] = {}


class ListStore:
    """A token store keeping every saved token, in order (and the newest for live runs)."""

    def __init__(self, live: bool) -> None:
        self.saved: list[OAuthToken] = []
        self._live = live

    def save(self, token: OAuthToken) -> None:
        self.saved.append(token)
        if self._live and token.refresh_token:
            _live_refresh_token["current"] = token.refresh_token
            path = os.environ.get("BOAST_REFRESH_TOKEN_FILE")
            if path:  # the operator's copy: the token in the environment is now spent
                Path(path).write_text(token.refresh_token + "\n", encoding="utf-8")


@dataclass
class BoastEnv:
    account_id: str
    client_id: str
    client_secret: str
    refresh_token: str
    contacts: list[str]  # contacts with no enrollment
    sequence_id: str  # active sequences nobody is enrolled in
    other_sequence_id: str
    base_url: str
    auth_base_url: str
    session: Session


def boast_env(session: Session) -> BoastEnv:
    ids = session.metadata("boast_ids", lambda: _boast_ids(session)) or {
        "account_id": MISSING,
        "contacts": [MISSING] * 4,
        "sequence_id": MISSING,
        "other_sequence_id": MISSING,
    }
    if session.sandbox is not None:
        state = session.sandbox.boast
        client_id, secret = state.client_id, state.client_secret
        refresh = state.issue_token().refresh_token
    elif session.live:
        client_id, secret = os.environ["BOAST_CLIENT_ID"], os.environ["BOAST_CLIENT_SECRET"]
        refresh = _live_refresh_token.setdefault("current", os.environ["BOAST_REFRESH_TOKEN"])
    else:  # what the recorded ones were scrubbed to
        client_id, secret = "REDACTED-CLIENT-ID-1", "REDACTED-CLIENT-SECRET-1"
        refresh = "REDACTED-REFRESH-TOKEN-1"
    urls = session.urls
    return BoastEnv(
        client_id=client_id,
        client_secret=secret,
        refresh_token=refresh,
        base_url=urls.boast,
        auth_base_url=urls.boast_auth,
        session=session,
        **ids,
    )


def _boast_ids(session: Session) -> dict[str, Any]:
    if session.sandbox is None:
        return {
            "account_id": os.environ["BOAST_ACCOUNT_ID"],
            "contacts": os.environ["BOAST_CONTACT_IDS"].split(","),
            "sequence_id": os.environ["BOAST_SEQUENCE_ID"],
            "other_sequence_id": os.environ["BOAST_OTHER_SEQUENCE_ID"],
        }
    state = session.sandbox.boast
    account_id = state.account_ids[0]
    sequences = [s["id"] for s in state.active_sequences(account_id)]
    free = [s for s in sequences if state.active_enrollment_count(sequence_id=s) == 0]
    return {
        "account_id": account_id,
        "contacts": [c["id"] for c in state.contacts[account_id][:4]],  # the front has no history
        "sequence_id": free[0],
        "other_sequence_id": free[1],
    }


def _boast_options(
    env: BoastEnv, store: ListStore | None, access_token: str, expires_at: dt.datetime | None
) -> dict[str, Any]:
    return {
        "account_id": env.account_id,
        "access_token": access_token,
        "expires_at": expires_at,
        "refresh_token": env.refresh_token,
        "client_id": env.client_id,
        "client_secret": env.client_secret,
        "token_store": store if store is not None else ListStore(env.session.live is not None),
        "auth_base_url": env.auth_base_url,
        "base_url": env.base_url,
    }


def boast_client(
    env: BoastEnv,
    *,
    store: ListStore | None = None,
    access_token: str = EXPIRED_ACCESS_TOKEN,
    expires_at: dt.datetime | None = LONG_AGO,
    fault: FaultConfig | None = None,
    reset_after_commit: bool = False,
    **options: Any,
) -> BoastClient:
    hooks: list[Any] = []
    if fault is not None and env.session.sandbox is not None:
        hooks.append(_arm(env.session.sandbox, fault))
    transport: httpx.BaseTransport = httpx.HTTPTransport()
    if reset_after_commit:
        transport = ResetAfterCommit(transport)
    http = httpx.Client(transport=transport, event_hooks={"response": hooks})
    return BoastClient(
        **{**_boast_options(env, store, access_token, expires_at), **options}, httpx_client=http
    )


def async_boast_client(
    env: BoastEnv,
    *,
    store: ListStore | None = None,
    access_token: str = EXPIRED_ACCESS_TOKEN,
    expires_at: dt.datetime | None = LONG_AGO,
    fault: FaultConfig | None = None,
    reset_after_commit: bool = False,
    **options: Any,
) -> AsyncBoastClient:
    hooks: list[Any] = []
    if fault is not None and env.session.sandbox is not None:
        disarm = _arm(env.session.sandbox, fault)

        async def adisarm(response: httpx.Response) -> None:
            disarm(response)

        hooks.append(adisarm)
    transport: httpx.AsyncBaseTransport = httpx.AsyncHTTPTransport()
    if reset_after_commit:
        transport = AsyncResetAfterCommit(transport)
    http = httpx.AsyncClient(transport=transport, event_hooks={"response": hooks})
    return AsyncBoastClient(
        **{**_boast_options(env, store, access_token, expires_at), **options}, httpx_client=http
    )
