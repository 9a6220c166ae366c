"""Per-vendor `enroll(row, resume)` callables for the bulk engine (no CLI dependencies).

Rate limiting sits in an httpx request hook, so every HTTP attempt — retries and the lookups a
resumed row may need — takes a slot, which is what the vendor counts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import httpx

from .._client import DEFAULT_MAX_RETRIES
from .._plan import RetryPolicy
from ..unify import UNIFY_BASE_URL, AsyncUnifyClient
from .bulk import EnrollFn
from .ratelimit import RateLimiter
from .rows import Row


def limited_http(limiter: RateLimiter | None, concurrency: int) -> httpx.AsyncClient:
    hooks = {"request": [limiter.httpx_hook]} if limiter is not None else {}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    return httpx.AsyncClient(event_hooks=hooks, limits=limits)


@asynccontextmanager
async def unify_enroller(
    api_key: str,
    sequence_id: str,
    *,
    base_url: str | None = None,
    limiter: RateLimiter | None = None,
    concurrency: int = 16,
    max_retries: int = DEFAULT_MAX_RETRIES,
    retry_policy: RetryPolicy | None = None,
) -> AsyncIterator[EnrollFn]:
    async with (
        limited_http(limiter, concurrency) as http,
        AsyncUnifyClient(
            api_key,
            base_url=base_url or UNIFY_BASE_URL,
            max_retries=max_retries,
            retry_policy=retry_policy,
            httpx_client=http,
        ) as client,
    ):

        async def enroll(row: Row, resume: bool) -> str:
            # Resumed rows may already be enrolled by the interrupted run: the active enrollment
            # in this sequence is then that run's, so return_existing reports it, not a conflict.
            enrollment = await client.enroll(
                sequence_id,
                row.key,
                mailbox_emails=row.mailboxes,
                on_conflict="return_existing" if resume else "raise",
            )
            return str(enrollment.id)

        yield enroll


@asynccontextmanager
async def boast_enroller(
    client_kwargs: dict[str, Any],
    sequence_id: str,
    *,
    limiter: RateLimiter | None = None,
    concurrency: int = 16,
    max_retries: int = DEFAULT_MAX_RETRIES,
    retry_policy: RetryPolicy | None = None,
) -> AsyncIterator[EnrollFn]:
    """`client_kwargs`: AsyncBoastClient credentials and URLs (account_id, tokens, …)."""
    from ..boast import AsyncBoastClient

    async with (
        limited_http(limiter, concurrency) as http,
        AsyncBoastClient(
            **client_kwargs, max_retries=max_retries, retry_policy=retry_policy, httpx_client=http
        ) as client,
    ):

        async def enroll(row: Row, resume: bool) -> str:
            # As for Unify: after an interruption, the active enrollment in this sequence is ours.
            enrollment = await client.enroll(
                row.key, sequence_id, on_conflict="return_existing" if resume else "raise"
            )
            return str(enrollment.id)

        yield enroll


def check_mailboxes(mailboxes: Sequence[str]) -> tuple[str, ...]:
    from .._validate import as_email

    return tuple(as_email(m, "--mailbox") for m in mailboxes)
