"""Paging, in one place: one page of any generated list operation (`page_plan`), and lazy
auto-pagination over page plans (`SyncPager`, `AsyncPager`, their `PageGuard`): Unify cursors,
Boast page numbers and bulk job results alike. A generated `ListOperation` only describes its
list (how to read the items and the next page's token from an answer, which query parameter
asks for a page); every decision is made here.

A server can page in circles: repeat a cursor, ignore `?page` and serve page 1 again, or say it
served another page than the one asked for. The pager notices each of these at the latest one
request later, raises PaginationError, and never yields an item twice. It also stops at
`max_pages` pages (DEFAULT_MAX_PAGES unless the pager is made with another cap, e.g.
`client.list_enrollments().with_max_pages(50)`; None for no cap).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from ._plan import ListOperation, Plan, RetryPolicy, call
from .errors import PaginationError

T = TypeVar("T")
PageT = TypeVar("PageT")
ItemT = TypeVar("ItemT")

# 10,000 pages is a million Unify enrollments at the largest page size: more than any list we
# know of, and a bound on a server that pages forever in some way the guards cannot see.
DEFAULT_MAX_PAGES = 10_000


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page: its items, the vendor's raw list response (cursor, meta), the token for the
    next page (None when this is the last one, so no extra request is made to find out), and,
    when the vendor says which page it served (Boast's meta.pagination.page), that token."""

    items: list[T]
    raw: object  # the vendor's list answer; isinstance() it against the generated model
    next: Any = None
    served: Any = None


FetchPage = Callable[[Any], Plan[Page[T]]]  # next-page token (None for the first) -> page plan


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


class PageGuard:
    """The checks made on each page, written once: both pagers use it, and so can any plan that
    walks pages itself (`admit` each page fetched, then ask `next_token` where to go)."""

    def __init__(self, max_pages: int | None) -> None:
        self.max_pages = max_pages
        self.pages = 0
        self._tokens: set[Hashable] = set()
        self._previous_items: list[Any] | None = None

    def _stop(self, reason: str) -> PaginationError:
        return PaginationError(reason, pages=self.pages)

    def admit(self, token: Any, page: Page[Any]) -> None:
        """Raise instead of letting `page`, fetched with `token`, repeat what was yielded."""
        if page.items and page.items == self._previous_items:
            raise self._stop("the server sent the previous page again")
        if token is not None and page.served is not None and page.served != token:
            raise self._stop(f"asked for page {token!r}, the server sent page {page.served!r}")
        self.pages += 1
        self._previous_items = page.items

    def next_token(self, token: Any, page: Page[Any]) -> Any:
        """The token for the page after `page`, or None when `page` was the last."""
        following = page.next
        if following is None:
            return None
        try:
            repeated = following == token or following in self._tokens
            self._tokens.add(following)
        except TypeError:  # an unhashable token: only a repeat of the last one can be seen
            repeated = following == token
        if repeated:
            raise self._stop(f"the server repeated the cursor {following!r}")
        if self.max_pages is not None and self.pages >= self.max_pages:
            raise self._stop(f"more than max_pages={self.max_pages} pages; raise the cap if meant")
        return following


class SyncPager(Generic[T]):
    """Iterate items across pages, fetching each page only when it is reached."""

    def __init__(
        self,
        run: Callable[[Plan[Page[T]]], Page[T]],
        fetch: FetchPage[T],
        max_pages: int | None = DEFAULT_MAX_PAGES,
    ) -> None:
        self._run = run
        self._fetch = fetch
        self.max_pages = max_pages

    def with_max_pages(self, max_pages: int | None) -> SyncPager[T]:
        """The same list with another cap on pages (None: no cap)."""
        return SyncPager(self._run, self._fetch, max_pages)

    def pages(self) -> Iterator[Page[T]]:
        guard = PageGuard(self.max_pages)
        token: Any = None
        while True:
            page = self._run(self._fetch(token))
            guard.admit(token, page)
            yield page
            token = guard.next_token(token, page)
            if token is None:
                return

    def __iter__(self) -> Iterator[T]:
        for page in self.pages():
            yield from page.items


class AsyncPager(Generic[T]):
    """The `async for` twin of SyncPager."""

    def __init__(
        self,
        run: Callable[[Plan[Page[T]]], Awaitable[Page[T]]],
        fetch: FetchPage[T],
        max_pages: int | None = DEFAULT_MAX_PAGES,
    ) -> None:
        self._run = run
        self._fetch = fetch
        self.max_pages = max_pages

    def with_max_pages(self, max_pages: int | None) -> AsyncPager[T]:
        return AsyncPager(self._run, self._fetch, max_pages)

    async def pages(self) -> AsyncIterator[Page[T]]:
        guard = PageGuard(self.max_pages)
        token: Any = None
        while True:
            page = await self._run(self._fetch(token))
            guard.admit(token, page)
            yield page
            token = guard.next_token(token, page)
            if token is None:
                return

    async def __aiter__(self) -> AsyncIterator[T]:
        async for page in self.pages():
            for item in page.items:
                yield item
