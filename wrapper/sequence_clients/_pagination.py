"""Lazy auto-pagination over any page plan: Unify cursors and Boast page numbers alike."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, Generic, TypeVar

import attrs

from ._plan import Plan

T = TypeVar("T")


@attrs.frozen
class Page(Generic[T]):
    """One page: its items, the vendor's raw list response (cursor, meta), and the token for the
    next page (None when this is the last one, so no extra request is made to find out)."""

    items: list[T]
    raw: Any
    next: Any = None


FetchPage = Callable[[Any], Plan[Page[T]]]  # next-page token (None for the first) -> page plan


class SyncPager(Generic[T]):
    """Iterate items across pages, fetching each page only when it is reached."""

    def __init__(self, run: Callable[[Plan[Page[T]]], Page[T]], fetch: FetchPage[T]) -> None:
        self._run = run
        self._fetch = fetch

    def pages(self) -> Iterator[Page[T]]:
        token: Any = None
        while True:
            page = self._run(self._fetch(token))
            yield page
            if page.next is None:
                return
            token = page.next

    def __iter__(self) -> Iterator[T]:
        for page in self.pages():
            yield from page.items


class AsyncPager(Generic[T]):
    """The `async for` twin of SyncPager."""

    def __init__(
        self, run: Callable[[Plan[Page[T]]], Awaitable[Page[T]]], fetch: FetchPage[T]
    ) -> None:
        self._run = run
        self._fetch = fetch

    async def pages(self) -> AsyncIterator[Page[T]]:
        token: Any = None
        while True:
            page = await self._run(self._fetch(token))
            yield page
            if page.next is None:
                return
            token = page.next

    async def __aiter__(self) -> AsyncIterator[T]:
        async for page in self.pages():
            for item in page.items:
                yield item
