"""Pagination against servers that page in circles: a repeated cursor, a page served twice, a
`?page` the server ignores, and a list longer than the cap. Each ends with PaginationError after
at most one extra request, and no item is ever yielded twice — both vendors, both twins."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest

from sequence_clients import AsyncBoastClient, AsyncUnifyClient, BoastClient, UnifyClient, errors
from sequence_clients._pagination import DEFAULT_MAX_PAGES, AsyncPager, Page, SyncPager

ACCOUNT_ID = "7a2f1f8c-7771-47e2-8dbd-332b301028a8"
NOW = "2026-11-24T10:00:00Z"
Handler = Callable[[httpx.Request], httpx.Response]


def unify_enrollment(n: int) -> dict[str, Any]:
    return {
        "id": str(uuid.UUID(int=n)), "created_at": NOW, "updated_at": NOW,
        "sequence": {"id": str(uuid.UUID(int=10**6)), "name": "s", "is_paused": False},
        "person": {"id": str(uuid.UUID(int=n + 10**7)), "email": f"p{n}@x.com", "first_name": None, "last_name": None, "linkedin_url": None},
        "mailbox": {"id": str(uuid.UUID(int=10**8)), "email": "m@x.com", "display_name": None, "is_paused": False, "is_unauthorized": False},
        "enrolled_by_play": None, "reply_email_message": None, "status": "IN_PROGRESS",
        "is_blocked": False, "is_bounced": False, "is_canceled": False, "is_excluded": False,
        "is_opted_out": False, "is_paused": False, "is_replied": False, "started_at": None, "ended_at": None,
    }  # fmt: skip


def unify_page(first: int, next_cursor: str | None, size: int = 2) -> httpx.Response:
    items = [unify_enrollment(n) for n in range(first, first + size)]
    return httpx.Response(200, json={"enrollments": items, "next_cursor": next_cursor})


def boast_page(first: int, served: int, pages: int, size: int = 2) -> httpx.Response:
    items = [
        {"id": str(uuid.UUID(int=n)), "name": f"s{n}", "status": "active",
         "created_at": NOW, "updated_at": NOW}
        for n in range(first, first + size)
    ]  # fmt: skip
    meta = {"pagination": {"count": pages * size, "page": served, "items": size, "pages": pages}}
    return httpx.Response(200, json={"data": items, "meta": meta})


class Server:
    """Answers list requests with `answer(request)` and remembers each request."""

    def __init__(self, answer: Handler) -> None:
        self.answer = answer
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answer(request)

    async def handle_async(self, request: httpx.Request) -> httpx.Response:
        return self(request)


def unify_sync(server: Server) -> UnifyClient:
    http = httpx.Client(transport=httpx.MockTransport(server))
    return UnifyClient("key-123", httpx_client=http, max_retries=0)


def unify_async(server: Server) -> AsyncUnifyClient:
    http = httpx.AsyncClient(transport=httpx.MockTransport(server.handle_async))
    return AsyncUnifyClient("key-123", httpx_client=http, max_retries=0)


def boast_sync(server: Server) -> BoastClient:
    http = httpx.Client(transport=httpx.MockTransport(server))
    return BoastClient(account_id=ACCOUNT_ID, access_token="a-1", httpx_client=http, max_retries=0)


def boast_async(server: Server) -> AsyncBoastClient:
    http = httpx.AsyncClient(transport=httpx.MockTransport(server.handle_async))
    return AsyncBoastClient(
        account_id=ACCOUNT_ID, access_token="a-1", httpx_client=http, max_retries=0
    )


def cursor_of(request: httpx.Request) -> str | None:
    return request.url.params.get("cursor")


def page_of(request: httpx.Request) -> int:
    return int(request.url.params.get("page", "1"))


# Each misbehaving server, with the items and pages a careful pager yields before it stops; it
# may make one request more than the pages it yields, never two.
def repeated_cursor(request: httpx.Request) -> httpx.Response:
    # Page 1 points at "c2"; page 2 (new items) points at "c2" again.
    return unify_page(0, "c2") if cursor_of(request) is None else unify_page(2, "c2")


def ignored_cursor(request: httpx.Request) -> httpx.Response:
    # Every cursor answered with the first page, each time with a fresh cursor.
    return unify_page(0, f"c{uuid.uuid4()}")


def ignored_page(request: httpx.Request) -> httpx.Response:
    return boast_page(0, served=1, pages=35)  # ?page ignored: always page 1 of 35


def collect_sync(items: Iterator[Any]) -> tuple[list[Any], errors.PaginationError]:
    seen: list[Any] = []
    with pytest.raises(errors.PaginationError) as raised:
        for item in items:
            seen.append(item)
    return seen, raised.value


async def collect_async(items: AsyncIterator[Any]) -> tuple[list[Any], errors.PaginationError]:
    seen: list[Any] = []
    with pytest.raises(errors.PaginationError) as raised:
        async for item in items:
            seen.append(item)
    return seen, raised.value


CASES = [
    pytest.param("unify", repeated_cursor, 4, 2, "repeated the cursor", id="unify-repeated-cursor"),
    pytest.param("unify", ignored_cursor, 2, 1, "previous page again", id="unify-ignored-cursor"),
    pytest.param("boast", ignored_page, 2, 1, "previous page again", id="boast-ignored-page"),
]


@pytest.mark.parametrize(("vendor", "answer", "item_count", "pages", "reason"), CASES)
def test_sync_pager_stops_a_server_paging_in_circles(
    vendor: str, answer: Handler, item_count: int, pages: int, reason: str
) -> None:
    server = Server(answer)
    if vendor == "unify":
        with unify_sync(server) as unify:
            seen, error = collect_sync(e.id for e in unify.list_enrollments())
    else:
        with boast_sync(server) as boast:
            seen, error = collect_sync(s.id for s in boast.list_sequences())

    assert reason in str(error)
    assert len(seen) == item_count and len(set(seen)) == len(seen)  # nothing twice
    assert len(server.requests) <= pages + 1
    assert error.pages == pages


@pytest.mark.parametrize(("vendor", "answer", "item_count", "pages", "reason"), CASES)
async def test_async_pager_stops_a_server_paging_in_circles(
    vendor: str, answer: Handler, item_count: int, pages: int, reason: str
) -> None:
    server = Server(answer)
    if vendor == "unify":
        async with unify_async(server) as unify:
            seen, error = await collect_async(e.id async for e in unify.list_enrollments())
    else:
        async with boast_async(server) as boast:
            seen, error = await collect_async(s.id async for s in boast.list_sequences())

    assert reason in str(error)
    assert len(seen) == item_count and len(set(seen)) == len(seen)
    assert len(server.requests) <= pages + 1
    assert error.pages == pages


def endless_cursors(request: httpx.Request) -> httpx.Response:
    number = int(cursor_of(request) or 0)
    return unify_page(2 * number, str(number + 1))


def endless_pages(request: httpx.Request) -> httpx.Response:
    number = page_of(request)
    return boast_page(2 * number, served=number, pages=10**6)


def test_max_pages_caps_a_list_without_an_extra_request() -> None:
    unify_server, boast_server = Server(endless_cursors), Server(endless_pages)
    with unify_sync(unify_server) as unify, boast_sync(boast_server) as boast:
        assert unify.list_enrollments().max_pages == DEFAULT_MAX_PAGES  # the default cap
        seen, error = collect_sync(iter(unify.list_enrollments().with_max_pages(3)))
        assert len(seen) == 6 and len(unify_server.requests) == 3
        assert "max_pages=3" in str(error) and error.pages == 3
        seen, error = collect_sync(iter(boast.list_sequences().with_max_pages(4)))
        assert len({s.id for s in seen}) == 8 and len(boast_server.requests) == 4


async def test_max_pages_caps_an_async_list() -> None:
    server = Server(endless_pages)
    async with boast_async(server) as boast:
        pages = boast.list_sequences().with_max_pages(2)
        seen, error = await collect_async(pages.__aiter__())
    assert len({s.id for s in seen}) == 4 and len(server.requests) == 2 and error.pages == 2


def test_a_well_behaved_list_is_read_to_its_end() -> None:
    def three_pages(request: httpx.Request) -> httpx.Response:
        number = page_of(request)
        return boast_page(2 * number, served=number, pages=3)

    server = Server(three_pages)
    with boast_sync(server) as boast:
        assert len({s.id for s in boast.list_sequences()}) == 6
    assert [page_of(r) for r in server.requests] == [1, 2, 3]


# The pager on its own: a page that says it is another than the one asked for (Boast's
# meta.pagination.page), whatever the items, and tokens that cannot be hashed.
def fake_pages(answers: dict[Any, Page[int]], asked: list[Any]) -> Callable[[Any], Any]:
    def fetch(token: Any) -> Any:
        asked.append(token)
        return answers[token if not isinstance(token, list) else tuple(token)]
        yield  # a plan: a generator

    return fetch


def run_plan(plan: Any) -> Any:
    try:
        next(plan)
    except StopIteration as done:
        return done.value
    raise AssertionError("the fake plan made a request")


async def arun_plan(plan: Any) -> Any:
    return run_plan(plan)


def served_elsewhere() -> dict[Any, Page[int]]:
    return {
        None: Page([1, 2], raw=None, next=2, served=1),
        2: Page([3, 4], raw=None, next=3, served=1),  # asked for 2, says it is page 1
    }


def test_a_page_served_in_place_of_another_is_refused() -> None:
    asked: list[Any] = []
    pager = SyncPager(run_plan, fake_pages(served_elsewhere(), asked))
    seen, error = collect_sync(iter(pager))
    assert seen == [1, 2] and asked == [None, 2]
    assert "asked for page 2, the server sent page 1" in str(error)


async def test_async_a_page_served_in_place_of_another_is_refused() -> None:
    asked: list[Any] = []
    pager = AsyncPager(arun_plan, fake_pages(served_elsewhere(), asked))
    seen, error = await collect_async(pager.__aiter__())
    assert seen == [1, 2] and asked == [None, 2] and error.pages == 1


def test_unhashable_tokens_still_catch_a_repeat() -> None:
    answers = {
        None: Page([1], raw=None, next=["a"]),
        ("a",): Page([2], raw=None, next=["a"]),
    }
    seen, error = collect_sync(iter(SyncPager(run_plan, fake_pages(answers, []))))
    assert seen == [1, 2] and "repeated the cursor" in str(error)


def test_empty_pages_with_new_cursors_are_not_mistaken_for_a_loop() -> None:
    answers = {
        None: Page([], raw=None, next="b"),
        "b": Page([], raw=None, next="c"),
        "c": Page([7], raw=None),
    }
    assert list(SyncPager(run_plan, fake_pages(answers, []))) == [7]


def test_boast_says_which_page_it_served_and_a_wrong_one_is_refused() -> None:
    def stuck_on_page_one(request: httpx.Request) -> httpx.Response:
        # New items each time (a list that is changing), but always "page 1 of 35".
        return boast_page(2 * len(server.requests), served=1, pages=35)

    server = Server(stuck_on_page_one)
    with boast_sync(server) as boast:
        seen, error = collect_sync(s.id for s in boast.list_sequences())
    assert "asked for page 2, the server sent page 1" in str(error)
    assert len(seen) == 2 and len(server.requests) == 2
