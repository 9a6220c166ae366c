"""Lists are read lazily page by page to the end (Unify's cursor, Boast's page number, a bulk
job's pages), on both twins; a server paging in circles, serving the wrong page or ignoring
`page` stops the pager with PaginationError instead of looping."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
from twin_harness import Twin, closed, every
from wrapper_helpers import (
    ACCOUNT,
    ACCOUNT_ID,
    ACCOUNT_UUID,
    NOW,
    BoastOptions,
    Handler,
    ScriptedBoast,
    Wire,
    boast_on,
    boast_on_boast,
    contact_pages,
    ids,
    job,
    targets,
    unify_async,
    unify_sync,
)

from sequence_clients import (
    AsyncBoastClient,
    AsyncUnifyClient,
    BoastClient,
    RetryPolicy,
    UnifyClient,
    errors,
)
from sequence_clients._pagination import DEFAULT_MAX_PAGES, AsyncPager, Page, SyncPager
from sequence_clients.generated.boast.api.contacts import list_contacts
from sequence_clients.generated.boast.models import Account
from sequence_clients.generated.unify.api.sequence_enrollments import (
    list_sequence_enrollment_query_jobs,
)
from sequence_clients.generated.unify.models import (
    BulkApiJob,
)
from sequence_clients.sandbox import Sandbox


def fake_pages(pages: dict[Any, Page[int]], asked: list[object]) -> Callable[[Any], Any]:
    """Page plans that make no request: each gives the page for its cursor at once."""

    def fetch(token: Any) -> Any:
        asked.append(token)
        return pages[tuple(token) if isinstance(token, list) else token]
        yield  # a plan: a generator

    return fetch


def run_fake_plan(plan: Any) -> Any:
    try:
        next(plan)
    except StopIteration as done:
        return done.value
    raise AssertionError("the fake plan made a request")


async def arun_fake_plan(plan: Any) -> Any:
    return run_fake_plan(plan)


async def read_until_stopped(
    flavour: str, pages: dict[Any, Page[int]]
) -> tuple[list[int], pytest.ExceptionInfo[errors.PaginationError]]:
    """The items a sync or async pager over `pages` yielded before PaginationError stopped it."""
    seen: list[int] = []
    with pytest.raises(errors.PaginationError) as raised:
        if flavour == "sync":
            seen.extend(SyncPager(run_fake_plan, fake_pages(pages, [])))
        else:
            async for item in AsyncPager(arun_fake_plan, fake_pages(pages, [])):
                seen.append(item)
    return seen, raised


FAST = RetryPolicy(base_delay=0.001, max_delay=0.002)


def unify_answering(handler: Handler, **options: Any) -> UnifyClient:
    http = httpx.Client(transport=httpx.MockTransport(handler))
    return UnifyClient("secret-key-123", httpx_client=http, retry_policy=FAST, **options)


def counting_client() -> tuple[httpx.Client, list[httpx.Request]]:
    sent: list[httpx.Request] = []
    return httpx.Client(event_hooks={"request": [sent.append]}), sent


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


class RecordingServer:
    """Answers list requests with `answer(request)` and remembers each request."""

    def __init__(self, answer: Handler) -> None:
        self.answer = answer
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answer(request)

    async def handle_async(self, request: httpx.Request) -> httpx.Response:
        return self(request)


def unify_without_retries(server: RecordingServer) -> UnifyClient:
    http = httpx.Client(transport=httpx.MockTransport(server))
    return UnifyClient("key-123", httpx_client=http, max_retries=0)


def async_unify_without_retries(server: RecordingServer) -> AsyncUnifyClient:
    http = httpx.AsyncClient(transport=httpx.MockTransport(server.handle_async))
    return AsyncUnifyClient("key-123", httpx_client=http, max_retries=0)


def boast_without_retries(server: RecordingServer) -> BoastClient:
    http = httpx.Client(transport=httpx.MockTransport(server))
    return BoastClient(account_id=ACCOUNT_ID, access_token="a-1", httpx_client=http, max_retries=0)


def async_boast_without_retries(server: RecordingServer) -> AsyncBoastClient:
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


def endless_cursors(request: httpx.Request) -> httpx.Response:
    number = int(cursor_of(request) or 0)
    return unify_page(2 * number, str(number + 1))


def endless_pages(request: httpx.Request) -> httpx.Response:
    number = page_of(request)
    return boast_page(2 * number, served=number, pages=10**6)


# The pager on its own: a page that says it is another than the one asked for (Boast's
# meta.pagination.page), whatever the items, and tokens that cannot be hashed.
def served_elsewhere() -> dict[Any, Page[int]]:
    return {
        None: Page([1, 2], raw=None, next=2, served=1),
        2: Page([3, 4], raw=None, next=3, served=1),  # asked for 2, says it is page 1
    }


def job_pages(request: httpx.Request) -> httpx.Response:
    """Five jobs, two a page, behind cursors c2 and c4."""
    start = {None: 0, "c2": 2, "c4": 4}[request.url.params.get("cursor")]
    following = f"c{start + 2}" if start + 2 < 5 else None
    jobs = [job(n) for n in range(start, min(start + 2, 5))]
    return httpx.Response(200, json={"jobs": jobs, "next_cursor": following})


async def test_boast_account_pages_carry_the_answer(
    twin: Twin, sandbox: Sandbox, wire: Wire
) -> None:
    boast = boast_on(twin, sandbox, wire)
    (page,) = await every(boast.list_accounts().pages())
    assert [str(a.id) for a in page.items] == sandbox.boast.account_ids
    assert page.raw.data == page.items
    await closed(boast)


@pytest.mark.parametrize("flavour", ["sync", "async"])
async def test_a_cursor_coming_back_after_another_is_a_loop_too(flavour: str) -> None:
    # a, b, a again: round in circles, with new items on every page.
    pages = {
        None: Page([1], raw=None, next="c-a"),
        "c-a": Page([2], raw=None, next="c-b"),
        "c-b": Page([3], raw=None, next="c-a"),
    }
    seen, raised = await read_until_stopped(flavour, pages)
    assert seen == [1, 2, 3]
    assert (raised.value.pages, raised.value.reason) == (3, "the server repeated the cursor 'c-a'")


@pytest.mark.parametrize("flavour", ["sync", "async"])
async def test_a_page_served_again_under_a_new_cursor_stops_the_pager(flavour: str) -> None:
    pages = {
        None: Page([1, 2], raw=None, next="c-a"),
        "c-a": Page([1, 2], raw=None, next="c-b"),  # the first page again, a fresh cursor
    }
    seen, raised = await read_until_stopped(flavour, pages)
    assert seen == [1, 2]  # nothing yielded twice
    assert (raised.value.pages, raised.value.reason) == (
        1,
        "the server sent the previous page again",
    )


async def test_the_async_pager_catches_a_repeated_cursor_it_cannot_hash() -> None:
    # A cursor that is a JSON list: it cannot go into the set of seen cursors, so only a repeat
    # of the one just used can be seen, and that must still stop the loop.
    pages = {None: Page([1], raw=None, next=["a"]), ("a",): Page([2], raw=None, next=["a"])}
    asked: list[object] = []
    fetch = fake_pages(pages, asked)

    seen: list[int] = []
    with pytest.raises(errors.PaginationError) as raised:
        async for item in AsyncPager(arun_fake_plan, fetch):
            seen.append(item)

    assert seen == [1, 2] and asked == [None, ["a"]]
    assert (raised.value.pages, raised.value.reason) == (2, "the server repeated the cursor ['a']")


def test_list_sequences_reads_every_page_in_turn() -> None:
    server = ScriptedBoast(sequences=5, per_page=2)
    with boast_on_boast(server) as boast:
        names = [s.name for s in boast.list_sequences()]
    assert names == [s["name"] for s in server.sequences]
    assert [q["page"] for q in server.queries] == ["1", "2", "3"]


async def test_async_list_sequences_reads_every_page_in_turn() -> None:
    server = ScriptedBoast(sequences=3, per_page=2)
    http = httpx.AsyncClient(transport=httpx.MockTransport(server.handle))
    async with AsyncBoastClient(account_id=ACCOUNT, access_token="t", httpx_client=http) as boast:
        names = [s.name async for s in boast.list_sequences()]
    assert names == ["s0", "s1", "s2"]
    assert [q["page"] for q in server.queries] == ["1", "2"]
    await http.aclose()


def test_a_list_that_pages_in_circles_stops_and_says_why() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"sequences": [], "next_cursor": "same"})

    with unify_answering(handle) as unify, pytest.raises(errors.PaginationError) as raised:
        list(unify.list_sequences())
    error = raised.value
    assert error.reason and error.reason in str(error)
    assert str(error).startswith(f"pagination stopped after {error.pages} pages: ")


def test_pages_are_fetched_lazily_and_stop_at_the_last(
    sandbox: Sandbox, boast_options: BoastOptions, token_store: Any
) -> None:
    contacts, sequence, _ = targets(sandbox)
    http, sent = counting_client()
    with BoastClient(**boast_options(sandbox, token_store, httpx_client=http)) as boast:
        for contact in contacts[:30]:
            boast.enroll(contact, sequence)
        expected = sandbox.boast.active_enrollment_count(sequence)  # ours + seeded history
        sent.clear()

        pager = boast.list_enrollments(sequence_id=sequence, status="active")
        assert sent == []  # nothing is sent before iteration
        listed = list(pager)
        pages = list(boast.list_contacts().pages())

    assert len(listed) == expected and len({e.id for e in listed}) == expected
    assert all(str(e.sequence_id) == sequence and e.status == "active" for e in listed)
    n_enrollment_pages = -(-expected // 25)
    assert [r.url.params["page"] for r in sent[:n_enrollment_pages]] == [
        str(n) for n in range(1, n_enrollment_pages + 1)
    ]
    assert sent[0].url.params["sequence_id"] == sequence
    assert len(pages) == 3000 // 25 and pages[-1].next is None
    assert len(sent) == n_enrollment_pages + len(pages)  # no probe past the last page
    assert pages[0].raw.meta.pagination.pages == len(pages)


def test_lists_of_every_kind(sandbox: Sandbox, boast: BoastClient) -> None:
    state = sandbox.boast
    accounts = list(boast.list_accounts())
    assert all(isinstance(a, Account) for a in accounts)
    assert [str(a.id) for a in accounts] == state.account_ids
    assert len(list(boast.list_sequences())) == len(state.sequences[state.account_ids[0]])
    small = boast.with_options(account_id=state.account_ids[1])
    with small:
        assert len(list(small.list_contacts())) == 50
        assert len(list(small.list_contacts().pages())) == 2


@pytest.mark.parametrize(("vendor", "answer", "item_count", "pages", "reason"), CASES)
def test_sync_pager_stops_a_server_paging_in_circles(
    vendor: str, answer: Handler, item_count: int, pages: int, reason: str
) -> None:
    server = RecordingServer(answer)
    if vendor == "unify":
        with unify_without_retries(server) as unify:
            seen, error = collect_sync(e.id for e in unify.list_enrollments())
    else:
        with boast_without_retries(server) as boast:
            seen, error = collect_sync(s.id for s in boast.list_sequences())

    assert reason in str(error)
    assert len(seen) == item_count and len(set(seen)) == len(seen)  # nothing twice
    assert len(server.requests) <= pages + 1
    assert error.pages == pages


@pytest.mark.parametrize(("vendor", "answer", "item_count", "pages", "reason"), CASES)
async def test_async_pager_stops_a_server_paging_in_circles(
    vendor: str, answer: Handler, item_count: int, pages: int, reason: str
) -> None:
    server = RecordingServer(answer)
    if vendor == "unify":
        async with async_unify_without_retries(server) as unify:
            seen, error = await collect_async(e.id async for e in unify.list_enrollments())
    else:
        async with async_boast_without_retries(server) as boast:
            seen, error = await collect_async(s.id async for s in boast.list_sequences())

    assert reason in str(error)
    assert len(seen) == item_count and len(set(seen)) == len(seen)
    assert len(server.requests) <= pages + 1
    assert error.pages == pages


def test_max_pages_caps_a_list_without_an_extra_request() -> None:
    unify_server, boast_server = RecordingServer(endless_cursors), RecordingServer(endless_pages)
    with unify_without_retries(unify_server) as unify, boast_without_retries(boast_server) as boast:
        assert unify.list_enrollments().max_pages == DEFAULT_MAX_PAGES  # the default cap
        seen, error = collect_sync(iter(unify.list_enrollments().with_max_pages(3)))
        assert len(seen) == 6 and len(unify_server.requests) == 3
        assert "max_pages=3" in str(error) and error.pages == 3
        seen, error = collect_sync(iter(boast.list_sequences().with_max_pages(4)))
        assert len({s.id for s in seen}) == 8 and len(boast_server.requests) == 4


async def test_max_pages_caps_an_async_list() -> None:
    server = RecordingServer(endless_pages)
    async with async_boast_without_retries(server) as boast:
        pages = boast.list_sequences().with_max_pages(2)
        seen, error = await collect_async(pages.__aiter__())
    assert len({s.id for s in seen}) == 4 and len(server.requests) == 2 and error.pages == 2


def test_a_well_behaved_list_is_read_to_its_end() -> None:
    def three_pages(request: httpx.Request) -> httpx.Response:
        number = page_of(request)
        return boast_page(2 * number, served=number, pages=3)

    server = RecordingServer(three_pages)
    with boast_without_retries(server) as boast:
        assert len({s.id for s in boast.list_sequences()}) == 6
    assert [page_of(r) for r in server.requests] == [1, 2, 3]


def test_a_page_served_in_place_of_another_is_refused() -> None:
    asked: list[Any] = []
    pager = SyncPager(run_fake_plan, fake_pages(served_elsewhere(), asked))
    seen, error = collect_sync(iter(pager))
    assert seen == [1, 2] and asked == [None, 2]
    assert "asked for page 2, the server sent page 1" in str(error)


async def test_async_a_page_served_in_place_of_another_is_refused() -> None:
    asked: list[Any] = []
    pager = AsyncPager(arun_fake_plan, fake_pages(served_elsewhere(), asked))
    seen, error = await collect_async(pager.__aiter__())
    assert seen == [1, 2] and asked == [None, 2] and error.pages == 1


def test_unhashable_tokens_still_catch_a_repeat() -> None:
    answers = {
        None: Page([1], raw=None, next=["a"]),
        ("a",): Page([2], raw=None, next=["a"]),
    }
    seen, error = collect_sync(iter(SyncPager(run_fake_plan, fake_pages(answers, []))))
    assert seen == [1, 2] and "repeated the cursor" in str(error)


def test_empty_pages_with_new_cursors_are_not_mistaken_for_a_loop() -> None:
    answers = {
        None: Page([], raw=None, next="b"),
        "b": Page([], raw=None, next="c"),
        "c": Page([7], raw=None),
    }
    assert list(SyncPager(run_fake_plan, fake_pages(answers, []))) == [7]


def test_boast_says_which_page_it_served_and_a_wrong_one_is_refused() -> None:
    def stuck_on_page_one(request: httpx.Request) -> httpx.Response:
        # New items each time (a list that is changing), but always "page 1 of 35".
        return boast_page(2 * len(server.requests), served=1, pages=35)

    server = RecordingServer(stuck_on_page_one)
    with boast_without_retries(server) as boast:
        seen, error = collect_sync(s.id for s in boast.list_sequences())
    assert "asked for page 2, the server sent page 1" in str(error)
    assert len(seen) == 2 and len(server.requests) == 2


def test_a_list_operation_without_a_method_is_paginated_by_cursor() -> None:
    received: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return job_pages(request)

    with unify_sync(handle) as unify:
        jobs = list(unify.paginate(list_sequence_enrollment_query_jobs.operation(limit=2)))

    assert all(isinstance(j, BulkApiJob) for j in jobs)
    assert [j.job_id for j in jobs] == [f"job-{n}" for n in range(5)]
    assert [r.url.params.get("cursor") for r in received] == [None, "c2", "c4"]
    assert {r.url.params["limit"] for r in received} == {"2"}  # the other parameters stay


async def test_the_async_twin_paginates_the_same_way() -> None:
    async with unify_async(job_pages) as unify:
        pager = unify.paginate(list_sequence_enrollment_query_jobs.operation(limit=2))
        jobs = [j async for j in pager]
    assert len(jobs) == 5


def test_boast_lists_page_by_page_number_from_meta_pagination() -> None:
    received: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return contact_pages(request)

    http = httpx.Client(transport=httpx.MockTransport(handle))
    with BoastClient(account_id=ACCOUNT_UUID, access_token="t", httpx_client=http) as boast:
        contacts = list(boast.paginate(list_contacts.operation(ACCOUNT_UUID)))

    assert [c.email for c in contacts] == [f"c{n}@acme.example" for n in range(6)]
    assert [r.url.params["page"] for r in received] == ["1", "2", "3"]
    assert {r.url.path for r in received} == {f"/v1/accounts/{ACCOUNT_UUID}/contacts"}


def test_listing_250_enrollments_takes_three_requests(sandbox: Sandbox) -> None:
    _, people, mailbox = ids(sandbox)
    # A sequence with no seeded active enrollments, so exactly our 250 are IN_PROGRESS in it.
    sequence_id = next(
        s["id"]
        for s in sandbox.unify.live_sequences()
        if sandbox.unify.active_enrollment_count(s["id"]) == 0
    )
    http, sent = counting_client()
    with UnifyClient(
        sandbox.unify_api_key, base_url=sandbox.unify_base_url, httpx_client=http
    ) as unify:
        for person in people[:250]:
            unify.enroll(sequence_id, person, mailbox_emails=[mailbox])
        sent.clear()

        listed = list(unify.list_enrollments(sequence_id=sequence_id, status=["IN_PROGRESS"]))

    assert len(listed) == 250 and len({e.id for e in listed}) == 250
    assert len(sent) == 3
    assert all(request.url.params["limit"] == "100" for request in sent)


def test_filters_and_pages(sandbox: Sandbox, unify: UnifyClient) -> None:
    sequence_id, people, mailbox = ids(sandbox)
    mine = unify.enroll(sequence_id, people[5], mailbox_emails=[mailbox])

    by_person = list(unify.list_enrollments(person_id=people[5]))
    recent = list(
        unify.list_enrollments(
            sequence_id=sequence_id, updated_after=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
        )
    )
    pages = list(unify.list_sequences(page_size=2).pages())

    assert [e.id for e in by_person] == [mine.id]
    assert mine.id in {e.id for e in recent}
    assert sum(len(p.items) for p in pages) == len(sandbox.unify.live_sequences())
    assert pages[-1].next is None and pages[0].raw.next_cursor == pages[0].next
    with pytest.raises(errors.InvalidRequestError):
        unify.list_enrollments(updated_after=dt.datetime(2026, 1, 1))  # naive datetime
    with pytest.raises(errors.InvalidRequestError):
        unify.list_enrollments(page_size=101)
