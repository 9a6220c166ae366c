"""Unify's bulk export: the job's filter and page size as asked, polling at growing intervals
up to its timeout, every results page read in turn, and a failed, unknown or stuck job a typed
error naming it."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from twin_harness import Twin, closed, every
from virtual_clock import VirtualClock
from wrapper_helpers import (
    FAST_BACKOFF,
    Handler,
    MakeSandbox,
    Wire,
    ids,
    job,
    unify_async,
    unify_sync,
)

from sequence_clients import (
    AsyncUnifyClient,
    UnifyClient,
    errors,
)
from sequence_clients.generated.unify.models import (
    BulkApiUuidFilter,
    CreateBulkApiSequenceEnrollmentsJobFilter,
)
from sequence_clients.sandbox import Sandbox


@pytest.fixture
def sandbox(make_sandbox: MakeSandbox) -> Sandbox:
    """A sandbox whose jobs are done at once: the held polls below decide how long they take.
    Tests list it before `slept`, so it starts with real sleeps."""
    return make_sandbox(job_seconds=0)


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


def refused(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"nothing should be sent, got {request.method} {request.url}")


def never_called() -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(refused))


def live_sequences_and_mailbox(sandbox: Sandbox) -> tuple[list[str], list[str], str]:
    state = sandbox.unify
    empty = [s["id"] for s in state.live_sequences() if state.active_enrollment_count(s["id"]) == 0]
    people = [p["id"] for p in state.people if state.active_enrollment_of(p["id"]) is None]
    return empty[:2], people[:6], state.mailboxes[0]["email"]


class FailingJobs(httpx.BaseTransport):
    """Loopback to the sandbox, except that every bulk job reports it has FAILED."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        is_job = request.method == "GET" and "/query-jobs/" in request.url.path
        if not is_job or request.url.path.endswith("/results"):
            return response
        job = json.loads(response.read())
        job.update(status="FAILED", error_code="QUERY_TIMEOUT")
        return httpx.Response(response.status_code, json=job)

    def close(self) -> None:
        self.inner.close()


def export_server(statuses: list[str]) -> tuple[Handler, list[str]]:
    """A Unify bulk API whose job reports `statuses` in turn (the last one from then on)."""
    polls: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.method == "POST":
            body = {"job_id": "job-1", "status": "IN_PROGRESS", "expires_at": "2026-01-02"}
            return httpx.Response(201, json=body)
        if path.endswith("/results"):
            return httpx.Response(200, json={"total": 0, "page": 1, "page_size": 50, "data": []})
        status = statuses[min(len(polls), len(statuses) - 1)]
        polls.append(status)
        failed = {"error_code": "QUERY_TIMEOUT"} if status == "FAILED" else {}
        return httpx.Response(200, json={**job(1), "job_id": "job-1", "status": status, **failed})

    return handle, polls


async def test_unify_export_sends_the_filter_and_page_size_and_reads_every_page(
    twin: Twin, make_sandbox: MakeSandbox
) -> None:
    sandbox = make_sandbox(job_seconds=0)
    state = sandbox.unify
    sequence = next(
        s["id"] for s in state.live_sequences() if state.active_enrollment_count(s["id"]) >= 3
    )
    wire = Wire()
    unify = twin.unify(
        sandbox.unify_api_key, base_url=sandbox.unify_base_url, httpx_client=twin.over(wire)
    )
    rows = await every(unify.export_enrollments(sequence_id=sequence, page_size=2))
    expected = {e.id for e in state.enrollments.values() if e.sequence_id == sequence}
    assert sorted(str(r.id) for r in rows) == sorted(expected)  # each once, none of another
    created = [r for r in wire.sent if r.method == "POST"]
    assert len(created) == 1  # one job, however many pages
    assert json.loads(created[0].content)["filter"] == {"sequence": {"id": sequence}}
    results = [r for r in wire.sent if r.url.path.endswith("/results")]
    pages = -(-len(expected) // 2)
    assert [r.url.params["page"] for r in results] == [str(n) for n in range(1, pages + 1)]
    assert {r.url.params["page_size"] for r in results} == {"2"}
    assert len({r.url.path for r in results}) == 1  # every page of the one job
    await closed(unify)
    wire.close()


async def test_unify_export_sends_a_filter_given_and_the_default_page_size(
    twin: Twin, make_sandbox: MakeSandbox
) -> None:
    sandbox = make_sandbox(job_seconds=0)
    state = sandbox.unify
    sequence = state.live_sequences()[0]["id"]
    wire = Wire()
    unify = twin.unify(
        sandbox.unify_api_key, base_url=sandbox.unify_base_url, httpx_client=twin.over(wire)
    )
    wanted = CreateBulkApiSequenceEnrollmentsJobFilter(sequence=BulkApiUuidFilter(id=sequence))
    rows = await every(unify.export_enrollments(filter=wanted))
    expected = {e.id for e in state.enrollments.values() if e.sequence_id == sequence}
    assert sorted(str(r.id) for r in rows) == sorted(expected)
    (created,) = (r for r in wire.sent if r.method == "POST")
    assert json.loads(created.content)["filter"] == {"sequence": {"id": sequence}}
    results = [r for r in wire.sent if r.url.path.endswith("/results")]
    assert [r.url.params["page_size"] for r in results] == ["1000"]
    await closed(unify)
    wire.close()


async def test_unify_export_raises_when_the_server_skips_a_page(
    twin: Twin, make_sandbox: MakeSandbox
) -> None:
    """A results endpoint off by one from page 2 on would lose rows: the export raises."""
    sandbox = make_sandbox(job_seconds=0)

    def skipping(request: httpx.Request) -> httpx.Response | None:
        page = int(request.url.params.get("page", "1"))
        if not request.url.path.endswith("/results") or page == 1:
            return None
        return wire.forward(request, request.url.copy_set_param("page", str(page + 1)))

    wire = Wire(skipping)
    unify = twin.unify(
        sandbox.unify_api_key, base_url=sandbox.unify_base_url, httpx_client=twin.over(wire)
    )
    with pytest.raises(
        errors.PaginationError, match=r"asked for page .*2\), the server sent page .*3\)"
    ):
        await every(unify.export_enrollments(page_size=1))
    await closed(unify)
    wire.close()


async def test_unify_export_gives_up_after_its_timeout(
    twin: Twin, make_sandbox: MakeSandbox
) -> None:
    sandbox = make_sandbox(job_seconds=3600)
    wire = Wire()
    unify = twin.unify(
        sandbox.unify_api_key, base_url=sandbox.unify_base_url, httpx_client=twin.over(wire)
    )
    with pytest.raises(errors.DeadlineExceededError, match=r"still .* after 0s \(export_timeout\)"):
        await every(unify.export_enrollments(export_timeout=0))
    assert [r.method for r in wire.sent] == ["POST", "GET"]
    with pytest.raises(errors.InvalidRequestError, match="export_timeout must be seconds >= 0"):
        unify.export_enrollments(export_timeout=-1)
    with pytest.raises(errors.InvalidRequestError, match="either sequence_id or filter"):
        unify.export_enrollments(sequence_id=uuid.uuid4(), filter=object())  # type: ignore[arg-type]
    await closed(unify)
    wire.close()


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
async def test_export_arguments_are_checked_before_sending(
    twin: Twin, arguments: dict[str, Any], message: str
) -> None:
    unify = twin.unify("key", httpx_client=twin.over(Wire(refused)))
    with pytest.raises(errors.InvalidRequestError) as raised:
        unify.export_enrollments(**arguments)
    assert str(raised.value).startswith(message.split(" ")[0])  # wording: tests/golden
    await closed(unify)


@pytest.mark.parametrize("page_size", [0, 101, 2.5])
def test_page_sizes_outside_1_to_100_are_refused(page_size: Any) -> None:
    with UnifyClient("key", httpx_client=never_called()) as unify:
        for listing in (unify.list_enrollments, unify.list_sequences):
            with pytest.raises(errors.InvalidRequestError) as raised:
                listing(page_size=page_size)
            assert str(raised.value).startswith("page_size ")  # wording: tests/golden


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


async def test_an_unknown_status_is_refused_naming_the_valid_ones(twin: Twin) -> None:
    unify = twin.unify("key", httpx_client=twin.over(Wire(refused)))
    with pytest.raises(errors.InvalidRequestError) as raised:
        unify.list_enrollments(status=["DONE"])
    assert str(raised.value).startswith("status ")  # wording: tests/golden
    await closed(unify)


def test_export_by_sequence_exports_that_sequence_only(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(job_seconds=0)
    (wanted, other), people, mailbox = live_sequences_and_mailbox(sandbox)
    with UnifyClient(sandbox.unify_api_key, base_url=sandbox.unify_base_url) as unify:
        for n, person in enumerate(people):
            unify.enroll(wanted if n % 2 else other, person, mailbox_emails=[mailbox])
        rows = list(unify.export_enrollments(sequence_id=wanted, page_size=2))
        everything = list(unify.export_enrollments(page_size=50))
    exported = {str(r.person.id) for r in rows}
    assert exported >= set(people[1::2]) and exported.isdisjoint(people[0::2])
    assert {str(r.sequence.id) for r in rows} == {wanted}
    assert {str(r.sequence.id) for r in everything} >= {wanted, other}


def test_a_failed_export_job_raises_bulk_job_error(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(job_seconds=0)
    http = httpx.Client(transport=FailingJobs())
    unify = UnifyClient(sandbox.unify_api_key, base_url=sandbox.unify_base_url, httpx_client=http)
    with unify, pytest.raises(errors.BulkJobError) as raised:
        list(unify.export_enrollments())
    error = raised.value
    assert error.status == "FAILED" and error.error_code == "QUERY_TIMEOUT"
    uuid.UUID(error.job_id)
    http.close()


def test_an_unknown_job_status_keeps_polling_at_growing_intervals(clock: VirtualClock) -> None:
    handle, polls = export_server(["IN_PROGRESS", "QUEUED", "QUEUED", "IN_PROGRESS", "FINISHED"])
    with unify_sync(handle) as unify:
        assert list(unify.export_enrollments(page_size=50)) == []
    assert polls == ["IN_PROGRESS", "QUEUED", "QUEUED", "IN_PROGRESS", "FINISHED"]
    assert clock.sleeps == [0.25, 0.5, 1.0, 2.0]


async def test_an_export_job_start_or_poll_answered_503_is_retried_and_finishes(
    twin: Twin, clock: VirtualClock
) -> None:
    """Starting the job and asking its status are calls like any other: a transient 503 on
    either is retried under the client's policy, and the export still finishes."""
    handle, polls = export_server(["FINISHED"])
    sent: list[str] = []

    def flaky(request: httpx.Request) -> httpx.Response:
        kind = "results" if request.url.path.endswith("/results") else request.method
        sent.append(kind)
        if kind != "results" and sent.count(kind) == 1:  # the first create, the first poll
            return httpx.Response(503, json={"status": "unavailable", "message": "try later"})
        return handle(request)

    unify = twin(flaky, max_retries=2).client
    assert await every(unify.export_enrollments(page_size=50)) == []
    assert sent == ["POST", "POST", "GET", "GET", "results"]
    assert polls == ["FINISHED"]
    await closed(unify)


@pytest.mark.parametrize("status", ["FAILED", "CANCELED", "EXPIRED"])
def test_a_documented_terminal_status_is_a_bulk_job_error(clock: VirtualClock, status: str) -> None:
    handle, polls = export_server(["QUEUED", status])
    with unify_sync(handle) as unify, pytest.raises(errors.BulkJobError) as raised:
        list(unify.export_enrollments())
    assert raised.value.status == status and raised.value.job_id == "job-1"
    assert len(polls) == 2


async def test_a_job_that_never_finishes_times_out_with_a_typed_error(
    clock: VirtualClock,
) -> None:
    handle, polls = export_server(["QUEUED"])
    async with unify_async(handle) as unify:
        with pytest.raises(errors.DeadlineExceededError, match="job-1 still QUEUED"):
            [e async for e in unify.export_enrollments(export_timeout=3)]
    assert sum(clock.sleeps) == 3.0 and clock.sleeps == [0.25, 0.5, 1.0, 1.25]
    assert len(polls) == 5


def test_export_enrollments_runs_a_bulk_job(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(job_seconds=0.0)  # polling at growing intervals: test_operations_core
    sequence_id, people, mailbox = ids(sandbox)
    # Results requests are rate-limited (a few a second): a patient client honours Retry-After.
    unify = UnifyClient(
        sandbox.unify_api_key, base_url=sandbox.unify_base_url, retry_policy=FAST_BACKOFF
    )
    with unify:
        for person in people[:30]:
            unify.enroll(sequence_id, person, mailbox_emails=[mailbox])
        rows = list(unify.export_enrollments(sequence_id=sequence_id, page_size=7))

    assert {r.person.id for r in rows} >= set(people[:30])
    assert all(r.sequence.id == sequence_id for r in rows)
