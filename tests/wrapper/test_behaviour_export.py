"""Unify's bulk export and argument checks as a user meets them: how the client waits for a job,
when it gives up, and what it refuses before sending. Each test pins behaviour that mutation
testing (`make mutation`) showed no other test held. The in-process sandbox runs the jobs; a
transport in front of it holds a job IN_PROGRESS for as many polls as a test wants, and
`time.sleep` is a recorder, so the poll intervals are read exactly and cost nothing.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from waits import record_waits

from sequence_clients import AsyncUnifyClient, UnifyClient, errors
from sequence_clients.sandbox import Sandbox

MakeSandbox = Callable[..., Sandbox]


@pytest.fixture
def sandbox(make_sandbox: MakeSandbox) -> Sandbox:
    """A sandbox whose jobs are done at once: the held polls below decide how long they take.
    Tests list it before `slept`, so it starts with real sleeps."""
    return make_sandbox(job_seconds=0)


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every wait the client takes, in seconds, instead of taking it."""
    return record_waits(monkeypatch)


def _is_poll(request: httpx.Request) -> bool:
    return request.method == "GET" and request.url.path.rsplit("/", 2)[-2] == "query-jobs"


class HeldJobs:
    """A job's first `hold` polls answer IN_PROGRESS, from the sandbox's own first answer (the
    sandbox limits how often a job may be polled, and these polls take no time at all)."""

    def __init__(self, hold: int) -> None:
        self.hold, self.polls = hold, 0
        self.first: dict[str, Any] | None = None

    def answer(self, request: httpx.Request) -> httpx.Response | None:
        """The held answer, or None: ask the sandbox (then `remember` what it said)."""
        if not _is_poll(request):
            return None
        self.polls += 1
        if self.first is None or self.polls > self.hold:
            return None
        return httpx.Response(200, json={**self.first, "status": "IN_PROGRESS"})

    def remember(self, request: httpx.Request, response: httpx.Response) -> None:
        if _is_poll(request) and self.first is None:
            self.first = json.loads(response.content)


class SlowJobs(httpx.BaseTransport):
    def __init__(self, hold: int) -> None:
        self.inner, self.jobs = httpx.HTTPTransport(), HeldJobs(hold)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        held = self.jobs.answer(request)
        if held is not None:
            return held
        response = self.inner.handle_request(request)
        response.read()
        self.jobs.remember(request, response)
        if _is_poll(request) and self.jobs.polls <= self.jobs.hold:
            return httpx.Response(200, json={**(self.jobs.first or {}), "status": "IN_PROGRESS"})
        return response

    def close(self) -> None:
        self.inner.close()


class AsyncSlowJobs(httpx.AsyncBaseTransport):
    def __init__(self, hold: int) -> None:
        self.inner, self.jobs = httpx.AsyncHTTPTransport(), HeldJobs(hold)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        held = self.jobs.answer(request)
        if held is not None:
            return held
        response = await self.inner.handle_async_request(request)
        await response.aread()
        self.jobs.remember(request, response)
        if _is_poll(request) and self.jobs.polls <= self.jobs.hold:
            return httpx.Response(200, json={**(self.jobs.first or {}), "status": "IN_PROGRESS"})
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def test_an_export_polls_at_doubling_intervals_up_to_five_seconds(
    sandbox: Sandbox, slept: list[float]
) -> None:
    transport = SlowJobs(hold=7)
    http = httpx.Client(transport=transport)
    with UnifyClient(
        sandbox.unify_api_key, base_url=sandbox.unify_base_url, httpx_client=http
    ) as unify:
        rows = list(unify.export_enrollments())
    assert rows, "the sandbox seeds enrollments"
    assert slept == [0.25, 0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    assert transport.jobs.polls == 8
    http.close()


async def test_async_export_polls_at_doubling_intervals(
    sandbox: Sandbox, slept: list[float]
) -> None:
    http = httpx.AsyncClient(transport=AsyncSlowJobs(hold=3))
    async with AsyncUnifyClient(
        sandbox.unify_api_key, base_url=sandbox.unify_base_url, httpx_client=http
    ) as unify:
        rows = [row async for row in unify.export_enrollments()]
    assert rows and slept == [0.25, 0.5, 1.0]
    await http.aclose()


def test_an_export_gives_up_at_its_timeout_naming_the_job(
    sandbox: Sandbox, slept: list[float]
) -> None:
    http = httpx.Client(transport=SlowJobs(hold=100))
    unify = UnifyClient(sandbox.unify_api_key, base_url=sandbox.unify_base_url, httpx_client=http)
    with unify, pytest.raises(errors.DeadlineExceededError) as raised:
        list(unify.export_enrollments(export_timeout=1.0))
    assert slept == [0.25, 0.5, 0.25]  # the last wait is cut to what is left of the second
    message = str(raised.value)
    assert message.startswith("GET ") and "/query-jobs/" in message
    assert message.endswith(" still IN_PROGRESS after 1s (export_timeout)")
    assert raised.value.maybe_applied is False
    http.close()


def test_an_export_timeout_of_zero_checks_the_job_once(
    sandbox: Sandbox, slept: list[float]
) -> None:
    transport = SlowJobs(hold=100)
    http = httpx.Client(transport=transport)
    unify = UnifyClient(sandbox.unify_api_key, base_url=sandbox.unify_base_url, httpx_client=http)
    with unify, pytest.raises(errors.DeadlineExceededError, match="after 0s"):
        list(unify.export_enrollments(export_timeout=0))
    assert slept == [] and transport.jobs.polls == 1
    http.close()


def test_export_results_are_read_page_by_page_to_the_end(sandbox: Sandbox) -> None:
    with UnifyClient(sandbox.unify_api_key, base_url=sandbox.unify_base_url) as unify:
        everything = list(unify.export_enrollments(page_size=1000))
        size = -(-len(everything) // 3)  # three pages, the last maybe shorter
        pages = list(unify.export_enrollments(page_size=size).pages())
    rows = [row for page in pages for row in page.items]
    assert len(pages) == 3 and all(len(p.items) == size for p in pages[:-1])
    assert [r.id for r in rows] == [r.id for r in everything]
    assert pages[-1].next is None


# --- refused before sending ---------------------------------------------------------------


def never_called() -> httpx.Client:
    def handle(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"nothing should be sent, got {request.method} {request.url}")

    return httpx.Client(transport=httpx.MockTransport(handle))


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"export_timeout": -1}, "export_timeout must be seconds >= 0, got -1"),
        ({"export_timeout": "soon"}, "export_timeout must be seconds >= 0, got 'soon'"),
        (
            {"sequence_id": uuid.UUID(int=1), "filter": object()},
            "pass either sequence_id or filter, not both",
        ),
        ({"sequence_id": "seq"}, "sequence_id must be a UUID, got 'seq'"),
    ],
)
def test_export_arguments_are_checked_before_sending(
    arguments: dict[str, Any], message: str
) -> None:
    with (
        UnifyClient("key", httpx_client=never_called()) as unify,
        pytest.raises(errors.InvalidRequestError) as raised,
    ):
        unify.export_enrollments(**arguments)
    assert str(raised.value) == message


@pytest.mark.parametrize("page_size", [0, 101, 2.5])
def test_page_sizes_outside_1_to_100_are_refused(page_size: Any) -> None:
    with UnifyClient("key", httpx_client=never_called()) as unify:
        for listing in (unify.list_enrollments, unify.list_sequences):
            with pytest.raises(errors.InvalidRequestError) as raised:
                listing(page_size=page_size)
            assert str(raised.value) == f"page_size must be 1..100, got {page_size!r}"


@pytest.mark.parametrize("page_size", [1, 100])
def test_page_sizes_1_and_100_are_sent(page_size: int) -> None:
    sent: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"sequences": [], "next_cursor": None})

    with UnifyClient(
        "key", httpx_client=httpx.Client(transport=httpx.MockTransport(handle))
    ) as unify:
        list(unify.list_sequences(page_size=page_size))
    assert sent[0].url.params["limit"] == str(page_size)


def test_an_unknown_status_is_refused_naming_the_valid_ones() -> None:
    with (
        UnifyClient("key", httpx_client=never_called()) as unify,
        pytest.raises(errors.InvalidRequestError) as raised,
    ):
        unify.list_enrollments(status=["DONE"])
    assert str(raised.value) == "status must be among DRAFT, FINISHED, IN_PROGRESS; got ['DONE']"


@pytest.mark.parametrize("client", [UnifyClient, AsyncUnifyClient])
def test_an_unknown_on_conflict_is_refused(client: type[Any]) -> None:
    unify = client("key")
    with pytest.raises(errors.InvalidRequestError) as raised:
        plan = unify.enroll(
            uuid.uuid4(), uuid.uuid4(), mailbox_emails=["a@b.example"], on_conflict="skip"
        )
        if asyncio.iscoroutine(plan):
            asyncio.run(plan)
    assert str(raised.value) == "on_conflict must be 'raise' or 'return_existing', got 'skip'"


def test_an_api_key_is_required() -> None:
    with pytest.raises(
        errors.InvalidRequestError, match=r"^api_key is required \(UNIFY_API_KEY\)$"
    ):
        UnifyClient("")
