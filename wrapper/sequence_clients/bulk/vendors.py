"""Per-vendor adapters of the bulk engine: the `enroll(row, resume)`, `undo` and `pause`
callables and the preflight checks, all on one pooled httpx client per run (`pooled_http`).

The rate limit is the vendor client's own (`rate_limit=`, `rate_limit_storage=`): the client
takes a slot before every HTTP attempt — retries and the lookups a resumed row may need
included — which is what the vendor counts.

Preflight runs before the first row, on the same client: the credentials work (the listing is
authenticated), the sequence exists in the account and can take enrollments. Neither vendor
offers a mailbox lookup, so Unify's --mailbox is checked by the first enrollment instead: an
unknown default mailbox trips the circuit breaker on that first answer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TypedDict

import httpx

from .._client import DEFAULT_MAX_RETRIES
from .._plan import RetryPolicy
from .._telemetry import ClientStats
from ..errors import (
    APIConnectionError,
    AuthenticationError,
    PermissionDeniedError,
    SequenceClientError,
)
from ..token_stores import FileTokenStore
from ..unify import UNIFY_BASE_URL, AsyncUnifyClient
from .engine import EnrollFn, PauseFn, UndoFn, short_reason
from .rows import Row


class BoastKwargs(TypedDict):
    """AsyncBoastClient credentials and URLs, as the CLI reads them from flags, environment,
    config and the token file."""

    account_id: str | None
    access_token: str
    refresh_token: str | None
    expires_at: dt.datetime | None
    client_id: str | None
    client_secret: str | None
    token_store: FileTokenStore | None
    base_url: str
    auth_base_url: str


class PreflightError(Exception):
    """The run cannot start; the message is one line saying why and what to check."""


class WriteRefusedError(SequenceClientError):
    """A dry run tried to send a request that changes something; it was stopped before it left.

    Raised by the httpx request hook of a read-only client, so nothing reached the network.
    """

    def __init__(self, method: str, url: str) -> None:
        super().__init__(f"dry run: a {method} request to {url} was refused before it was sent")
        self.method = method
        self.url = url


@dataclass(frozen=True)
class Enroller:
    enroll: EnrollFn
    # Checks that raise PreflightError; returns notes worth printing (e.g. a paused sequence).
    preflight: Callable[[], Awaitable[list[str]]]
    undo: UndoFn
    pause: PauseFn | None = None  # None: the vendor cannot pause an enrollment (Boast)
    # The vendor client's running totals (retries, 429s, limiter waits) for the progress line.
    stats: Callable[[], ClientStats] = ClientStats


def preflight_failure(vendor: str, error: SequenceClientError, credentials: str) -> PreflightError:
    reason = short_reason(error)
    if isinstance(error, AuthenticationError | PermissionDeniedError):
        return PreflightError(
            f"preflight: {vendor} refused the credentials ({reason}); check {credentials}"
        )
    if isinstance(error, APIConnectionError):
        return PreflightError(
            f"preflight: cannot reach {vendor} at {error.url} ({reason}); check the base URL"
        )
    return PreflightError(f"preflight: {vendor} answered {reason}")


READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def refuse_writes(request: httpx.Request) -> None:
    """httpx request hook of a dry run's client: any request but a read never leaves."""
    if request.method not in READ_METHODS:
        raise WriteRefusedError(request.method, str(request.url.copy_with(query=None)))


def pooled_http(concurrency: int, *, read_only: bool = False) -> httpx.AsyncClient:
    """The bulk engine's one httpx client (every vendor call of a run goes through it).

    One connection per worker: a worker waiting for the rate limit holds none. `read_only`
    (dry runs) refuses every write in a request hook, below the vendor clients and the CLI.
    """
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    hooks = {"request": [refuse_writes]} if read_only else {}
    # On aiohttp: a fraction of httpx's CPU per request (bench/transport.py, _aiohttp).
    from .._aiohttp import aiohttp_httpx_client

    return aiohttp_httpx_client(limits=limits, event_hooks=hooks)


@asynccontextmanager
async def unify_enroller(
    api_key: str,
    sequence_id: str,
    *,
    base_url: str | None = None,
    rate_limit: str | None = None,
    rate_limit_storage: str | None = None,
    concurrency: int = 16,
    max_retries: int = DEFAULT_MAX_RETRIES,
    retry_policy: RetryPolicy | None = None,
    read_only: bool = False,
) -> AsyncIterator[Enroller]:
    async with (
        pooled_http(concurrency, read_only=read_only) as http,
        AsyncUnifyClient(
            api_key,
            base_url=base_url or UNIFY_BASE_URL,
            max_retries=max_retries,
            retry_policy=retry_policy,
            rate_limit=rate_limit,
            rate_limit_storage=rate_limit_storage,
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

        async def preflight() -> list[str]:
            try:
                async for sequence in client.list_sequences():
                    if str(sequence.id) == sequence_id:
                        if sequence.is_paused:
                            return [
                                f"note: sequence {sequence.name!r} is paused; its enrollments "
                                "start when it is resumed"
                            ]
                        return []
            except SequenceClientError as error:
                raise preflight_failure("Unify", error, "UNIFY_API_KEY") from None
            raise PreflightError(
                f"preflight: Unify has no sequence {sequence_id} for this API key "
                "(see `sequence-clients unify sequences`)"
            )

        async def undo(enrollment_id: str, resume: bool) -> None:
            # DELETE is idempotent at Unify; after an interruption, look first all the same, so
            # a cancel that already landed is not sent twice.
            if resume and (await client.get_enrollment(enrollment_id)).is_canceled:
                return
            await client.cancel_enrollment(enrollment_id)

        async def pause(enrollment_id: str, paused: bool) -> None:
            if paused:
                await client.pause_enrollment(enrollment_id)
            else:
                await client.resume_enrollment(enrollment_id)

        yield Enroller(enroll, preflight, undo, pause, stats=client.stats.snapshot)


@asynccontextmanager
async def boast_enroller(
    client_kwargs: BoastKwargs,
    sequence_id: str,
    *,
    rate_limit: str | None = None,
    rate_limit_storage: str | None = None,
    concurrency: int = 16,
    max_retries: int = DEFAULT_MAX_RETRIES,
    retry_policy: RetryPolicy | None = None,
    read_only: bool = False,
) -> AsyncIterator[Enroller]:
    """`client_kwargs`: AsyncBoastClient credentials and URLs (account_id, tokens, …)."""
    from ..boast import AsyncBoastClient

    async with (
        pooled_http(concurrency, read_only=read_only) as http,
        AsyncBoastClient(
            **client_kwargs,
            max_retries=max_retries,
            retry_policy=retry_policy,
            rate_limit=rate_limit,
            rate_limit_storage=rate_limit_storage,
            httpx_client=http,
        ) as client,
    ):

        async def enroll(row: Row, resume: bool) -> str:
            # As for Unify: after an interruption, the active enrollment in this sequence is ours.
            enrollment = await client.enroll(
                row.key, sequence_id, on_conflict="return_existing" if resume else "raise"
            )
            return str(enrollment.id)

        async def preflight() -> list[str]:
            try:
                async for sequence in client.list_sequences():
                    if str(sequence.id) == sequence_id:
                        if sequence.status != "active":
                            raise PreflightError(
                                f"preflight: Boast sequence {sequence.name!r} is "
                                f"{sequence.status}, not active: it takes no enrollments"
                            )
                        return []
            except SequenceClientError as error:
                raise preflight_failure(
                    "Boast",
                    error,
                    "the token (`sequence-clients boast login`) and BOAST_ACCOUNT_ID",
                ) from None
            raise PreflightError(
                f"preflight: Boast account has no sequence {sequence_id} "
                "(see `sequence-clients boast sequences`)"
            )

        async def undo(enrollment_id: str, resume: bool) -> None:
            # Boast refuses to remove a removed enrollment: after an interruption, look first.
            if resume and (await client.get_enrollment(enrollment_id)).status == "removed":
                return
            await client.remove_enrollment(enrollment_id)

        yield Enroller(enroll, preflight, undo, stats=client.stats.snapshot)


def check_mailboxes(mailboxes: Sequence[str]) -> tuple[str, ...]:
    from .._validate import as_email

    return tuple(as_email(m, "--mailbox") for m in mailboxes)
