"""One refresh per grant, not per client object: clients built on one token store share the
refresh, whether the store is save-only or shared, in threads or in asyncio tasks."""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import logging
import threading
import weakref
from pathlib import Path

import pytest
from grant_helpers import client_on, refreshes, seed_token

from sequence_clients import AsyncBoastClient, FileTokenStore, OAuthToken
from sequence_clients._telemetry import TOKEN_WAIT
from sequence_clients.sandbox import Sandbox

THREADS = 8


class SaveOnly:
    """A store that only saves (the one-process kind)."""

    def __init__(self) -> None:
        self.saved: list[OAuthToken] = []

    def save(self, token: OAuthToken) -> None:
        self.saved.append(token)


def run_threads(sandbox: Sandbox, store: object, token: OAuthToken) -> list[BaseException]:
    clients = [client_on(sandbox, store, token) for _ in range(2)]  # type: ignore[arg-type]
    failures: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def call(index: int) -> None:
        start.wait()
        try:
            clients[index % 2].get_account()
        except Exception as error:
            failures.append(error)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    for client in clients:
        client.close()
    return failures


def test_two_clients_on_one_save_only_store_refresh_once(sandbox: Sandbox) -> None:
    store = SaveOnly()
    assert run_threads(sandbox, store, seed_token(sandbox)) == []
    assert refreshes(sandbox) == ["issued"]
    assert len(store.saved) == 1


def test_two_clients_on_one_file_store_refresh_once(sandbox: Sandbox, tmp_path: Path) -> None:
    store = FileTokenStore(tmp_path / "boast.json")
    token = seed_token(sandbox)
    store.save(token)
    assert run_threads(sandbox, store, token) == []
    assert refreshes(sandbox) == ["issued"]
    stored = store.read()
    assert stored is not None and stored.generation == 2


def test_a_wait_for_the_store_s_lock_is_told_once_it_is_over(
    sandbox: Sandbox, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "boast.json"
    token = seed_token(sandbox)
    FileTokenStore(path).save(token)
    caplog.set_level(logging.INFO, logger="sequence_clients")
    held, release = threading.Event(), threading.Event()

    def hold() -> None:  # as another process holding the lock would
        with FileTokenStore(path).lock(5.0):
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(5)
    with client_on(sandbox, FileTokenStore(path), token) as client:
        threading.Timer(0.4, release.set).start()
        client.get_account()
    holder.join()
    assert refreshes(sandbox) == ["issued"]
    waits = [r for r in caplog.records if getattr(r, "event", None) == TOKEN_WAIT]
    assert [(r.holder, r.levelno) for r in waits] == [("token_store", logging.INFO)]  # type: ignore[attr-defined]
    assert 0.2 < waits[0].seconds < 5.0  # type: ignore[attr-defined]
    assert not hasattr(waits[0], "timed_out")


async def test_async_clients_on_one_store_refresh_once(sandbox: Sandbox) -> None:
    store = SaveOnly()
    token = seed_token(sandbox)
    common = {
        "account_id": sandbox.boast.account_ids[0], "access_token": token.access_token,
        "refresh_token": token.refresh_token, "expires_at": token.expires_at,
        "client_id": sandbox.boast.client_id, "client_secret": sandbox.boast.client_secret,
        "token_store": store, "base_url": sandbox.boast_base_url,
        "auth_base_url": sandbox.boast_auth_base_url,
    }  # fmt: skip
    clients = [AsyncBoastClient(**common) for _ in range(2)]  # type: ignore[arg-type]
    try:
        await asyncio.gather(*(clients[i % 2].get_account() for i in range(THREADS)))
    finally:
        for client in clients:
            await client.close()
    assert refreshes(sandbox) == ["issued"]
    assert len(store.saved) == 1


class _CollectedStore(SaveOnly):
    """A store freed only by the garbage collector (a reference cycle), as test fixtures and
    services' own objects often are."""

    def __init__(self) -> None:
        super().__init__()
        self.me = self


def test_a_store_collected_while_another_registers_does_not_deadlock(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The registry of grants forgets a store from its finalizer, which the collector runs on
    whatever thread allocates when a collection is due: inside _grant_of's lock too."""
    from sequence_clients import oauth

    class CollectingGrant(oauth._Grant):
        def __init__(self) -> None:
            gc.collect()  # as any allocation inside the registry's lock may
            super().__init__()

    gc.disable()  # nothing collects the cycle before the lock is held
    try:
        oauth._grant_of(_CollectedStore())  # registered, then unreachable but for its cycle
        monkeypatch.setattr(oauth, "_Grant", CollectingGrant)
        failures: list[BaseException] = []

        def register() -> None:
            try:
                oauth._grant_of(SaveOnly())
            except BaseException as error:  # reported below
                failures.append(error)

        worker = threading.Thread(target=register, daemon=True)
        worker.start()
        worker.join(timeout=10)
    finally:
        gc.enable()
    assert not worker.is_alive(), "registering a grant deadlocked on the registry's lock"
    assert failures == []


class _Unreferenceable:
    """A store that takes no weak reference (__slots__ without __weakref__)."""

    __slots__ = ()

    def save(self, token: OAuthToken) -> None:
        pass


def test_each_store_keeps_its_own_grant_while_others_register() -> None:
    from sequence_clients import oauth

    first, second = SaveOnly(), SaveOnly()
    grant = oauth._grant_of(first)
    other = oauth._grant_of(second)
    assert other is not grant
    assert oauth._grant_of(first) is grant and oauth._grant_of(second) is other


def test_a_store_without_weak_references_keeps_one_grant() -> None:
    from sequence_clients import oauth

    store = _Unreferenceable()
    grant = oauth._grant_of(store)
    assert isinstance(grant, oauth._Grant)
    assert oauth._grant_of(store) is grant


def test_a_collected_store_is_forgotten_and_not_kept_alive() -> None:
    """The registry holds a store weakly; once it is freed its entry goes too (no leak)."""
    from sequence_clients import oauth

    store = SaveOnly()
    key, alive = id(store), weakref.ref(store)
    oauth._grant_of(store)
    assert key in oauth._GRANTS
    del store
    gc.collect()
    assert alive() is None
    assert key not in oauth._GRANTS


def test_forgetting_another_grant_leaves_the_store_s_own() -> None:
    """A finalizer of a freed store whose id was reused forgets only its own grant."""
    from sequence_clients import oauth

    store = SaveOnly()
    grant = oauth._grant_of(store)
    oauth._forget(id(store), oauth._Grant())
    assert oauth._grant_of(store) is grant
    oauth._forget(id(object()), grant)  # nothing registered under that key: nothing happens


NOW = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(hours=1)


@pytest.mark.parametrize(
    ("candidate", "held", "newer"),
    [
        # The same token is no replacement, whatever expiry either copy claims.
        (OAuthToken("a", "r", LATER), OAuthToken("a", "r", NOW), False),
        # A different token replaces one it outlives or matches, not one that outlives it.
        (OAuthToken("b", "s", LATER), OAuthToken("a", "r", NOW), True),
        (OAuthToken("b", "s", NOW), OAuthToken("a", "r", NOW), True),
        (OAuthToken("b", "s", NOW), OAuthToken("a", "r", LATER), False),
        # Either expiry unknown: the different token is trusted (the store is where rotations land).
        (OAuthToken("b", "s", NOW), OAuthToken("a", "r", None), True),
        (OAuthToken("b", "s", None), OAuthToken("a", "r", NOW), True),
        (OAuthToken("b", "s", None), OAuthToken("a", "r", None), True),
        (OAuthToken("a", "s", None), OAuthToken("a", "r", None), True),  # a rotated refresh token
    ],
)
def test_which_token_is_newer(candidate: OAuthToken, held: OAuthToken, newer: bool) -> None:
    from sequence_clients import oauth

    assert oauth._newer(candidate, held) is newer
