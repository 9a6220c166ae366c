"""A seeded sandbox per test, its clients, its seed helpers and its fault script.

`SequenceSandbox` holds one `SandboxApp` (both fakes, in memory) and reaches it in process
through an httpx transport; `serve()` puts the same app on a loopback port for code that builds
its clients from URLs or the environment. `unify` and `boast` are the per-vendor views a test
talks to: `fail(...)`, `requests(...)`, seed helpers and ready clients.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from ..boast import AsyncBoastClient, BoastClient
from ..errors import InvalidRequestError
from ..oauth import OAuthToken
from ..sandbox.core import SandboxConfig
from ..sandbox.script import DEFAULT_HOLD, Fault, LoggedRequest, OperationScript
from ..sandbox.server import BOAST_PREFIX, UNIFY_PREFIX, Sandbox, SandboxApp
from ..unify import AsyncUnifyClient, UnifyClient
from ._transport import AsyncInProcessTransport, InProcessTransport

# In process the host is never resolved; loopback keeps the clients' https check satisfied.
IN_PROCESS_ORIGIN = "http://localhost"
DEFAULT_SEED = 7
# Enough people and contacts for paging tests (Boast pages by 25), cheap to build per test; no
# vendor rate limit unless a test asks for one (see `sequence_clients_sandbox_options`).
DEFAULT_OPTIONS: dict[str, Any] = {"people": 600, "rate_limit": None}


class MemoryTokenStore:
    """A TokenStore keeping every token saved to it, in order; `token` is the latest."""

    def __init__(self, token: OAuthToken | None = None) -> None:
        self._lock = threading.Lock()
        self.saved: list[OAuthToken] = []
        self.token = token

    def save(self, token: OAuthToken) -> None:
        with self._lock:
            self.saved.append(token)
            self.token = token

    def __repr__(self) -> str:
        return f"MemoryTokenStore(saved={len(self.saved)})"


class _Vendor:
    def __init__(self, kit: SequenceSandbox, script: OperationScript) -> None:
        self._kit = kit
        self._script = script

    def fail(
        self,
        operation: str,
        status: int | None = None,
        *,
        error: str | None = None,
        retry_after: float | None = None,
        times: int | None = 1,
        message: str = "",
        hold: float = DEFAULT_HOLD,
        after_commit: bool = False,
    ) -> None:
        """Answer the next `times` requests of `operation` (the spec's operationId, as in
        `sequence_clients.generated.<vendor>.api`) with an error status in the vendor's shape
        (`status=429, retry_after=1`), or an `error` of another kind: "reset_before",
        "reset_after_commit", "timeout", "already_enrolled", and per vendor
        "active_in_another_sequence" (Unify), "token_expired" and "invalid_grant" (Boast,
        the latter on "create_token"). `after_commit=True`: the request is applied before
        the error status is answered. `times=None`: every request until `reset()`."""
        if (status is None) == (error is None):
            raise InvalidRequestError("fail() takes a status or an error kind, not both")
        kind = "status" if error is None else error
        fault = Fault(operation, kind, status or 0, retry_after, message, times, hold, after_commit)
        self._script.add(fault)

    def requests(self, operation: str | None = None) -> list[LoggedRequest]:
        """Every request the fake received (of `operation`), in order, with its answer."""
        with self._script._lock:
            log = list(self._script.log)
        return [r for r in log if operation is None or r.operation == operation]

    def pending_faults(self) -> list[Fault]:
        """Scripted faults not yet used up: a test may assert its script ran out."""
        return self._script.pending()

    def reset(self) -> None:
        """Forget scripted faults and logged requests (state stays as it is)."""
        self._script.clear()


class UnifySandbox(_Vendor):
    """The Unify fake of one test: seed helpers, fault script, request log, clients."""

    @property
    def state(self) -> Any:
        """The fake's own state (sandbox.unify_state.UnifyState), for assertions."""
        return self._kit.app.unify

    @property
    def api_key(self) -> str:
        return str(self.state.api_keys[0])

    @property
    def base_url(self) -> str:
        return IN_PROCESS_ORIGIN + UNIFY_PREFIX

    def free_people(self, count: int = 1) -> list[str]:
        """Ids of people never enrolled in anything: each can be enrolled in any sequence."""
        with self.state.lock:
            enrolled = {e.person_id for e in self.state.enrollments.values()}
            free = [p["id"] for p in self.state.people if p["id"] not in enrolled]
        if len(free) < count:
            raise InvalidRequestError(f"only {len(free)} free people left, {count} asked")
        return free[:count]

    def sequence(self) -> str:
        """A live sequence with no active enrollment."""
        with self.state.lock:
            return str(
                next(
                    s["id"]
                    for s in self.state.live_sequences()
                    if self.state.active_enrollment_count(s["id"]) == 0
                )
            )

    def mailbox(self) -> str:
        """A mailbox email enrollments can send from."""
        return str(self.state.mailboxes[0]["email"])

    def enroll(self, count: int, sequence_id: str | None = None) -> list[str]:
        """Enroll `count` free people in `sequence_id` (default: `sequence()`) directly in the
        fake's state, no request made; their enrollment ids."""
        sequence_id = sequence_id or self.sequence()
        people = self.free_people(count)
        mailbox = self.state.mailboxes[0]["id"]
        with self.state.lock:
            return [
                str(self.state.create_enrollment(sequence_id, p, mailbox)["id"]) for p in people
            ]

    def active_enrollments(self, person_id: str | None = None) -> int:
        """Active enrollments (of `person_id`): what a test asserts "exactly one" with."""
        with self.state.lock:
            return sum(
                1
                for e in self.state.enrollments.values()
                if e.active and (person_id is None or e.person_id == person_id)
            )

    def client(self, **options: Any) -> UnifyClient:
        """A UnifyClient on this fake, in process; closed with the sandbox."""
        http = httpx.Client(transport=self._kit.transport())
        client = UnifyClient(self.api_key, base_url=self.base_url, httpx_client=http, **options)
        self._kit._on_close(http.close)
        return client

    def async_client(self, **options: Any) -> AsyncUnifyClient:
        """An AsyncUnifyClient on this fake, in process, usable from any event loop."""
        http = httpx.AsyncClient(transport=AsyncInProcessTransport(self._kit.app))
        self._kit._on_close(lambda: _close_async(http))
        return AsyncUnifyClient(self.api_key, base_url=self.base_url, httpx_client=http, **options)


class BoastSandbox(_Vendor):
    """The Boast fake of one test: seed helpers, fault script, request log, clients."""

    @property
    def state(self) -> Any:
        """The fake's own state (sandbox.boast_state.BoastState), for assertions."""
        return self._kit.app.boast

    @property
    def account_id(self) -> str:
        return str(self.state.account_ids[0])

    @property
    def client_id(self) -> str:
        return str(self.state.client_id)

    @property
    def client_secret(self) -> str:
        return str(self.state.client_secret)

    @property
    def base_url(self) -> str:
        return IN_PROCESS_ORIGIN + BOAST_PREFIX

    def sequence(self) -> str:
        """An active sequence of the account."""
        return str(self.state.active_sequences(self.account_id)[0]["id"])

    def contacts(self, count: int = 1, sequence_id: str | None = None) -> list[str]:
        """Ids of the account's contacts not actively enrolled in `sequence_id` (default:
        `sequence()`)."""
        sequence_id = sequence_id or self.sequence()
        with self.state.lock:
            free = [
                c["id"]
                for c in self.state.contacts[self.account_id]
                if self.state.active_enrollment(c["id"], sequence_id) is None
            ]
        if len(free) < count:
            raise InvalidRequestError(f"only {len(free)} free contacts left, {count} asked")
        return free[:count]

    def active_enrollments(self, contact_id: str | None = None) -> int:
        with self.state.lock:
            return sum(
                1
                for e in self.state.enrollments.values()
                if e.active and (contact_id is None or e.contact_id == contact_id)
            )

    def token(self) -> OAuthToken:
        """A freshly issued, valid token pair."""
        pair = self.state.issue_token()
        expires = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=pair.expires_in)
        return OAuthToken(pair.access_token, pair.refresh_token, expires)

    def token_store(self) -> MemoryTokenStore:
        """A token store holding a valid token (`store.token`); rotations are saved to it."""
        return MemoryTokenStore(self.token())

    def credentials(self, store: MemoryTokenStore | None = None) -> dict[str, Any]:
        """BoastClient keyword arguments for this fake's account, refresh included."""
        store = store or self.token_store()
        token = store.token or self.token()
        return {
            "account_id": self.account_id,
            "access_token": token.access_token,
            "refresh_token": token.refresh_token,
            "expires_at": token.expires_at,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "token_store": store,
            "base_url": self.base_url,
            "auth_base_url": self.base_url,
        }

    def client(self, store: MemoryTokenStore | None = None, **options: Any) -> BoastClient:
        """A BoastClient on this fake, in process, refreshing into `store`."""
        http = httpx.Client(transport=self._kit.transport())
        auth = httpx.Client(transport=self._kit.transport())
        self._kit._on_close(http.close)
        self._kit._on_close(auth.close)
        arguments = {**self.credentials(store), **options}
        return BoastClient(httpx_client=http, auth_httpx_client=auth, **arguments)

    def async_client(
        self, store: MemoryTokenStore | None = None, **options: Any
    ) -> AsyncBoastClient:
        transport = AsyncInProcessTransport(self._kit.app)
        http = httpx.AsyncClient(transport=transport)
        auth = httpx.AsyncClient(transport=transport)
        self._kit._on_close(lambda: _close_async(http))
        self._kit._on_close(lambda: _close_async(auth))
        arguments = {**self.credentials(store), **options}
        return AsyncBoastClient(httpx_client=http, auth_httpx_client=auth, **arguments)


class ServedSandbox:
    """The same fakes on a loopback port; `env` holds the variables the clients read."""

    def __init__(self, sandbox: Sandbox, env: dict[str, str]) -> None:
        self.sandbox = sandbox
        self.env = env

    @property
    def base_url(self) -> str:
        return self.sandbox.base_url

    def __repr__(self) -> str:
        return f"ServedSandbox({self.base_url})"


class SequenceSandbox:
    """Both fakes for one test, seeded: the same seed gives the same ids every run."""

    def __init__(self, seed: int = DEFAULT_SEED, **options: Any) -> None:
        self.app = SandboxApp(SandboxConfig(**{**DEFAULT_OPTIONS, **options, "seed": seed}))
        self.app.unify_script.recording = self.app.boast_script.recording = True
        self.unify = UnifySandbox(self, self.app.unify_script)
        self.boast = BoastSandbox(self, self.app.boast_script)
        self._transport: InProcessTransport | None = None
        self._closers: list[Any] = []
        self._served: Sandbox | None = None

    def transport(self) -> InProcessTransport:
        """The sync in-process transport (one event loop thread, shared by this test)."""
        if self._transport is None:
            self._transport = InProcessTransport(self.app)
        return self._transport

    def async_transport(self) -> AsyncInProcessTransport:
        return AsyncInProcessTransport(self.app)

    def serve(self) -> ServedSandbox:
        """Serve these fakes on a free loopback port (once); `env` is what the clients read
        (UNIFY_API_KEY, UNIFY_BASE_URL, BOAST_*), with a freshly issued Boast token."""
        if self._served is None:
            self._served = Sandbox(app=self.app).start()
        base = self._served.base_url
        token = self.boast.token()
        env = {
            "UNIFY_API_KEY": self.unify.api_key,
            "UNIFY_BASE_URL": base + UNIFY_PREFIX,
            "BOAST_ACCOUNT_ID": self.boast.account_id,
            "BOAST_ACCESS_TOKEN": token.access_token,
            "BOAST_REFRESH_TOKEN": token.refresh_token or "",
            "BOAST_CLIENT_ID": self.boast.client_id,
            "BOAST_CLIENT_SECRET": self.boast.client_secret,
            "BOAST_BASE_URL": base + BOAST_PREFIX,
            "BOAST_AUTH_BASE_URL": base + BOAST_PREFIX,
        }
        return ServedSandbox(self._served, env)

    def _on_close(self, closer: Any) -> None:
        self._closers.append(closer)

    def close(self) -> None:
        for closer in reversed(self._closers):
            closer()
        self._closers.clear()
        if self._transport is not None:
            self._transport.close()
        if self._served is not None:
            self._served.stop(wait=False)
            self._served = None

    def __enter__(self) -> SequenceSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _close_async(http: httpx.AsyncClient) -> None:
    """Close an in-process AsyncClient from sync code: its transport holds no socket, so a
    private loop does. Private, so the caller's current loop (pytest-asyncio's, say) is never
    replaced or unset; on a thread of its own when this thread is running a loop."""
    if http.is_closed:
        return

    def close() -> None:
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(http.aclose())
        finally:
            loop.close()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        close()
        return
    thread = threading.Thread(target=close)
    thread.start()
    thread.join()


@contextmanager
def sequence_sandbox(seed: int = DEFAULT_SEED, **options: Any) -> Iterator[SequenceSandbox]:
    """`with sequence_sandbox(seed=3) as sb:` outside pytest (unittest, scripts)."""
    kit = SequenceSandbox(seed, **options)
    try:
        yield kit
    finally:
        kit.close()
