"""The sync and async client bases: connection setup, the one request path, pagination, lifecycle.

Every request either twin makes goes through `_run`: a plan (see `_plan`) driven with the
client's retry policy and deadline, each `Call` sent by `_send` on the client's httpx client
(timeouts, typed errors from the response hook, and, for Boast, the OAuth httpx.Auth).
`_call(operation)` and `_paginate(list_operation)` put any generated operation on that path; the
vendor clients expose them as typed `call` and `paginate` and add one-line named methods.
With `rate_limit`, every attempt on that path first takes a slot of the (shared) limit.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Self, TypedDict, TypeVar, Unpack

import attrs
import httpx

from ._pagination import AsyncPager, FetchPage, Page, SyncPager
from ._plan import Call, ListOperation, Operation, Plan, RetryPolicy, call, run_async, run_sync
from ._ratelimit import RateLimit, limit_for
from ._transport import (
    as_timeout,
    checked_base_url,
    configure_http,
    ends,
    send_async,
    send_sync,
    within,
)
from .errors import InvalidRequestError

T = TypeVar("T")
PageT = TypeVar("PageT")
ItemT = TypeVar("ItemT")
DEFAULT_MAX_RETRIES = 4


def page_plan(
    operation: ListOperation[PageT, ItemT], policy: RetryPolicy, token: str | int | None
) -> Plan[Page[ItemT]]:
    """One page of a generated list operation: the first as given, later ones by `token`."""
    sent = operation if token is None else operation.for_page(token)
    answer = yield from call(sent, policy)
    return Page(
        items=operation.items(answer),
        raw=answer,
        next=operation.next_page(answer, sent.sent_page),
        served=operation.served_page(answer),
    )


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


# Options that configure_http writes into the httpx client itself (the timeout travels with
# each request instead, so a copy may change it).
_WRITTEN_INTO_HTTP = frozenset(
    {"api_key", "access_token", "refresh_token", "expires_at", "client_id", "client_secret",
     "base_url", "auth_base_url", "token_store", "allow_insecure_http"}
)  # fmt: skip


def _checked_deadline(deadline: float | None) -> float | None:
    if deadline is not None and not deadline > 0:
        raise InvalidRequestError(f"deadline must be a positive number of seconds, got {deadline}")
    return deadline


class ClientOptions(TypedDict, total=False):
    """What `with_options` can change on either vendor's client."""

    base_url: str
    timeout: float | httpx.Timeout | None
    max_retries: int
    deadline: float | None
    allow_insecure_http: bool
    retry_policy: RetryPolicy | None
    rate_limit: str | RateLimit | None
    rate_limit_storage: str | None


class _ClientBase:
    """Options shared by both twins. Secrets are never stored in anything repr() shows."""

    _vendor = "default"  # the first part of the vendor's quota key in a rate limit storage
    # The constructor argument the vendor counts requests by (its API key, its OAuth app): a
    # rate limit given as a string is keyed by a fingerprint of it, so two keys of one vendor on
    # one Redis never share a quota by accident.
    _quota_owner = ""

    def __init__(
        self,
        *,
        base_url: str,
        timeout: float | httpx.Timeout | None,
        max_retries: int,
        deadline: float | None,
        allow_insecure_http: bool,
        retry_policy: RetryPolicy | None,
        rate_limit: str | RateLimit | None,
        rate_limit_storage: str | None,
        init_kwargs: dict[str, Any],
    ) -> None:
        self._base_url = checked_base_url(base_url, allow_insecure_http=allow_insecure_http)
        self._timeout = as_timeout(timeout)
        self._policy = attrs.evolve(retry_policy or RetryPolicy(), max_retries=max_retries)
        self._deadline = _checked_deadline(deadline)
        self._rate_limit = _rate_limit(rate_limit, rate_limit_storage, self._quota_key(init_kwargs))
        self._init_kwargs = init_kwargs

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
        shared_http = self._init_kwargs.get("httpx_client") is not None
        rewired = sorted(changes.keys() & _WRITTEN_INTO_HTTP) if shared_http else []
        if rewired and changes.get("httpx_client") is None:
            # The caller's httpx client carries our base URL, timeout and credentials: a copy
            # changing them on it would change them for this client too.
            raise InvalidRequestError(
                f"with_options({', '.join(rewired)}=…) on a client built with httpx_client= "
                "would change that shared httpx client under this one; pass the copy an "
                "httpx_client of its own"
            )
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
        self, headers: dict[str, str], auth: httpx.Auth | None, httpx_client: httpx.Client | None
    ) -> httpx.Client:
        self._http = httpx_client if httpx_client is not None else httpx.Client()
        self._owns_http = httpx_client is None
        configure_http(
            self._http, base_url=self._base_url, timeout=self._timeout, headers=headers, auth=auth
        )
        return self._http

    def _run(self, plan: Plan[T]) -> T:
        return run_sync(
            plan,
            self._send,
            deadline=self._deadline,
            limiter=self._rate_limit,
            max_pause=self._policy.max_retry_after,
        )

    def _send(self, step: Call[T], seconds_left: float | None) -> T:
        return send_sync(self._http, step, within(self._timeout, seconds_left), ends(seconds_left))

    def _call(self, operation: Operation[T]) -> T:
        return self._run(call(operation, self._policy))

    def _paginate(self, operation: ListOperation[PageT, ItemT]) -> SyncPager[ItemT]:
        return self._pager(lambda token: page_plan(operation, self._policy, token))

    def _pager(self, fetch: FetchPage[T]) -> SyncPager[T]:
        return SyncPager[T](self._run, fetch)

    def close(self) -> None:
        """Close the connection pool (unless the caller passed its own httpx client)."""
        if self._owns_http:
            self._http.close()

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
    ) -> httpx.AsyncClient:
        self._http = httpx_client if httpx_client is not None else httpx.AsyncClient()
        self._owns_http = httpx_client is None
        configure_http(
            self._http, base_url=self._base_url, timeout=self._timeout, headers=headers, auth=auth
        )
        return self._http

    async def _run(self, plan: Plan[T]) -> T:
        return await run_async(
            plan,
            self._send,
            deadline=self._deadline,
            limiter=self._rate_limit,
            max_pause=self._policy.max_retry_after,
        )

    async def _send(self, step: Call[T], seconds_left: float | None) -> T:
        return await send_async(
            self._http, step, within(self._timeout, seconds_left), ends(seconds_left)
        )

    async def _call(self, operation: Operation[T]) -> T:
        return await self._run(call(operation, self._policy))

    def _paginate(self, operation: ListOperation[PageT, ItemT]) -> AsyncPager[ItemT]:
        return self._pager(lambda token: page_plan(operation, self._policy, token))

    def _pager(self, fetch: FetchPage[T]) -> AsyncPager[T]:
        return AsyncPager[T](self._run, fetch)

    async def close(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


__all__ = ["DEFAULT_MAX_RETRIES", "AsyncClient", "ClientOptions", "Page", "SyncClient"]
