"""The built-in token stores on their own: what they keep, how they write it (atomically, 0600
in a 0700 folder), what a broken file or an unreachable Redis gives (a typed error), and that
their locks exclude other holders for a bounded time."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
from redisproc import RedisProcess

from sequence_clients import (
    FileTokenStore,
    OAuthToken,
    RedisTokenStore,
    SharedTokenStore,
    token_stores,
)
from sequence_clients.errors import (
    InvalidRequestError,
    SequenceClientError,
    TokenStoreAccessError,
)
from sequence_clients.token_stores import RETIRED_KEPT, fingerprint

WHEN = dt.datetime(2030, 5, 4, 3, 2, 1, tzinfo=dt.UTC)


def token(n: int) -> OAuthToken:
    return OAuthToken(f"access-{n}", f"refresh-{n}", WHEN + dt.timedelta(hours=n))


def test_both_stores_are_shared_token_stores(tmp_path: Path) -> None:
    assert isinstance(FileTokenStore(tmp_path / "t.json"), SharedTokenStore)
    assert isinstance(RedisTokenStore("redis://127.0.0.1:1/0"), SharedTokenStore)


# --- FileTokenStore ------------------------------------------------------------------------
def test_file_store_round_trip_generations_and_retired_fingerprints(tmp_path: Path) -> None:
    store = FileTokenStore(tmp_path / "t.json")
    assert store.load() is None and store.read() is None
    for n in range(3):
        store.save(token(n))
    stored = FileTokenStore(tmp_path / "t.json").read()
    assert stored is not None
    assert stored.token == token(2) and stored.generation == 3
    assert stored.retired == (fingerprint("refresh-0"), fingerprint("refresh-1"))
    assert stored.descends_from("refresh-0") and stored.descends_from("refresh-2")
    assert not stored.descends_from("refresh-9")
    text = (tmp_path / "t.json").read_text()
    assert "refresh-0" not in text  # used tokens are remembered by fingerprint only
    assert json.loads(text)["expires_at"] == token(2).expires_at.isoformat()  # type: ignore[union-attr]
    assert str(tmp_path / "t.json") in repr(store)  # which file, in logs and tracebacks


def test_a_save_that_keeps_the_refresh_token_retires_nothing(tmp_path: Path) -> None:
    """An answer without a refresh token keeps the one held: nothing was rotated past."""
    store = FileTokenStore(tmp_path / "t.json")
    store.save(token(1))
    store.save(OAuthToken("access-2", "refresh-1", WHEN))
    store.save(token(3))
    store.save(OAuthToken("access-4", "refresh-3", WHEN))
    stored = store.read()
    assert stored is not None and stored.generation == 4
    assert stored.retired == (fingerprint("refresh-1"),)  # once, when refresh-3 replaced it


def test_the_seed_is_kept_by_saves_of_stores_that_did_not_seed(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    assert FileTokenStore(path).seeded_by is None
    FileTokenStore(path).save(token(0))
    first = FileTokenStore(path).read()
    assert first is not None and first.seeded_by is None  # not seeded: nothing claimed
    seeding = FileTokenStore(path)
    seeding.seeded_by = fingerprint("exported")
    seeding.save(token(1))
    FileTokenStore(path).save(token(2))  # another process, which seeded nothing
    stored = FileTokenStore(path).read()
    assert stored is not None and stored.seeded_by == fingerprint("exported")
    assert stored.descends_from("exported")


def test_retired_fingerprints_are_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kept = 4
    assert kept < RETIRED_KEPT
    monkeypatch.setattr(token_stores, "RETIRED_KEPT", kept)  # fewer saves to reach the bound
    store = FileTokenStore(tmp_path / "t.json")
    store.seeded_by = fingerprint("the-seed")
    for n in range(kept + 3):
        store.save(token(n))
    stored = store.read()
    assert stored is not None and len(stored.retired) == kept
    assert stored.retired[-1] == fingerprint(f"refresh-{kept + 1}")
    # The seed is kept for good, however many rotations ago it was.
    assert stored.descends_from("the-seed")


def test_file_is_0600_in_a_new_0700_folder(tmp_path: Path) -> None:
    before = os.umask(0o022)
    try:
        path = tmp_path / "new" / "deeper" / "t.json"
        store = FileTokenStore(path)
        store.save(token(1))
        with store.lock(1.0):
            pass
    finally:
        os.umask(before)
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_a_failed_write_leaves_the_previous_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "t.json"
    store = FileTokenStore(path)
    store.save(token(1))

    def no_rename(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", no_rename)
    with pytest.raises(TokenStoreAccessError):
        store.save(token(2))
    monkeypatch.undo()
    assert store.load() == token(1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.json"]  # no temp file left


class _Interrupted(BaseException):
    """As KeyboardInterrupt, arriving at the worst moment."""


def test_an_interrupt_just_after_the_rename_is_raised_as_it_came(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The temporary file is gone once renamed: the clean-up does not trip over its absence."""
    path = tmp_path / "t.json"
    store = FileTokenStore(path)
    real_replace = os.replace
    temporary: list[str] = []

    def replace_then_interrupt(src: str, dst: str) -> None:
        temporary.append(Path(src).name)
        real_replace(src, dst)
        raise _Interrupted

    monkeypatch.setattr(os, "replace", replace_then_interrupt)
    with pytest.raises(_Interrupted):
        store.save(token(1))
    monkeypatch.undo()
    assert store.load() == token(1)
    # Written beside the token file, hidden and named after it: a stray one is recognisable.
    (name,) = temporary
    assert name.startswith(".t.json.") and name.endswith(".tmp")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.json"]


def test_a_folder_another_process_creates_meanwhile_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two processes may both find the folder missing; the one that creates it second is fine."""
    folder = tmp_path / "new"
    real_exists = Path.exists

    def created_meanwhile(self: Path, *args: object, **kwargs: object) -> bool:
        if self == folder and not real_exists(folder):
            folder.mkdir()  # the other process, between our look and our mkdir
            return False
        return real_exists(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "exists", created_meanwhile)
    FileTokenStore(folder / "t.json").save(token(1))
    monkeypatch.undo()
    assert FileTokenStore(folder / "t.json").load() == token(1)


CRASH = """
import os, sys, datetime as dt
from sequence_clients import FileTokenStore, OAuthToken
real_fsync = os.fsync
def crash(fd):
    real_fsync(fd)
    os._exit(9)  # the process dies after writing the new token, before the rename
os.fsync = crash
FileTokenStore(sys.argv[1]).save(OAuthToken("access-2", "refresh-2", None))
"""


def test_a_crash_mid_write_leaves_the_previous_token_readable(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    FileTokenStore(path).save(token(1))
    crashed = subprocess.run([sys.executable, "-c", CRASH, str(path)], check=False)
    assert crashed.returncode == 9
    assert FileTokenStore(path).load() == token(1)
    FileTokenStore(path).save(token(3))  # the stray temp file does not get in the way
    assert FileTokenStore(path).load() == token(3)


@pytest.mark.parametrize(
    "content",
    [b"{not json", b"[1, 2]", b'{"refresh_token": "r"}', b'{"access_token": 5}',
     b'{"access_token": "a", "expires_at": "yesterday"}', b"\xff\xfe"],
)  # fmt: skip
def test_a_corrupt_file_is_a_typed_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "t.json"
    path.write_bytes(content)
    with pytest.raises(TokenStoreAccessError) as raised:
        FileTokenStore(path).load()
    assert str(path) in str(raised.value)
    # Saving replaces it with a good token.
    FileTokenStore(path).save(token(1))
    assert FileTokenStore(path).load() == token(1)


def test_a_file_written_by_hand_or_an_earlier_version_reads_with_defaults(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"access_token": "a", "refresh_token": "r", "seeded_by": 5}))
    stored = FileTokenStore(path).read()
    assert stored is not None
    assert stored.token == OAuthToken("a", "r", None)  # no expiry: none assumed
    assert (stored.generation, stored.retired, stored.seeded_by) == (0, (), None)
    FileTokenStore(path).save(OAuthToken("b", "s", None))
    again = FileTokenStore(path).read()
    assert again is not None and again.token == OAuthToken("b", "s", None) and again.generation == 1


def test_a_save_needs_no_system_temp_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The new file is written beside the old one (a rename never crosses file systems).
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no-such-folder"))
    store = FileTokenStore(tmp_path / "tokens" / "t.json")
    store.save(token(1))
    assert store.load() == token(1)


def test_the_lock_file_is_0600(tmp_path: Path) -> None:
    store = FileTokenStore(tmp_path / "t.json")
    with store.lock(1.0):
        pass
    assert (tmp_path / "t.json.lock").stat().st_mode & 0o777 == 0o600


def test_an_unreadable_or_unwritable_path_is_a_typed_error(tmp_path: Path) -> None:
    folder = tmp_path / "a-folder"
    folder.mkdir()
    with pytest.raises(TokenStoreAccessError):
        FileTokenStore(folder).load()  # a folder where the file should be
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(TokenStoreAccessError):
        FileTokenStore(blocker / "t.json").save(token(1))  # its folder is a file


def test_the_file_lock_excludes_others_for_a_bounded_time(tmp_path: Path) -> None:
    store = FileTokenStore(tmp_path / "t.json")
    other = FileTokenStore(tmp_path / "t.json")
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with store.lock(1.0):
            held.set()
            release.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    held.wait(5)
    started = time.monotonic()
    with pytest.raises(TimeoutError), other.lock(0.3):
        pass
    assert 0.25 < time.monotonic() - started < 2.0
    with pytest.raises(TimeoutError):
        asyncio.run(_async_hold(store, 0.3))
    release.set()
    thread.join()
    with other.lock(1.0):  # free again
        pass
    asyncio.run(_async_hold(store, 1.0))


async def _async_hold(store: FileTokenStore, timeout: float) -> None:
    async with store.alock(timeout):
        pass


# --- RedisTokenStore -------------------------------------------------------------------------
def test_redis_store_round_trip_and_generation(redis_server: RedisProcess) -> None:
    store = RedisTokenStore(redis_server.url, key="boast:test")
    assert store.load() is None
    store.save(token(1))
    store.save(token(2))
    stored = RedisTokenStore(redis_server.url, key="boast:test").read()
    assert stored is not None and stored.token == token(2) and stored.generation == 2
    assert RedisTokenStore(redis_server.url, key="boast:test").load() == token(2)
    assert stored.seeded_by is None  # seeded from nothing outside the store
    # A redis.Redis of one's own serves as well as a URL.
    assert RedisTokenStore(redis_server.client(), key="boast:test").load() == token(2)
    assert stored.descends_from("refresh-1")
    assert "boast:test" in repr(store)


def test_redis_store_hides_the_url_password(redis_server: RedisProcess) -> None:
    store = RedisTokenStore(f"redis://:hunter2@127.0.0.1:{redis_server.port}/0")
    with pytest.raises(TokenStoreAccessError) as raised:
        store.load()  # the server has no password: the AUTH fails
    assert "hunter2" not in repr(store) + str(raised.value)


def test_redis_store_errors_are_typed(redis_server: RedisProcess) -> None:
    redis_server.client().hset("broken", "token", b"{not json")
    with pytest.raises(TokenStoreAccessError):
        RedisTokenStore(redis_server.url, key="broken").load()
    unreachable = RedisTokenStore("redis://127.0.0.1:1/0", key="far", socket_timeout=0.5)
    for action in (
        unreachable.load,
        lambda: unreachable.save(token(1)),
        unreachable.lock(1.0).__enter__,
    ):
        with pytest.raises(TokenStoreAccessError) as raised:
            action()
        assert "(far): ConnectionError" in str(raised.value)  # the key, and why by type
    with pytest.raises(SequenceClientError):
        RedisTokenStore("not a url")


def test_the_redis_lock_excludes_and_expires(redis_server: RedisProcess) -> None:
    store = RedisTokenStore(redis_server.url, key="k", lock_ttl=1.0)
    other = RedisTokenStore(redis_server.url, key="k")
    with store.lock(1.0):
        started = time.monotonic()
        with pytest.raises(TimeoutError) as raised, other.lock(0.3):
            pass
        assert time.monotonic() - started < 2.0
        assert "k:lock" in str(raised.value)  # names the lock it waited for
        # A wait of 0 (or less) is one try, not a second of polling.
        started = time.monotonic()
        with pytest.raises(TimeoutError), other.lock(-1.0):
            pass
        assert time.monotonic() - started < 0.8
    with other.lock(1.0):
        pass
    # A holder that died frees the lock after lock_ttl.
    assert store._acquire(1.0) is not None
    with other.lock(3.0):
        pass

    async def hold() -> None:
        async with other.alock(1.0):
            pass

    asyncio.run(hold())


def test_a_cancelled_async_redis_lock_wait_leaves_the_lock_free(
    redis_server: RedisProcess,
) -> None:
    store = RedisTokenStore(redis_server.url, key="cancelled", lock_ttl=30.0)
    other = RedisTokenStore(redis_server.url, key="cancelled", lock_ttl=30.0)

    async def scenario() -> None:
        with store.lock(1.0):
            waiter = asyncio.create_task(_async_hold_redis(other, 5.0))
            await asyncio.sleep(0.3)
            waiter.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiter
        await asyncio.sleep(0.5)  # the waiting thread acquires now, and lets go at once

    asyncio.run(scenario())
    started = time.monotonic()
    with other.lock(2.0):  # free long before its 30 s TTL
        pass
    assert time.monotonic() - started < 2.0


def test_a_cancelled_async_redis_lock_wait_that_runs_out_leaves_no_error_behind(
    redis_server: RedisProcess,
) -> None:
    store = RedisTokenStore(redis_server.url, key="cancelled-late", lock_ttl=30.0)
    other = RedisTokenStore(redis_server.url, key="cancelled-late", lock_ttl=30.0)
    unhandled: list[dict[str, object]] = []

    async def scenario() -> None:
        asyncio.get_running_loop().set_exception_handler(
            lambda _, context: unhandled.append(context)
        )
        with store.lock(1.0):
            waiter = asyncio.create_task(_async_hold_redis(other, 0.4))
            await asyncio.sleep(0.1)
            waiter.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiter
            await asyncio.sleep(1.0)  # the waiting thread's 0.4 s run out while the lock is held

    asyncio.run(scenario())
    assert unhandled == []  # its TimeoutError is nobody's to raise: dropped, not logged
    with other.lock(1.0):
        pass


def test_redis_store_defaults(redis_server: RedisProcess) -> None:
    # Every process and the CLI find the token under one key unless told otherwise.
    store = RedisTokenStore(redis_server.url)
    store.save(token(1))
    assert redis_server.client().hget("sequence-clients:boast-token", "token") is not None
    # The lock outlives a token request (30 s by default) and frees itself after 120 s.
    with store.lock(1.0):
        assert 119_000 < redis_server.client().pttl("sequence-clients:boast-token:lock") <= 120_000
    # A Redis that does not answer fails a call in 5 s, not never.
    options = store.redis.connection_pool.connection_kwargs
    assert options["socket_timeout"] == options["socket_connect_timeout"] == 5.0
    with pytest.raises(InvalidRequestError):
        RedisTokenStore(redis_server.url, lock_ttl=0)
    with pytest.raises(InvalidRequestError):
        RedisTokenStore(redis_server.url, key="")


@pytest.mark.parametrize("content", [b"{not json", b"", b"[1, 2]"])
def test_a_redis_save_over_a_corrupt_value_replaces_it_and_the_generation_goes_on(
    redis_server: RedisProcess, content: bytes
) -> None:
    key = f"corrupt-{len(content)}"
    redis_server.client().hset(key, mapping={"token": content, "generation": 5})
    store = RedisTokenStore(redis_server.url, key=key)
    with pytest.raises(TokenStoreAccessError) as raised:
        store.load()
    assert key in str(raised.value)
    store.seeded_by = fingerprint("exported")
    store.save(token(1))
    stored = RedisTokenStore(redis_server.url, key=key).read()
    assert stored is not None and stored.token == token(1)
    # A process that saw generation 5 sees a newer value, though the corrupt one told nothing.
    assert stored.generation == 6
    assert stored.seeded_by == fingerprint("exported")
    assert redis_server.client().hget(key, "generation") == b"6"


def test_a_redis_save_is_one_transaction(redis_server: RedisProcess) -> None:
    # The value and its generation change together: no reader sees one without the other.
    store = RedisTokenStore(redis_server.url, key="atomic")
    with redis_server.client().monitor() as seen:
        store.save(token(1))
        redis_server.client().echo("saved")
        commands: list[str] = []
        while not commands or commands[-1] != "ECHO":
            commands.append(str(seen.next_command()["command"]).split()[0].upper())
    assert commands[commands.index("MULTI") :] == ["MULTI", "HSET", "HINCRBY", "EXEC", "ECHO"]


def test_a_redis_that_refuses_writes_keeps_what_it_held(redis_server: RedisProcess) -> None:
    admin = redis_server.client()
    admin.execute_command(
        "ACL", "SETUSER", "reader", "on", ">pw", "~*", "&*", "+@read", "+@connection",
        "+@transaction",
    )  # fmt: skip
    key = "read-only"
    RedisTokenStore(redis_server.url, key=key).save(token(1))
    reader = RedisTokenStore(f"redis://reader:pw@127.0.0.1:{redis_server.port}/0", key=key)
    assert reader.load() == token(1)
    with pytest.raises(TokenStoreAccessError) as raised:
        reader.save(token(2))
    assert key in str(raised.value) and "Error" in str(raised.value)  # says why, by type
    assert "NoneType" not in str(raised.value)
    stored = reader.read()
    assert stored is not None and (stored.token, stored.generation) == (token(1), 1)


def test_a_value_an_earlier_version_wrote_still_knows_its_retired_tokens(
    redis_server: RedisProcess,
) -> None:
    # Fingerprints are stored: their form is part of the format (sha256, 16 hex digits).
    assert fingerprint("refresh-0") == "47a07fe72c52e036"
    written = {"access_token": "a", "refresh_token": "refresh-1", "retired": ["47a07fe72c52e036"]}
    redis_server.client().hset("earlier", mapping={"token": json.dumps(written), "generation": 2})
    stored = RedisTokenStore(redis_server.url, key="earlier").read()
    assert stored is not None and stored.generation == 2
    assert stored.descends_from("refresh-0")


async def _async_hold_redis(store: RedisTokenStore, timeout: float) -> None:
    async with store.alock(timeout):
        pass
