"""The typed path's guarantees for operations no hand-written method covers: retries through a
503 and a 429 with Retry-After, pagination from the response shape, the per-call deadline, and
the export job's poller. Waits go through a virtual clock: nothing here sleeps for real."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from virtual_clock import VirtualClock, drive_plans_with

from sequence_clients import (
    AsyncBoastClient,
    AsyncUnifyClient,
    BoastClient,
    RetryPolicy,
    UnifyClient,
    errors,
)
from sequence_clients.generated.boast.api.contacts import list_contacts
from sequence_clients.generated.unify.api.sequence_enrollments import (
    list_sequence_enrollment_query_jobs,
)
from sequence_clients.generated.unify.api.sequences import pause_sequence
from sequence_clients.generated.unify.models import BulkApiJob, PauseSequenceSuccessResponse
from sequence_clients.sandbox import Sandbox

FAST = RetryPolicy(base_delay=0.001, max_delay=0.01)
SEQUENCE_ID = uuid.UUID("3d1f0e2c-5b4a-4c3d-9e8f-7a6b5c4d3e2f")
ACCOUNT_ID = uuid.UUID("6a5b4c3d-2e1f-4a0b-8c9d-0e1f2a3b4c5d")
Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> VirtualClock:
    return drive_plans_with(monkeypatch, VirtualClock())


def unify_sync(handler: Handler, **options: Any) -> UnifyClient:
    http = httpx.Client(transport=httpx.MockTransport(handler))
    return UnifyClient("key", httpx_client=http, retry_policy=FAST, **options)


def unify_async(handler: Handler, **options: Any) -> AsyncUnifyClient:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return AsyncUnifyClient("key", httpx_client=http, retry_policy=FAST, **options)


def scripted(*answers: httpx.Response) -> tuple[Handler, list[httpx.Request]]:
    """A server that gives these answers in order, and the requests it received."""
    received: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return answers[len(received) - 1]

    return handle, received


def paused() -> httpx.Response:
    return httpx.Response(200, json={"id": str(SEQUENCE_ID), "is_paused": True})


def flaky_then_paused() -> tuple[Handler, list[httpx.Request]]:
    return scripted(
        httpx.Response(503, json={"status": "internal_error", "message": "try again"}),
        httpx.Response(
            429, headers={"Retry-After": "7"}, json={"status": "rate_limited", "message": "slow"}
        ),
        paused(),
    )


def test_an_operation_without_a_method_is_retried_through_503_and_429(
    clock: VirtualClock,
) -> None:
    handle, received = flaky_then_paused()
    with unify_sync(handle) as unify:
        result = unify.call(pause_sequence.operation(SEQUENCE_ID))

    assert isinstance(result, PauseSequenceSuccessResponse) and result.is_paused
    assert [r.url.path for r in received] == [f"/sequences/v1/sequences/{SEQUENCE_ID}/pause"] * 3
    assert clock.sleeps[0] <= FAST.max_delay  # back-off after the 503
    assert clock.sleeps[1] == 7.0  # the server's Retry-After, not a guess


async def test_the_async_twin_retries_an_operation_the_same_way(clock: VirtualClock) -> None:
    handle, received = flaky_then_paused()
    async with unify_async(handle) as unify:
        result = await unify.call(pause_sequence.operation(SEQUENCE_ID))

    assert result.is_paused and len(received) == 3 and clock.sleeps[1] == 7.0


def job(number: int) -> dict[str, Any]:
    return {
        "job_id": f"job-{number}", "status": "FINISHED", "total_rows": number,
        "error_code": None, "created_at": "2026-01-01T00:00:00Z",
        "expires_at": "2026-01-02T00:00:00Z", "canceled_at": None,
    }  # fmt: skip


def job_pages(request: httpx.Request) -> httpx.Response:
    """Five jobs, two a page, behind cursors c2 and c4."""
    start = {None: 0, "c2": 2, "c4": 4}[request.url.params.get("cursor")]
    following = f"c{start + 2}" if start + 2 < 5 else None
    jobs = [job(n) for n in range(start, min(start + 2, 5))]
    return httpx.Response(200, json={"jobs": jobs, "next_cursor": following})


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


def contact(number: int) -> dict[str, Any]:
    when = "2026-01-01T00:00:00Z"
    return {
        "id": str(uuid.UUID(int=number + 1)), "email": f"c{number}@acme.example",
        "created_at": when, "updated_at": when,
    }  # fmt: skip


def contact_pages(request: httpx.Request) -> httpx.Response:
    """Boast's shape: `data` and meta.pagination; three pages of two."""
    number = int(request.url.params["page"])
    meta = {"pagination": {"count": 6, "page": number, "items": 2, "pages": 3}}
    data = [contact(n) for n in range(2 * (number - 1), 2 * number)]
    return httpx.Response(200, json={"data": data, "meta": meta})


def test_boast_lists_page_by_page_number_from_meta_pagination() -> None:
    received: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return contact_pages(request)

    http = httpx.Client(transport=httpx.MockTransport(handle))
    with BoastClient(account_id=ACCOUNT_ID, access_token="t", httpx_client=http) as boast:
        contacts = list(boast.paginate(list_contacts.operation(ACCOUNT_ID)))

    assert [c.email for c in contacts] == [f"c{n}@acme.example" for n in range(6)]
    assert [r.url.params["page"] for r in received] == ["1", "2", "3"]
    assert {r.url.path for r in received} == {f"/v1/accounts/{ACCOUNT_ID}/contacts"}


@pytest.mark.parametrize("base_url", ["https://api.boast.io", "https://api.boast.io/v1/"])
async def test_boast_base_url_is_the_host_root_and_the_old_v1_form_still_works(
    base_url: str,
) -> None:
    http = httpx.AsyncClient(transport=httpx.MockTransport(contact_pages))
    async with AsyncBoastClient(
        account_id=ACCOUNT_ID, access_token="t", base_url=base_url, httpx_client=http
    ) as boast:
        contacts = [c async for c in boast.list_contacts()]
    assert len(contacts) == 6 and "base_url='https://api.boast.io'" in repr(boast)


def always_503(clock: VirtualClock, takes: float) -> tuple[Handler, list[httpx.Request]]:
    """A server that answers 503 after `takes` seconds (of the virtual clock)."""
    received: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        received.append(request)
        clock.now += takes
        return httpx.Response(503, json={"status": "internal_error", "message": "down"})

    return handle, received


def test_a_deadline_bounds_the_whole_call_retries_and_backoff_included(
    clock: VirtualClock,
) -> None:
    handle, received = always_503(clock, takes=0.4)
    unify = unify_sync(handle, max_retries=10, deadline=1.0)
    with unify, pytest.raises(errors.DeadlineExceededError) as raised:
        unify.pause_sequence(SEQUENCE_ID)

    assert len(received) == 3  # at 0, ~0.4 and ~0.8 s; the fourth would start past 1 s
    assert clock.now < 1.0 + 0.4 + FAST.max_delay
    # Each request's timeouts are cut to what is left of the deadline.
    assert received[-1].extensions["timeout"]["read"] < 0.25
    assert isinstance(raised.value, errors.APITimeoutError)
    assert "deadline of 1s" in str(raised.value) and "/pause" in str(raised.value)
    assert isinstance(raised.value.__cause__, errors.ServerError)  # what went wrong meanwhile


async def test_the_async_twin_and_with_options_take_a_deadline(clock: VirtualClock) -> None:
    handle, received = always_503(clock, takes=0.4)
    async with unify_async(handle, max_retries=10) as unify:
        bounded = unify.with_options(deadline=1.0)
        with pytest.raises(errors.DeadlineExceededError):
            await bounded.pause_sequence(SEQUENCE_ID)
        await bounded.close()
    assert len(received) == 3 and "deadline=1.0" in repr(bounded)


def test_a_retry_after_past_the_deadline_is_not_slept_through(clock: VirtualClock) -> None:
    handle, received = scripted(
        httpx.Response(429, headers={"Retry-After": "30"}, json={"status": "rate_limited"}),
        paused(),
    )
    unify = unify_sync(handle, deadline=10.0)
    with unify, pytest.raises(errors.DeadlineExceededError) as raised:
        unify.call(pause_sequence.operation(SEQUENCE_ID))
    assert clock.sleeps == [] and len(received) == 1
    assert isinstance(raised.value.__cause__, errors.RateLimitError)


def test_no_deadline_by_default_and_a_bad_one_is_refused() -> None:
    with UnifyClient("key") as unify:
        assert "deadline=None" in repr(unify)
    for wrong in (0, -1.0):
        with pytest.raises(errors.InvalidRequestError, match="deadline"):
            UnifyClient("key", deadline=wrong)
        with pytest.raises(errors.InvalidRequestError, match="deadline"):
            BoastClient(access_token="t", deadline=wrong)


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


def test_an_unknown_job_status_keeps_polling_at_growing_intervals(clock: VirtualClock) -> None:
    handle, polls = export_server(["IN_PROGRESS", "QUEUED", "QUEUED", "IN_PROGRESS", "FINISHED"])
    with unify_sync(handle) as unify:
        assert list(unify.export_enrollments(page_size=50)) == []
    assert polls == ["IN_PROGRESS", "QUEUED", "QUEUED", "IN_PROGRESS", "FINISHED"]
    assert clock.sleeps == [0.25, 0.5, 1.0, 2.0]


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


@pytest.fixture
def live_sequence(sandbox: Sandbox) -> Iterator[str]:
    yield next(s["id"] for s in sandbox.unify.live_sequences() if sandbox.unify.steps[s["id"]])


def test_named_sequence_methods_on_the_sandbox(sandbox: Sandbox, live_sequence: str) -> None:
    with UnifyClient(sandbox.unify_api_key, base_url=sandbox.unify_base_url) as unify:
        assert str(unify.get_sequence(live_sequence).id) == live_sequence
        steps = list(unify.list_sequence_steps(live_sequence, page_size=1))
        assert [str(s.id) for s in steps] == [s["id"] for s in sandbox.unify.steps[live_sequence]]
        assert unify.pause_sequence(live_sequence).is_paused is True
        with pytest.raises(errors.ConflictError):
            unify.pause_sequence(live_sequence)  # already paused
        assert unify.resume_sequence(live_sequence).is_paused is False
        assert unify.delete_sequence(live_sequence).is_deleted is True
        with pytest.raises(errors.InvalidRequestError, match="step types must be among"):
            unify.list_sequence_steps(live_sequence, types=["FAX"])


async def test_named_sequence_methods_on_the_async_twin(
    sandbox: Sandbox, live_sequence: str
) -> None:
    async with AsyncUnifyClient(sandbox.unify_api_key, base_url=sandbox.unify_base_url) as unify:
        assert str((await unify.get_sequence(live_sequence)).id) == live_sequence
        assert (await unify.pause_sequence(live_sequence)).is_paused is True
        assert (await unify.resume_sequence(live_sequence)).is_paused is False
        steps = [s async for s in unify.list_sequence_steps(live_sequence)]
        assert len(steps) == len(sandbox.unify.steps[live_sequence])
        assert (await unify.delete_sequence(live_sequence)).is_deleted is True
