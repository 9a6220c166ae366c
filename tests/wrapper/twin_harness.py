"""The one twin harness: every scenario written once runs on the sync and the async client.

A test takes the `twin` fixture (tests/wrapper/conftest.py), which is `SYNC` then `ASYNC`: the
client classes and httpx client of one flavour. Its methods are driven from the test's coroutine
either way (`settle` awaits what needs awaiting, `every` reads a pager of either kind), which
changes nothing for the sync client. `twin(handler, **options)` is a Unify client of that flavour
answered by `handler` (see `UnifyTwin`).
"""

from __future__ import annotations

import inspect
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from sequence_clients import (
    AsyncBoastClient,
    AsyncUnifyClient,
    BoastClient,
    RetryPolicy,
    UnifyClient,
)
from sequence_clients.generated.unify.api.sequences import pause_sequence

Handler = Callable[[httpx.Request], httpx.Response]
FAST = RetryPolicy(base_delay=0.001, max_delay=0.01)
SEQUENCE_ID = uuid.UUID("3d1f0e2c-5b4a-4c3d-9e8f-7a6b5c4d3e2f")
PERSON_ID = uuid.UUID("9c8b7a6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d")


class Answers(Protocol):
    def handle(self, request: httpx.Request) -> httpx.Response: ...


@dataclass(frozen=True)
class Twin:
    name: str
    unify: type[UnifyClient] | type[AsyncUnifyClient]
    boast: type[BoastClient] | type[AsyncBoastClient]
    http: type[httpx.Client] | type[httpx.AsyncClient]

    def over(self, wire: Answers) -> Any:
        """An httpx client of the twin's kind whose every request goes to `wire`."""
        return self.http(transport=httpx.MockTransport(wire.handle))

    def __call__(self, handler: Handler, **options: Any) -> UnifyTwin:
        return UnifyTwin(self, handler, **options)


SYNC = Twin("sync", UnifyClient, BoastClient, httpx.Client)
ASYNC = Twin("async", AsyncUnifyClient, AsyncBoastClient, httpx.AsyncClient)


class UnifyTwin:
    """A Unify client of one flavour answered by `handler`, called the same way from a test's
    coroutine (fast retries unless `retry_policy` is given)."""

    def __init__(self, twin: Twin, handler: Handler, **options: Any) -> None:
        options.setdefault("retry_policy", FAST)
        self.flavour = twin.name
        http = twin.http(transport=httpx.MockTransport(handler))
        self.client: Any = twin.unify("key", httpx_client=http, **options)

    async def enroll(self, mailbox_emails: object) -> object:
        return await settle(
            self.client.enroll(SEQUENCE_ID, PERSON_ID, mailbox_emails=mailbox_emails)
        )

    async def list_sequences(self) -> list[object]:
        return await every(self.client.list_sequences())

    async def pause(self) -> object:
        return await settle(self.client.call(pause_sequence.operation(SEQUENCE_ID)))


async def settle(value: Any) -> Any:
    """What a method of either twin gives: awaited if it is awaitable."""
    return await value if inspect.isawaitable(value) else value


async def every(pager: Any) -> list[Any]:
    if isinstance(pager, Iterable):
        return list(pager)
    found: AsyncIterator[Any] = aiter(pager)
    return [item async for item in found]


async def closed(client: Any) -> None:
    await settle(client.close())
