"""One vendor quota shared by every client, thread, task and process that uses the same storage.

`RateLimit("100000/5m", storage="redis://host:6379/0")` is a moving window (`limits`' exact
strategy: at most N requests in any window) kept in `memory://` (this process) or Redis (every
process and machine pointing at it). It does no sleeping of its own: `wait_time()` answers "go
now" (0, and the slot is taken) or "ask again in s seconds", so the request core can yield a
plain `Sleep` — no connection is held while waiting, cancellation works, and every attempt,
retries included, asks for its own slot.

A 429 whose `Retry-After` one process sees is everyone's: `pause_for(seconds)` records "paused
until" next to the window (a one-member sorted set, so the later of two pauses wins atomically),
and `wait_time()` honours it before taking a slot.

If the shared storage cannot be reached, the limiter logs one warning, keeps going on an
in-process window (the same limit unless `fallback_limit` says otherwise), tries the storage
again every `retry_storage_after` seconds, and logs when it is back. The limiter never fails a
call.

After `os.fork()` a child notices the pid change and opens Redis connections (and locks) of
its own: the parent's sockets would interleave two processes' answers. A memory:// window is
per process, so a child starts from a copy of the parent's.

Times are wall-clock, as `limits` reads them itself: machines sharing a Redis need synchronised
clocks (NTP), as for any moving window kept in Redis. They are read through the request path's
clock (`_clock.wall_time()`), and the in-process window (`_LocalWindow`) is kept here rather than
in `limits`' memory storage, which reads `time.time()` itself: so one clock put in force with
`_clock.use` moves every wait, the rate limiter's included.

`limits` costs ~140 ms to import (it imports its async storages and `deprecated`); it is
imported when the first `RateLimit` is built, not with the package.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections import deque
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from . import _clock
from .errors import InvalidRequestError

if TYPE_CHECKING:
    import redis
    import redis.asyncio
    from limits import RateLimitItem
    from limits.aio.strategies import MovingWindowRateLimiter as AsyncMovingWindow
    from limits.strategies import MovingWindowRateLimiter

logger = logging.getLogger("sequence_clients")

_UNIT_SECONDS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600}
_LIMIT = re.compile(r"\s*(\d+)\s*/\s*(\d*)\s*([a-z]+)\s*")
_SHARED_SCHEMES = ("redis", "rediss", "redis+unix")
# Redis calls are on the request path: a dead or slow Redis must cost at most this per call.
_REDIS_TIMEOUTS: Mapping[str, float] = {"socket_timeout": 0.5, "socket_connect_timeout": 0.5}
# The pause key outlives any Retry-After we honour (RetryPolicy caps it at 120 s); a stale
# "paused until" in the past means nothing, so the expiry only keeps Redis tidy.
_PAUSE_KEY_TTL = 3600
_PAUSE_MEMBER = "until"


def parse_limit(text: str) -> tuple[int, int]:
    """'100000/5m', '333/s', '333/1s', '600/1h' -> (requests, window seconds)."""
    match = _LIMIT.fullmatch(text.lower())
    if not match or match.group(3) not in _UNIT_SECONDS:
        raise InvalidRequestError(f"not a rate limit: {text!r} (try '100000/5m' or '333/s')")
    count, multiple = int(match.group(1)), int(match.group(2) or 1)
    if count < 1 or multiple < 1:
        raise InvalidRequestError(f"a rate limit must be positive: {text!r}")
    return count, multiple * _UNIT_SECONDS[match.group(3)]


def redacted(uri: str) -> str:
    """The storage URI without its password, for repr() and logs."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class RateLimit:
    """At most `limit` requests per window for everyone sharing `storage` and `key`.

    Share one object between the clients of a process; point the processes at one Redis.
    `key` names the quota (one per vendor API key: never the API key itself). Thread-safe;
    the async methods may be used from one event loop at a time.
    """

    def __init__(
        self,
        limit: str,
        storage: str = "memory://",
        *,
        key: str = "default",
        fallback_limit: str | None = None,
        retry_storage_after: float = 30.0,
        storage_options: Mapping[str, Any] | None = None,
    ) -> None:
        from limits import RateLimitItemPerSecond

        count, window = parse_limit(limit)
        scheme = urlsplit(storage).scheme
        if scheme not in ("memory", *_SHARED_SCHEMES):
            raise InvalidRequestError(
                f"rate limit storage must be memory:// or redis://…, not {redacted(storage)!r}"
            )
        self.limit = limit
        self.key = key
        self._item: RateLimitItem = RateLimitItemPerSecond(count, window)
        fallback_count, fallback_window = parse_limit(fallback_limit or limit)
        self._fallback_text = fallback_limit or limit
        self._uri = storage
        self._retry_after = retry_storage_after
        self._options = {**_REDIS_TIMEOUTS, **(storage_options or {})}
        # The in-process window: the whole limiter for memory://, the fallback for Redis.
        local_count, local_window = (
            (fallback_count, fallback_window) if self.shared else (count, window)
        )
        self._local = _LocalWindow(local_count, local_window)
        self._local_paused_until = 0.0
        self._shared_sync: tuple[redis.Redis, MovingWindowRateLimiter] | None = None
        self._shared_async: tuple[redis.asyncio.Redis, AsyncMovingWindow, object] | None = None
        self._down_since: float | None = None  # when the shared storage last failed
        # One caller per process asks the shared storage at a time, and nobody asks before the
        # window's next slot frees: otherwise every waiting task wakes at that moment and asks,
        # one wins, and the rest spend round trips (and CPU) for nothing.
        self._asking = threading.Lock()
        self._not_before = 0.0
        self._slot_interval = window / count
        self._state_lock = threading.Lock()
        self._storage_errors = _storage_errors() if self.shared else ()
        self._pause_key = f"LIMITS:sequence-clients/{key}/paused-until"
        self._pid = os.getpid()

    def _after_fork(self) -> None:
        """In a forked child: Redis connections and locks of its own. The parent's sockets
        would interleave two processes' answers, and a lock another thread of the parent held
        at the fork would never be released here."""
        if self._pid == os.getpid():
            return
        self._pid = os.getpid()
        self._shared_sync = None
        self._shared_async = None
        self._asking = threading.Lock()
        self._state_lock = threading.Lock()
        self._local.after_fork()

    @property
    def shared(self) -> bool:
        """True when the limit is kept in a storage other processes can see."""
        return urlsplit(self._uri).scheme in _SHARED_SCHEMES

    @property
    def using_fallback(self) -> bool:
        """True while the shared storage is unreachable and the in-process window is used."""
        return self._down_since is not None

    def __repr__(self) -> str:
        return f"RateLimit({self.limit!r}, storage={redacted(self._uri)!r}, key={self.key!r})"

    # -- sync ------------------------------------------------------------------------------

    def wait_time(self) -> float:
        """0.0 when a request may go now (its slot is taken), else the seconds to wait before
        asking again."""
        self._after_fork()
        if self._use_shared():
            if (wait := self._wait_without_asking()) is not None:
                return wait
            try:
                connection, window = self._sync_storage()
                paused = self._pause_left(connection.zscore(self._pause_key, _PAUSE_MEMBER))
                if paused > 0:
                    wait = paused
                elif window.hit(self._item, self.key):
                    wait = 0.0
                else:
                    stats = window.get_window_stats(self._item, self.key)
                    wait = self._until(stats.reset_time)
            except self._storage_errors as error:
                self._storage_failed(error)
            else:
                self._storage_answered()
                return self._asked(wait)
            finally:
                self._asking.release()
        return self._local_wait_time()

    def pause_for(self, seconds: float) -> None:
        """Make every user of this limit wait `seconds` from now (a 429's Retry-After)."""
        self._after_fork()
        until = self._pause_here(seconds)
        if until is not None and self._use_shared():
            connection, _ = self._sync_storage()
            try:
                pipe = connection.pipeline(transaction=False)
                pipe.zadd(self._pause_key, {_PAUSE_MEMBER: until}, gt=True)
                pipe.expire(self._pause_key, _PAUSE_KEY_TTL)
                pipe.execute()
            except self._storage_errors as error:
                self._storage_failed(error)
            else:
                self._storage_answered()

    # -- async -----------------------------------------------------------------------------

    async def wait_time_async(self) -> float:
        """`wait_time()` for async clients: Redis is asked without blocking the event loop."""
        self._after_fork()
        if self._use_shared():
            if (wait := self._wait_without_asking()) is not None:
                return wait
            try:
                connection, window = self._async_storage()
                paused = self._pause_left(await connection.zscore(self._pause_key, _PAUSE_MEMBER))
                if paused > 0:
                    wait = paused
                elif await window.hit(self._item, self.key):
                    wait = 0.0
                else:
                    stats = await window.get_window_stats(self._item, self.key)
                    wait = self._until(stats.reset_time)
            except self._storage_errors as error:
                self._storage_failed(error)
            else:
                self._storage_answered()
                return self._asked(wait)
            finally:
                self._asking.release()
        return self._local_wait_time()

    async def pause_for_async(self, seconds: float) -> None:
        self._after_fork()
        until = self._pause_here(seconds)
        if until is not None and self._use_shared():
            connection, _ = self._async_storage()
            try:
                pipe = connection.pipeline(transaction=False)
                pipe.zadd(self._pause_key, {_PAUSE_MEMBER: until}, gt=True)
                pipe.expire(self._pause_key, _PAUSE_KEY_TTL)
                await pipe.execute()
            except self._storage_errors as error:
                self._storage_failed(error)
            else:
                self._storage_answered()

    # -- internals -------------------------------------------------------------------------

    def _pause_here(self, seconds: float) -> float | None:
        """Pause this process's users; the moment the pause ends, or None for no pause."""
        if seconds <= 0:
            return None
        until = _clock.wall_time() + seconds
        self._local_paused_until = max(self._local_paused_until, until)
        self._not_before = max(self._not_before, until)
        return until

    def _wait_without_asking(self) -> float | None:
        """How long to wait without asking the storage, or None: ask it (the caller then holds
        `_asking` and must release it)."""
        now = _clock.wall_time()
        if self._not_before > now:
            return self._not_before - now
        if not self._asking.acquire(blocking=False):
            return self._slot_interval / 2  # another caller of this process is asking now
        return None

    def _asked(self, wait: float) -> float:
        if wait > 0:
            self._not_before = _clock.wall_time() + wait
        return wait

    def _local_wait_time(self) -> float:
        paused = self._local_paused_until - _clock.wall_time()
        if paused > 0:
            return paused
        return self._local.hit()

    def _until(self, moment: float) -> float:
        # Never 0 when refused: 0 means "go", and a caller would spin on a slot it does not hold.
        return max(moment - _clock.wall_time(), 0.001)

    def _pause_left(self, until: Any) -> float:
        return 0.0 if until is None else float(until) - _clock.wall_time()

    def _use_shared(self) -> bool:
        if not self.shared:
            return False
        down_since = self._down_since
        return down_since is None or _clock.wall_time() - down_since >= self._retry_after

    def _redis_url(self) -> str:
        return self._uri.replace("redis+unix://", "unix://", 1)

    def _sync_storage(self) -> tuple[redis.Redis, MovingWindowRateLimiter]:
        if self._shared_sync is None:
            import redis
            from limits.storage import RedisStorage
            from limits.strategies import MovingWindowRateLimiter

            # One pool for the window (limits) and the pause key (us).
            pool = redis.ConnectionPool.from_url(self._redis_url(), **self._options)
            storage = RedisStorage(self._uri, connection_pool=pool)
            self._shared_sync = redis.Redis(connection_pool=pool), MovingWindowRateLimiter(storage)
        return self._shared_sync

    def _async_storage(self) -> tuple[redis.asyncio.Redis, AsyncMovingWindow]:
        import asyncio  # here: a sync-only user never pays asyncio's import

        # redis.asyncio connections belong to the event loop that opened them.
        loop = asyncio.get_running_loop()
        if self._shared_async is None or self._shared_async[2] is not loop:
            import redis.asyncio
            from limits.aio.storage import RedisStorage as AsyncRedisStorage
            from limits.aio.strategies import MovingWindowRateLimiter as AsyncMovingWindow

            pool = redis.asyncio.ConnectionPool.from_url(self._redis_url(), **self._options)
            pool_option: Any = pool  # limits passes it through to redis.asyncio.Redis
            storage = AsyncRedisStorage(
                f"async+{self._uri}", implementation="redispy", connection_pool=pool_option
            )
            client = redis.asyncio.Redis(connection_pool=pool)
            self._shared_async = client, AsyncMovingWindow(storage), loop
        return self._shared_async[0], self._shared_async[1]

    def _storage_answered(self) -> None:
        if self._down_since is None:
            return
        with self._state_lock:
            was_down, self._down_since = self._down_since is not None, None
        if was_down:
            logger.warning(
                "rate limit storage %s answers again; the limit is shared again",
                redacted(self._uri),
            )

    def _storage_failed(self, error: Exception) -> None:
        with self._state_lock:
            first = self._down_since is None
            self._down_since = _clock.wall_time()
        if first:  # once per outage, not once per request
            logger.warning(
                "rate limit storage %s unreachable (%s); limiting this process alone to %s "
                "until it answers (tried again every %.0f s)",
                redacted(self._uri), type(error).__name__,
                self._fallback_text, self._retry_after,
            )  # fmt: skip


def _storage_errors() -> tuple[type[Exception], ...]:
    """What a storage outage looks like: the Redis client's errors and the socket's."""
    from limits.errors import StorageError

    try:
        from redis.exceptions import RedisError
    except ImportError:
        raise InvalidRequestError(
            "a redis:// rate limit storage needs the redis extra: "
            "pip install 'sequence-clients[redis]'"
        ) from None

    return (RedisError, OSError, StorageError)


_shared_limits: dict[tuple[str, str, str], RateLimit] = {}
_shared_limits_lock = threading.Lock()


def _fresh_lock_in_child() -> None:
    global _shared_limits_lock
    _shared_limits_lock = threading.Lock()  # another thread may have held it at the fork


os.register_at_fork(after_in_child=_fresh_lock_in_child)


def limit_for(limit: str, storage: str, key: str) -> RateLimit:
    """The process's one `RateLimit` for (limit, storage, key): clients given the same strings
    share one window (and one Redis pool), as a memory:// quota must to mean anything."""
    with _shared_limits_lock:
        found = _shared_limits.get((limit, storage, key))
        if found is None:
            found = _shared_limits[limit, storage, key] = RateLimit(limit, storage, key=key)
        return found


class _LocalWindow:
    """The in-process moving window: at most `count` hits in any `window` seconds, by the
    request path's clock. (`limits`' MemoryStorage does the same but reads `time.time()`
    itself, so a test's clock could reach it only by patching the library's module.)"""

    def __init__(self, count: int, window: float) -> None:
        self._count = count
        self._window = window
        self._hits: deque[float] = deque()  # the moments of the hits still in the window
        self._lock = threading.Lock()

    def after_fork(self) -> None:
        self._lock = threading.Lock()  # another thread of the parent may have held it

    def hit(self) -> float:
        """Take a slot: 0.0 when taken, else the seconds until the oldest hit leaves the window
        (never 0: 0 means "go", and a caller would spin on a slot it does not hold)."""
        now = _clock.wall_time()
        with self._lock:
            # A hit exactly one window old still counts, as in `limits`' moving window.
            while self._hits and self._hits[0] < now - self._window:
                self._hits.popleft()
            if len(self._hits) < self._count:
                self._hits.append(now)
                return 0.0
            return max(self._hits[0] + self._window - now, 0.001)
