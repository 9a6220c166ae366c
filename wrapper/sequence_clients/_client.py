"""The sync and async client bases: options, the one request path, pagination, lifecycle.

Every request either twin makes goes through `_run`: a plan (see `_plan`) driven with the
client's retry policy, deadline and rate limit, each `Call` sent by `_send` through the request
pipeline (`_pipeline`: its docstring follows a request from start to end). The caller's httpx
client, if given, is only sent on: base URL, headers, auth and timeout travel with each request.
`_call(operation)` and `_paginate(list_operation)` put any generated operation on that path; the
vendor clients expose them as typed `call` and `paginate` and add one-line named methods.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import replace
from types import TracebackType
from typing import Any, Generic, Self, TypedDict, TypeVar, Unpack

import httpx

from . import _pipeline
from ._pagination import AsyncPager, FetchPage, Page, SyncPager, page_plan
from ._pipeline import DEFAULT_MAX_RESPONSE_BYTES, Connection, Target
from ._plan import Call, ListOperation, Operation, Plan, RetryPolicy, call, run_async, run_sync
from ._ratelimit import RateLimit, limit_for
from ._telemetry import ClientStats
from ._transport import as_timeout, checked_base_url
from .errors import InvalidRequestError

T = TypeVar("T")
G = TypeVar("G")  # a vendor's generated Client
H = TypeVar("H", httpx.Client, httpx.AsyncClient)  # the caller's httpx client of either twin
PageT = TypeVar("PageT")
ItemT = TypeVar("ItemT")
DEFAULT_MAX_RETRIES = 4


def _rate_limit(limit: str | RateLimit | None, storage: str | None, key: str) -> RateLimit | None:
    """The client's limiter: a RateLimit as given, or the process's one for (limit, storage,
    key) — so every client of a process, and every process on a Redis, using one credential
    shares it."""
    if isinstance(limit, RateLimit):
        if storage is not None:
            raise InvalidRequestError(
                "rate_limit_storage goes with a rate_limit string; a RateLimit has its storage"
            )
        return limit
    if limit is None:
        if storage is not None:
            raise InvalidRequestError("rate_limit_storage needs a rate_limit (e.g. '100000/5m')")
        return None
    if not isinstance(limit, str):
        raise InvalidRequestError(
            f"rate_limit must be a string such as '100000/5m' or a RateLimit, not {limit!r}"
        )
    return limit_for(limit, storage or "memory://", key)


def _checked_deadline(deadline: float | None) -> float | None:
    if deadline is not None and not deadline > 0:
        raise InvalidRequestError(f"deadline must be a positive number of seconds, got {deadline}")
    return deadline


def _checked_size(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidRequestError(f"max_response_bytes must be a positive int, got {limit!r}")
    return limit


class ClientOptions(TypedDict, total=False):
    """The options of either vendor's client: keywords of its constructor, and what
    `with_options` can change. One not given takes its default, in brackets below."""

    base_url: str | None  # the host root [the vendor's, or <VENDOR>_BASE_URL]
    timeout: float | httpx.Timeout | None  # seconds, or per phase [30s, connect 5s]
    max_retries: int  # retries after the first attempt [4]
    deadline: float | None  # seconds for a call as a whole, every retry and wait [none]
    allow_insecure_http: bool  # plain http to other than loopback [False]
    retry_policy: RetryPolicy | None  # what is retried, back-off [RetryPolicy()]
    rate_limit: str | RateLimit | None  # '100000/5m' or a shared RateLimit [none]
    rate_limit_storage: str | None  # 'redis://…' for a limit shared by processes [memory://]
    max_response_bytes: int  # a larger body raises ResponseTooLargeError [32 MiB]


class ClientArgs(ClientOptions, Generic[H], total=False):
    """The keyword options of either vendor's constructor: ClientOptions and `httpx_client`,
    the caller's own httpx client to send on (H: an httpx.AsyncClient for an async client)."""

    httpx_client: H | None


class _ClientBase:
    """Options shared by both twins. Secrets are never stored in anything repr() shows."""

    _vendor = "default"  # the first part of the vendor's quota key in a rate limit storage
    # The constructor argument the vendor counts requests by (its API key, its OAuth app): a
    # rate limit given as a string is keyed by a fingerprint of it, so two keys of one vendor on
    # one Redis never share a quota by accident.
    _quota_owner = ""

    def __init__(self, init_kwargs: dict[str, Any]) -> None:
        """`init_kwargs`: the vendor constructor's arguments, resolved (what `with_options`
        re-applies); those of ClientOptions set this client, the others not given default."""
        options = ClientOptions.__annotations__.keys() & init_kwargs.keys()
        self._settle(init_kwargs, **{name: init_kwargs[name] for name in options})

    def _known(self, options: Mapping[str, object], accepted: type) -> dict[str, Any]:
        """A constructor's `**options`, once each name is one its TypedDict (`accepted`) declares:
        TypeError otherwise, as for any unknown keyword, since `**options` itself takes anything."""
        for name in sorted(options.keys() - accepted.__annotations__.keys())[:1]:
            raise TypeError(f"{type(self).__name__}() got an unexpected keyword argument {name!r}")
        return dict(options)

    def _settle(
        self,
        init_kwargs: dict[str, Any],
        *,
        base_url: str,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        deadline: float | None = None,
        allow_insecure_http: bool = False,
        retry_policy: RetryPolicy | None = None,
        rate_limit: str | RateLimit | None = None,
        rate_limit_storage: str | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        self._base_url = checked_base_url(base_url, allow_insecure_http=allow_insecure_http)
        self._timeout = as_timeout(timeout)
        self._policy = replace(retry_policy or RetryPolicy(), max_retries=max_retries)
        self._deadline = _checked_deadline(deadline)
        self._rate_limit = _rate_limit(rate_limit, rate_limit_storage, self._quota_key(init_kwargs))
        self._max_response_bytes = _checked_size(max_response_bytes)
        self._init_kwargs = init_kwargs
        self._stats = ClientStats()
        self._opened: list[Connection[Any]] = []  # what `close` closes

    @property
    def stats(self) -> ClientStats:
        """This client's running totals: attempts, retries, 429s, rate-limit waits and the time
        spent in them, shared pauses, resolved conflicts, calls given up (`.snapshot()` for a
        consistent copy)."""
        return self._stats

    def _target(self, headers: dict[str, str], auth: httpx.Auth | None) -> Target:
        return Target(self._base_url, headers, auth, self._timeout, self._max_response_bytes)

    def _quota_key(self, init_kwargs: dict[str, Any]) -> str:
        """`unify-<16 hex digits of sha256(api_key)>`: names the quota, never holds the key."""
        owner = init_kwargs.get(self._quota_owner)
        if not isinstance(owner, str) or not owner:
            return self._vendor
        return f"{self._vendor}-{hashlib.sha256(owner.encode()).hexdigest()[:16]}"

    def with_options(self, **changes: Unpack[ClientOptions]) -> Self:
        """A new client with the same credentials and the given options changed
        (`max_retries`, `timeout`, `deadline`, `base_url`, `rate_limit`, …). It has its own
        connection pool, and the same rate limit unless `rate_limit` is changed."""
        return self._copy(changes)

    def _copy(self, changes: Mapping[str, object]) -> Self:
        # Everything a copy changes travels with its requests: a shared httpx client stays as is.
        if changes.keys() & {"rate_limit", "rate_limit_storage"}:
            return type(self)(**{**self._init_kwargs, **changes})
        # The limiter itself, not its strings: a RateLimit given by the caller stays shared.
        kept = {"rate_limit": self._rate_limit, "rate_limit_storage": None}
        return type(self)(**{**self._init_kwargs, **kept, **changes})

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(base_url={self._base_url!r}, "
            f"timeout={self._timeout.read}, max_retries={self._policy.max_retries}, "
            f"deadline={self._deadline}"
            + ("" if self._rate_limit is None else f", rate_limit={self._rate_limit!r}")
            + ")"
        )


class SyncClient(_ClientBase):
    def _connect(
        self,
        headers: dict[str, str],
        auth: httpx.Auth | None,
        httpx_client: httpx.Client | None,
        generated: Callable[..., G],
    ) -> G:
        """Set up sending; returns the `generated` client for `raw`, sending the same way over
        the same connection."""
        self._connection = self._open(httpx_client)
        self._target_of_requests = self._target(headers, auth)
        return _pipeline.generated_client(generated, self._connection, self._target_of_requests)

    def _run(self, plan: Plan[T]) -> T:
        self._connection.current()  # a closed client says so before waiting for the limit
        return run_sync(
            plan,
            self._send,
            deadline=self._deadline,
            limiter=self._rate_limit,
            max_pause=self._policy.max_retry_after,
            stats=self._stats,
        )

    def _send(self, step: Call[T], seconds_left: float | None) -> T:
        return _pipeline.send_sync(self._connection, self._target_of_requests, step, seconds_left)

    def _call(self, operation: Operation[T]) -> T:
        return self._run(call(operation, self._policy))

    def _paginate(self, operation: ListOperation[PageT, ItemT]) -> SyncPager[ItemT]:
        return self._pager(lambda token: page_plan(operation, self._policy, token))

    def _pager(self, fetch: FetchPage[T]) -> SyncPager[T]:
        return SyncPager[T](self._run, fetch)

    def _open(self, httpx_client: httpx.Client | None) -> Connection[httpx.Client]:
        """A connection on the caller's httpx client, or on a pool of its own (fork-safe, and
        closed by `close`)."""
        connection = Connection(httpx_client, httpx.Client)
        self._opened.append(connection)
        return connection

    def close(self) -> None:
        """Close the connection pools (unless the caller passed its own httpx clients). A call
        after this raises ClientClosedError."""
        for connection in self._opened:
            connection.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncClient(_ClientBase):
    def _connect(
        self,
        headers: dict[str, str],
        auth: httpx.Auth | None,
        httpx_client: httpx.AsyncClient | None,
        generated: Callable[..., G],
    ) -> G:
        self._connection = self._open(httpx_client)
        self._target_of_requests = self._target(headers, auth)
        return _pipeline.generated_client(generated, self._connection, self._target_of_requests)

    async def _run(self, plan: Plan[T]) -> T:
        self._connection.current()  # closed, or on another event loop: before any wait
        return await run_async(
            plan,
            self._send,
            deadline=self._deadline,
            limiter=self._rate_limit,
            max_pause=self._policy.max_retry_after,
            stats=self._stats,
        )

    async def _send(self, step: Call[T], seconds_left: float | None) -> T:
        return await _pipeline.send_async(
            self._connection, self._target_of_requests, step, seconds_left
        )

    async def _call(self, operation: Operation[T]) -> T:
        return await self._run(call(operation, self._policy))

    def _paginate(self, operation: ListOperation[PageT, ItemT]) -> AsyncPager[ItemT]:
        return self._pager(lambda token: page_plan(operation, self._policy, token))

    def _pager(self, fetch: FetchPage[T]) -> AsyncPager[T]:
        return AsyncPager[T](self._run, fetch)

    def _open(self, httpx_client: httpx.AsyncClient | None) -> Connection[httpx.AsyncClient]:
        """A connection on the caller's httpx client, or on a pool of its own (fork-safe, and
        closed by `close`)."""
        connection = Connection(httpx_client, httpx.AsyncClient)
        self._opened.append(connection)
        return connection

    async def close(self) -> None:
        """Close the connection pools (unless the caller passed its own httpx clients). A call
        after this raises ClientClosedError."""
        for connection in self._opened:
            await connection.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


__all__ = [
    "DEFAULT_MAX_RETRIES",
    "AsyncClient",
    "ClientArgs",
    "ClientOptions",
    "ClientStats",
    "Page",
    "SyncClient",
    "page_plan",
]
