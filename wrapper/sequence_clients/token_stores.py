"""Token stores that many processes can share: one Boast grant for every worker, cron job and run.

Boast rotates refresh tokens, so processes that share one authorization must also share where
its newest token lives, and must not refresh at the same time. A `SharedTokenStore` offers both:
`load()` the newest token and a lock (`lock()` / `alock()`) that the client holds while it looks
again and, only if still needed, refreshes and saves. Both stores below keep the token as JSON
(`access_token`, `refresh_token`, `expires_at` ISO 8601) plus a generation that counts saves, so
which of two values is newer is always decidable. Neither ever holds the client secret.

- `FileTokenStore(path)`: one machine. A cross-process lock (filelock) beside the file; each
  save is a whole new file renamed over the old one (temp file in the same folder, fsync,
  rename, fsync of the folder), so a crash mid-write leaves the previous token readable.
- `RedisTokenStore(url_or_client, key=...)`: many machines. A redis-py lock whose TTL outlives
  the token request; the value and its generation change in one transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import json
import os
import tempfile
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import attrs

from . import _clock
from .errors import InvalidRequestError, TokenStoreAccessError
from .oauth import OAuthToken

if TYPE_CHECKING:
    import filelock
    import redis
    from redis.lock import Lock as RedisLock

# How many refresh tokens a store remembers having rotated past (fingerprints only): enough for
# months of daily refreshes, small enough to read at every load.
RETIRED_KEPT = 256
_POLL = 0.02  # seconds between attempts on a lock that someone else holds (async waits)


def fingerprint(refresh_token: str) -> str:
    """A refresh token's fingerprint: enough to recognise it again, useless to present."""
    return hashlib.sha256(refresh_token.encode()).hexdigest()[:16]


@attrs.frozen
class StoredToken:
    """What a store holds: the token, how many saves made it (`generation`), the fingerprints of
    refresh tokens it replaced (`retired`, newest last), and `seeded_by`: the fingerprint of a
    refresh token the first value was derived from outside the store (the CLI's exported
    BOAST_REFRESH_TOKEN), kept across every rotation."""

    token: OAuthToken
    generation: int = 0
    retired: tuple[str, ...] = ()
    seeded_by: str | None = None

    def descends_from(self, refresh_token: str) -> bool:
        """Whether this value is `refresh_token` or replaced it, however many rotations ago."""
        mark = fingerprint(refresh_token)
        return (
            refresh_token == self.token.refresh_token
            or mark == self.seeded_by
            or mark in self.retired
        )


def _encode(stored: StoredToken) -> str:
    token = stored.token
    return json.dumps(
        {
            "access_token": token.access_token,
            "refresh_token": token.refresh_token,
            "expires_at": token.expires_at.isoformat() if token.expires_at else None,
            "generation": stored.generation,
            "retired": list(stored.retired),
            "seeded_by": stored.seeded_by,
        }
    )


def _decode(raw: str | bytes, where: str) -> StoredToken:
    """The stored value, or TokenStoreAccessError saying what is wrong (never quoting it)."""
    try:
        fields = json.loads(raw)
        if not isinstance(fields, Mapping):
            raise TypeError("not a JSON object")
        access, refresh = fields["access_token"], fields.get("refresh_token")
        expires = fields.get("expires_at")
        retired = fields.get("retired") or []
        if not isinstance(access, str) or not isinstance(refresh, str | None):
            raise TypeError("the tokens are not strings")
        if not isinstance(retired, list) or not all(isinstance(r, str) for r in retired):
            raise TypeError("retired is not a list of fingerprints")
        seeded_by = fields.get("seeded_by")
        return StoredToken(
            OAuthToken(access, refresh, dt.datetime.fromisoformat(expires) if expires else None),
            generation=int(fields.get("generation") or 0),
            retired=tuple(retired),
            seeded_by=seeded_by if isinstance(seeded_by, str) else None,
        )
    except (ValueError, KeyError, TypeError, RecursionError, InvalidRequestError) as error:
        reason = f"{type(error).__name__}" if isinstance(error, KeyError) else str(error)
        raise TokenStoreAccessError(
            f"{where} does not hold a token this package wrote ({reason}); "
            "sign in again (`sequence-clients boast login`) or remove it"
        ) from None


def _successor(
    previous: StoredToken | None, token: OAuthToken, seeded_by: str | None
) -> StoredToken:
    """The value a save of `token` writes over `previous`: the next generation, remembering the
    refresh token it replaced."""
    if previous is None:
        return StoredToken(token, generation=1, seeded_by=seeded_by)
    retired = list(previous.retired)
    old = previous.token.refresh_token
    if old and old != token.refresh_token and fingerprint(old) not in retired:
        retired.append(fingerprint(old))
    return StoredToken(
        token,
        generation=previous.generation + 1,
        retired=tuple(retired[-RETIRED_KEPT:]),
        seeded_by=seeded_by or previous.seeded_by,
    )


def _waited_too_long(what: str, timeout: float) -> TimeoutError:
    return TimeoutError(f"{what} was not free within {timeout:g} s")


class FileTokenStore:
    """A token file shared by every process on one machine (a SharedTokenStore).

    The file is mode 0600; a folder the store creates is 0700 (an existing folder is left as
    it is). The lock is a `<name>.lock` file beside it. `lock()` is not reentrant: hold it once.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser()
        self._lock_path = self.path.with_name(self.path.name + ".lock")
        self.seeded_by: str | None = None  # see StoredToken.seeded_by; written by the next save

    def __repr__(self) -> str:
        return f"FileTokenStore({str(self.path)!r})"

    # --- reading -------------------------------------------------------------------------------
    def read(self) -> StoredToken | None:
        """The whole stored value; None when there is no file yet."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as error:
            raise TokenStoreAccessError(
                f"cannot read the token file {self.path}: {error.strerror or error}"
            ) from None
        return _decode(raw, f"the token file {self.path}")

    def load(self) -> OAuthToken | None:
        stored = self.read()
        return None if stored is None else stored.token

    # --- writing -------------------------------------------------------------------------------
    def save(self, token: OAuthToken) -> None:
        """Replace the token, durably when this returns. Hold `lock()` when others may save."""
        try:
            previous = self.read()
        except TokenStoreAccessError:
            previous = None  # a corrupt file is replaced by a good one, not kept forever
        record = _encode(_successor(previous, token, self.seeded_by))
        try:
            self._ensure_folder()
            self._replace(record.encode())
        except OSError as error:
            raise TokenStoreAccessError(
                f"cannot write the token file {self.path}: {error.strerror or error}"
            ) from None

    def _ensure_folder(self) -> None:
        folder = self.path.parent
        if not folder.exists():
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(folder, 0o700)  # mkdir's mode is cut by the umask

    def _replace(self, data: bytes) -> None:
        folder = self.path.parent
        # mkstemp creates the file 0600; the rename makes the new content appear all at once.
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{self.path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _fsync_folder(folder)

    # --- locking -------------------------------------------------------------------------------
    def _file_lock(self) -> filelock.BaseFileLock:
        # Imported here: filelock (and what it imports) would add a tenth to our import time.
        import filelock

        # A new lock object per holder: filelock objects are reentrant, and two holders in one
        # process (two threads, two tasks) must exclude each other like two processes do.
        self._ensure_folder()
        return filelock.FileLock(self._lock_path, mode=0o600, thread_local=False)

    @contextlib.contextmanager
    def lock(self, timeout: float) -> Iterator[None]:
        """Hold the cross-process lock; TimeoutError if it is not free within `timeout` s."""
        try:
            held = self._file_lock()
            held.acquire(timeout=max(timeout, 0.0))
        except TimeoutError:  # filelock.Timeout
            raise _waited_too_long(f"the token file lock {self._lock_path}", timeout) from None
        except OSError as error:
            raise TokenStoreAccessError(
                f"cannot lock the token file {self.path}: {error.strerror or error}"
            ) from None
        try:
            yield
        finally:
            held.release()

    @contextlib.asynccontextmanager
    async def alock(self, timeout: float) -> AsyncIterator[None]:
        """`lock()` for asyncio: polls without blocking the event loop."""
        clock = _clock.current()
        ends = clock.monotonic() + timeout
        try:
            held = self._file_lock()
            while True:
                try:
                    held.acquire(blocking=False)
                    break
                except TimeoutError:  # filelock.Timeout
                    if clock.monotonic() >= ends:
                        raise _waited_too_long(
                            f"the token file lock {self._lock_path}", timeout
                        ) from None
                    await clock.asleep(min(_POLL, max(ends - clock.monotonic(), 0.0)))
        except OSError as error:
            if isinstance(error, TimeoutError):
                raise
            raise TokenStoreAccessError(
                f"cannot lock the token file {self.path}: {error.strerror or error}"
            ) from None
        try:
            yield
        finally:
            held.release()


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX); Windows cannot open a folder, nor needs to."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class RedisTokenStore:
    """A token in Redis, shared by processes on many machines (a SharedTokenStore).

    `url_or_client`: a redis:// URL (its password never appears in repr or errors) or a
    `redis.Redis` of your own. The value is a hash at `key` (the token JSON and a generation that
    one transaction changes together); the lock is `<key>:lock`, held at most `lock_ttl` seconds,
    which must outlive the client's token request (the default timeout is 30 s), so that a
    process that dies holding it frees it. Needs the `redis` extra.
    """

    def __init__(
        self,
        url_or_client: str | redis.Redis,
        *,
        key: str = "sequence-clients:boast-token",
        lock_ttl: float = 120.0,
        socket_timeout: float = 5.0,
    ) -> None:
        try:
            import redis
        except ImportError:
            raise InvalidRequestError(
                "RedisTokenStore needs redis-py: pip install 'sequence-clients[redis]'"
            ) from None
        if not key:
            raise InvalidRequestError("RedisTokenStore needs a non-empty key")
        if not lock_ttl > 0:
            raise InvalidRequestError(f"lock_ttl must be a positive number of seconds: {lock_ttl}")
        self._redis_errors: tuple[type[Exception], ...] = (redis.RedisError, OSError)
        if isinstance(url_or_client, str):
            try:
                client = redis.Redis.from_url(
                    url_or_client,
                    socket_timeout=socket_timeout,
                    socket_connect_timeout=socket_timeout,
                )
            except ValueError:
                raise InvalidRequestError("RedisTokenStore: not a redis:// URL") from None
        else:
            client = url_or_client
        self.redis = client
        self.key = key
        self.lock_ttl = lock_ttl
        self.seeded_by: str | None = None

    def __repr__(self) -> str:
        return f"RedisTokenStore(key={self.key!r})"

    def _failed(self, doing: str, error: Exception) -> TokenStoreAccessError:
        # redis-py's messages name host and port, never the password; still, keep it short.
        return TokenStoreAccessError(
            f"cannot {doing} the Boast token in Redis ({self.key}): {type(error).__name__}"
        )

    def read(self) -> StoredToken | None:
        return self._stored(*self._fetch())

    def _fetch(self) -> tuple[Any, Any]:
        """The raw value and its generation; TokenStoreAccessError if Redis does not answer."""
        try:
            found = self.redis.hmget(self.key, ["token", "generation"])
            raw, generation = cast(list[Any], found)  # the sync client's answer
        except self._redis_errors as error:
            raise self._failed("read", error) from None
        return raw, generation

    def _stored(self, raw: Any, generation: Any) -> StoredToken | None:
        """The value decoded; TokenStoreAccessError if this package did not write it."""
        if raw is None:
            return None
        stored = _decode(raw, f"the Redis key {self.key}")
        try:
            return attrs.evolve(stored, generation=int(generation))
        except (TypeError, ValueError):
            return stored

    def load(self) -> OAuthToken | None:
        stored = self.read()
        return None if stored is None else stored.token

    def save(self, token: OAuthToken) -> None:
        """Replace the token and bump the generation in one transaction. Hold `lock()`."""
        raw, generation = self._fetch()  # a Redis that does not answer: raised as it comes
        try:
            previous = self._stored(raw, generation)
        except TokenStoreAccessError:
            previous = None  # a corrupt value is replaced by a good one, not kept forever
        value = _successor(previous, token, self.seeded_by)
        try:
            with self.redis.pipeline(transaction=True) as pipe:
                pipe.hset(self.key, mapping={"token": _encode(value)})
                pipe.hincrby(self.key, "generation", 1)
                pipe.execute()
        except self._redis_errors as error:
            raise self._failed("save", error) from None

    def _redis_lock(self, timeout: float) -> RedisLock:
        # thread_local=False: the async path may acquire in a worker thread and release here.
        lock: RedisLock = self.redis.lock(  # redis-py leaves Redis.lock untyped; it is this class
            f"{self.key}:lock",
            timeout=self.lock_ttl,
            blocking_timeout=max(timeout, 0.0),
            thread_local=False,
        )
        return lock

    def _acquire(self, timeout: float) -> RedisLock:
        held = self._redis_lock(timeout)
        try:
            acquired = held.acquire()
        except self._redis_errors as error:
            raise self._failed("lock", error) from None
        if not acquired:
            raise _waited_too_long(f"the Redis lock {self.key}:lock", timeout)
        return held

    def _release_when_acquired(self, waiting: asyncio.Future[RedisLock]) -> None:
        if not waiting.cancelled() and waiting.exception() is None:
            self._release(waiting.result())

    def _release(self, held: RedisLock) -> None:
        # An expired lock (held past lock_ttl) cannot be released; the token is saved by then.
        with contextlib.suppress(*self._redis_errors):
            held.release()

    @contextlib.contextmanager
    def lock(self, timeout: float) -> Iterator[None]:
        """Hold `<key>:lock`; TimeoutError if it is not free within `timeout` s."""
        held = self._acquire(timeout)
        try:
            yield
        finally:
            self._release(held)

    @contextlib.asynccontextmanager
    async def alock(self, timeout: float) -> AsyncIterator[None]:
        """`lock()` for asyncio: the blocking wait runs in a worker thread."""
        waiting = asyncio.ensure_future(asyncio.to_thread(self._acquire, timeout))
        try:
            held = await asyncio.shield(waiting)
        except asyncio.CancelledError:
            # The thread cannot be stopped: whatever it acquires is released at once, rather
            # than left to block every other process until lock_ttl runs out.
            waiting.add_done_callback(self._release_when_acquired)
            raise
        try:
            yield
        finally:
            await asyncio.to_thread(self._release, held)


__all__ = ["FileTokenStore", "RedisTokenStore", "StoredToken", "fingerprint"]
