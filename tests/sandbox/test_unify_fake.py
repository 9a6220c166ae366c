"""The Unify fake over real loopback HTTP with plain httpx, contract check on (see conftest)."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sequence_clients.sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[2]

MakeSandbox = Callable[..., Sandbox]

ZERO_UUID = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def sandbox(make_sandbox: MakeSandbox, fake_clock: Any) -> Sandbox:
    """The default sandbox (vendor limits, 3-second jobs) on a clock the tests move."""
    return make_sandbox(clock=fake_clock)


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=sandbox.unify_base_url + "/sequences/v1",
        headers={"x-api-key": sandbox.unify_api_key},
    ) as c:
        yield c


def enroll(
    client: httpx.Client, sb: Sandbox, person: int, sequence: int = 0, **overrides: Any
) -> httpx.Response:
    body = {
        "sequence_id": sb.unify.sequences[sequence]["id"],
        "person_id": sb.unify.people[person]["id"],
        "mailbox_emails": [sb.unify.mailboxes[0]["email"]],
    } | overrides
    return client.post("/enrollments", json=body)


def error_paths(response: httpx.Response) -> list[list[Any]]:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["status"] == "bad_request"
    return [error["path"] for error in body["errors"]]


def finished_job(
    client: httpx.Client, sb: Sandbox, kind: str, filter_: dict[str, Any] | None = None
) -> str:
    """A job created, seen IN_PROGRESS, then FINISHED once the (fake) clock passed its time."""
    body = {"filter": filter_} if filter_ is not None else None
    created = client.post(f"/{kind}/query-jobs", json=body)
    assert created.status_code == 201, created.text
    job_id: str = created.json()["job_id"]
    assert client.get(f"/{kind}/query-jobs/{job_id}").json()["status"] == "IN_PROGRESS"
    sb.config.clock.advance(sb.config.job_seconds)
    assert client.get(f"/{kind}/query-jobs/{job_id}").json()["status"] == "FINISHED"
    return job_id


# --- auth and routing --------------------------------------------------------------------
OPERATIONS = [
    ("POST", "/enrollment-steps/query-jobs"),
    ("GET", "/enrollment-steps/query-jobs"),
    ("GET", "/enrollment-steps/query-jobs/job"),
    ("POST", "/enrollment-steps/query-jobs/job/cancel"),
    ("GET", "/enrollment-steps/query-jobs/job/results"),
    ("POST", "/enrollments"),
    ("GET", "/enrollments"),
    ("POST", "/enrollments/query-jobs"),
    ("GET", "/enrollments/query-jobs"),
    ("GET", "/enrollments/query-jobs/job"),
    ("POST", "/enrollments/query-jobs/job/cancel"),
    ("GET", "/enrollments/query-jobs/job/results"),
    ("GET", f"/enrollments/{ZERO_UUID}"),
    ("DELETE", f"/enrollments/{ZERO_UUID}"),
    ("POST", f"/enrollments/{ZERO_UUID}/pause"),
    ("POST", f"/enrollments/{ZERO_UUID}/resume"),
    ("GET", "/sequences"),
    ("GET", f"/sequences/{ZERO_UUID}"),
    ("DELETE", f"/sequences/{ZERO_UUID}"),
    ("POST", f"/sequences/{ZERO_UUID}/pause"),
    ("POST", f"/sequences/{ZERO_UUID}/resume"),
    ("GET", f"/sequences/{ZERO_UUID}/steps"),
    ("GET", f"/sequences/{ZERO_UUID}/steps/{ZERO_UUID}"),
]


def test_operations_listed_here_are_the_specs_operations() -> None:
    """The 401 sweep below covers every operation of the spec, one request each."""
    spec = json.loads((ROOT / "generated" / "spec" / "unify.openapi.json").read_text())
    templates = {
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict) and "operationId" in operation
    }

    def route(method: str, path: str) -> tuple[str, str]:
        """The template a router picks: among those matching, the one with the fewest parameters."""
        found = [
            (template.count("{"), (m, template))
            for m, template in templates
            if m == method and re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", template), path)
        ]
        assert found, (method, path)
        return min(found)[1]

    routed = {route(method, "/sequences/v1" + path) for method, path in OPERATIONS}
    assert routed == templates
    assert len(OPERATIONS) == len(templates)


@pytest.mark.parametrize("key", [None, "wrong-key"])
def test_every_operation_answers_401_without_a_valid_key(sandbox: Sandbox, key: str | None) -> None:
    headers = {"x-api-key": key} if key else {}
    with httpx.Client(base_url=sandbox.unify_base_url + "/sequences/v1") as c:
        for method, path in OPERATIONS:
            response = c.request(method, path, headers=headers)
            assert response.status_code == 401, (method, path)
            assert response.json()["status"] == "unauthorized"
    assert sandbox.unify.total_created == 0


def test_unknown_route_and_method_answer_json(client: httpx.Client) -> None:
    assert client.get("/nothing-here").json()["status"] == "not_found"
    assert client.put("/sequences").status_code == 405


# --- sequences ---------------------------------------------------------------------------
def test_sequences_paginate_with_opaque_cursors(client: httpx.Client, sandbox: Sandbox) -> None:
    seen, cursor, pages = [], None, 0
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        body = client.get("/sequences", params=params).json()
        seen += [s["id"] for s in body["sequences"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
        assert not cursor.isdigit()
    assert seen == [s["id"] for s in sandbox.unify.sequences]
    assert pages == 3
    assert len(seen) >= 5


@pytest.mark.parametrize("limit", ["0", "101", "ten"])
def test_limit_outside_1_to_100_is_400(client: httpx.Client, limit: str) -> None:
    assert error_paths(client.get("/sequences", params={"limit": limit})) == [["limit"]]
    assert error_paths(client.get("/enrollments", params={"limit": limit})) == [["limit"]]


def test_bad_or_foreign_cursor_is_400(client: httpx.Client) -> None:
    assert error_paths(client.get("/sequences", params={"cursor": "garbage!"})) == [["cursor"]]
    forged = base64.urlsafe_b64encode(b'{"a": 1, "f": "other"}').decode()
    assert error_paths(client.get("/sequences", params={"cursor": forged})) == [["cursor"]]
    # A cursor issued for one filter is not valid for another.
    first = client.get("/enrollments", params={"limit": 1, "status": "FINISHED"}).json()
    reused = client.get("/enrollments", params={"cursor": first["next_cursor"]})
    assert error_paths(reused) == [["cursor"]]


def test_retrieve_sequence_and_its_errors(client: httpx.Client, sandbox: Sandbox) -> None:
    sequence = sandbox.unify.sequences[1]
    body = client.get(f"/sequences/{sequence['id']}").json()
    assert body["id"] == sequence["id"]
    assert body["owner"]["email"] and body["send_schedule"]["rules"]["time_zone"]
    assert client.get(f"/sequences/{ZERO_UUID}").status_code == 404
    assert error_paths(client.get("/sequences/not-a-uuid")) == [["id"]]


def test_pause_and_resume_sequence(client: httpx.Client, sandbox: Sandbox) -> None:
    sequence_id = sandbox.unify.sequences[0]["id"]
    paused = client.post(f"/sequences/{sequence_id}/pause")
    assert paused.json() == {"id": sequence_id, "is_paused": True}
    again = client.post(f"/sequences/{sequence_id}/pause")
    assert again.status_code == 409
    assert again.json()["status"] == "state_conflict" and again.json()["current_is_paused"]
    resumed = client.post(f"/sequences/{sequence_id}/resume")
    assert resumed.status_code == 200 and resumed.json()["is_paused"] is False
    assert resumed.json()["name"] == sandbox.unify.sequences[0]["name"]
    assert client.post(f"/sequences/{sequence_id}/resume").status_code == 409
    assert client.post(f"/sequences/{ZERO_UUID}/pause").status_code == 404


def test_deleted_sequence_disappears(client: httpx.Client, sandbox: Sandbox) -> None:
    sequence_id = sandbox.unify.sequences[2]["id"]
    assert client.delete(f"/sequences/{sequence_id}").json() == {
        "id": sequence_id,
        "is_deleted": True,
    }
    assert client.get(f"/sequences/{sequence_id}").status_code == 404
    assert client.delete(f"/sequences/{sequence_id}").status_code == 404
    listed = client.get("/sequences", params={"limit": 100}).json()["sequences"]
    assert sequence_id not in [s["id"] for s in listed]
    assert enroll(client, sandbox, person=0, sequence=2).status_code == 404


def test_sequence_steps_list_filter_and_retrieve(client: httpx.Client, sandbox: Sandbox) -> None:
    sequence_id = sandbox.unify.sequences[0]["id"]
    steps = client.get(f"/sequences/{sequence_id}/steps").json()["steps"]
    assert steps == sandbox.unify.steps[sequence_id]
    assert len(steps) >= 3
    emails = client.get(
        f"/sequences/{sequence_id}/steps", params={"type": ["AUTOMATIC_EMAIL", "MANUAL_EMAIL"]}
    ).json()["steps"]
    assert emails and {s["type"] for s in emails} <= {"AUTOMATIC_EMAIL", "MANUAL_EMAIL"}
    assert error_paths(client.get(f"/sequences/{sequence_id}/steps", params={"type": "FAX"})) == [
        ["type", 0]
    ]
    paged = client.get(f"/sequences/{sequence_id}/steps", params={"limit": 1}).json()
    assert len(paged["steps"]) == 1 and paged["next_cursor"]
    one = client.get(f"/sequences/{sequence_id}/steps/{steps[1]['id']}").json()
    assert one == steps[1]
    assert client.get(f"/sequences/{sequence_id}/steps/{ZERO_UUID}").status_code == 404
    assert client.get(f"/sequences/{ZERO_UUID}/steps").status_code == 404


# --- enrollments -------------------------------------------------------------------------
def test_create_enrollment(client: httpx.Client, sandbox: Sandbox) -> None:
    response = enroll(client, sandbox, person=0)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["person"]["id"] == sandbox.unify.people[0]["id"]
    assert body["sequence"]["id"] == sandbox.unify.sequences[0]["id"]
    assert body["mailbox"]["email"] == sandbox.unify.mailboxes[0]["email"]
    assert body["status"] == "IN_PROGRESS" and body["is_canceled"] is False
    assert sandbox.unify.total_created == 1
    assert client.get(f"/enrollments/{body['id']}").json() == body


@pytest.mark.parametrize("other_sequence", [0, 3])
def test_active_person_gets_409_in_any_sequence(
    client: httpx.Client, sandbox: Sandbox, other_sequence: int
) -> None:
    first = enroll(client, sandbox, person=5).json()
    conflict = enroll(client, sandbox, person=5, sequence=other_sequence)
    assert conflict.status_code == 409
    body = conflict.json()
    assert body["status"] == "conflict"
    assert "already enrolled in an active sequence" in body["message"]
    assert body["active_enrollment_id"] == first["id"]
    assert body["active_sequence_id"] == first["sequence"]["id"]
    assert sandbox.unify.total_created == 1
    assert sandbox.unify.duplicate_active_enrollments() == []


def test_create_enrollment_validation(client: httpx.Client, sandbox: Sandbox) -> None:
    mailbox = sandbox.unify.mailboxes[0]["email"]
    assert error_paths(enroll(client, sandbox, 0, sequence_id="nope")) == [["sequence_id"]]
    assert error_paths(enroll(client, sandbox, 0, person_id=None)) == [["person_id"]]
    assert error_paths(enroll(client, sandbox, 0, mailbox_emails=[])) == [["mailbox_emails"]]
    eleven = enroll(client, sandbox, 0, mailbox_emails=[mailbox] * 11)
    assert error_paths(eleven) == [["mailbox_emails"]]
    bad_email = enroll(client, sandbox, 0, mailbox_emails=[mailbox, "not-an-email"])
    assert error_paths(bad_email) == [["mailbox_emails", 1]]
    unknown = enroll(client, sandbox, 0, mailbox_emails=["someone@elsewhere.example.com"])
    assert error_paths(unknown) == [["mailbox_emails", 0]]
    not_json = client.post(
        "/enrollments", content=b"{", headers={"content-type": "application/json"}
    )
    assert not_json.status_code == 400
    assert sandbox.unify.total_created == 0


def test_unknown_person_or_sequence_is_404(client: httpx.Client, sandbox: Sandbox) -> None:
    for field in ("person_id", "sequence_id"):
        response = enroll(client, sandbox, 0, **{field: ZERO_UUID})
        assert response.status_code == 404
        assert response.json()["status"] == "not_found"


def test_get_enrollment_errors(client: httpx.Client) -> None:
    assert client.get(f"/enrollments/{ZERO_UUID}").status_code == 404
    assert error_paths(client.get("/enrollments/123")) == [["id"]]
    for action in ("pause", "resume"):
        assert client.post(f"/enrollments/{ZERO_UUID}/{action}").status_code == 404
    assert client.delete(f"/enrollments/{ZERO_UUID}").status_code == 404


def test_delete_cancels_and_frees_the_person(client: httpx.Client, sandbox: Sandbox) -> None:
    enrollment_id = enroll(client, sandbox, person=7).json()["id"]
    assert sandbox.unify.active_enrollment_count() == sandbox.unify.active_enrollment_count()
    active_before = sandbox.unify.active_enrollment_count()
    deleted = client.delete(f"/enrollments/{enrollment_id}")
    assert deleted.json() == {"id": enrollment_id, "is_canceled": True}
    assert client.delete(f"/enrollments/{enrollment_id}").status_code == 200  # idempotent
    body = client.get(f"/enrollments/{enrollment_id}").json()
    assert body["is_canceled"] and body["status"] == "FINISHED" and body["ended_at"]
    assert sandbox.unify.active_enrollment_count() == active_before - 1
    assert enroll(client, sandbox, person=7, sequence=1).status_code == 201
    # Only active enrollments can be paused.
    assert client.post(f"/enrollments/{enrollment_id}/pause").status_code == 400


def test_pause_and_resume_enrollment(client: httpx.Client, sandbox: Sandbox) -> None:
    enrollment_id = enroll(client, sandbox, person=8).json()["id"]
    assert client.post(f"/enrollments/{enrollment_id}/pause").json() == {
        "id": enrollment_id,
        "is_paused": True,
    }
    assert client.get(f"/enrollments/{enrollment_id}").json()["is_paused"] is True
    # A paused enrollment is still active: no second enrollment for the person.
    assert enroll(client, sandbox, person=8, sequence=1).status_code == 409
    resumed = client.post(f"/enrollments/{enrollment_id}/resume")
    assert resumed.json() == {"id": enrollment_id, "is_paused": False}


def test_list_enrollments_filters(make_sandbox: MakeSandbox, fake_clock: Any) -> None:
    clock = fake_clock
    sb = make_sandbox(clock=clock)
    state = sb.unify
    with httpx.Client(
        base_url=sb.unify_base_url + "/sequences/v1", headers={"x-api-key": sb.unify_api_key}
    ) as c:
        created = [enroll(c, sb, person=i, sequence=i % 2).json() for i in range(4)]
        clock.advance(10)
        late = enroll(c, sb, person=4, sequence=1, mailbox_emails=[state.mailboxes[1]["email"]])
        late_body = late.json()

        def ids(**params: Any) -> list[str]:
            body = c.get("/enrollments", params={"limit": 100} | params).json()
            return [e["id"] for e in body["enrollments"]]

        seq0 = state.sequences[0]["id"]
        assert {created[0]["id"], created[2]["id"]} <= set(ids(sequence_id=seq0))
        assert ids(person_id=state.people[3]["id"]) == [created[3]["id"]]
        by_mailbox = ids(mailbox_id=state.mailboxes[1]["id"])
        assert late_body["id"] in by_mailbox
        assert not {e["id"] for e in created} & set(by_mailbox)
        by_play = ids(enrolled_by_play_id=state.plays[0]["id"])
        assert by_play and not {e["id"] for e in created} & set(by_play)
        everything = ids(status=["IN_PROGRESS", "FINISHED"])
        assert len(everything) == len(ids())
        assert set(ids(status="FINISHED")).isdisjoint(e["id"] for e in created)
        # updated_after / updated_before are inclusive bounds.
        assert ids(updated_after=late_body["updated_at"]) == [late_body["id"]]
        before = ids(updated_before=created[0]["updated_at"])
        assert created[0]["id"] in before and late_body["id"] not in before
        assert error_paths(c.get("/enrollments", params={"person_id": "x"})) == [["person_id"]]
        assert error_paths(c.get("/enrollments", params={"status": "DONE"})) == [["status", 0]]
        bad_date = c.get("/enrollments", params={"updated_after": "yesterday"})
        assert error_paths(bad_date) == [["updated_after"]]


def test_list_enrollments_pages_through_everything(client: httpx.Client, sandbox: Sandbox) -> None:
    for i in range(30):
        assert enroll(client, sandbox, person=100 + i, sequence=i % 5).status_code == 201
    seen: list[str] = []
    cursor = None
    while True:
        body = client.get(
            "/enrollments", params={"limit": 7} | ({"cursor": cursor} if cursor else {})
        ).json()
        seen += [e["id"] for e in body["enrollments"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == len(sandbox.unify.enrollments)


# --- query jobs --------------------------------------------------------------------------
def test_enrollment_query_job_lifecycle(client: httpx.Client, sandbox: Sandbox) -> None:
    enroll(client, sandbox, person=0)
    created = client.post(
        "/enrollments/query-jobs", json={"filter": {"status": {"in": ["IN_PROGRESS"]}}}
    )
    job_id = created.json()["job_id"]
    assert created.json()["status"] == "IN_PROGRESS"
    not_ready = client.get(f"/enrollments/query-jobs/{job_id}/results")
    assert not_ready.status_code == 409 and not_ready.json()["status"] == "results_not_ready"
    assert client.get(f"/enrollments/query-jobs/{job_id}").json()["status"] == "IN_PROGRESS"
    sandbox.config.clock.advance(sandbox.config.job_seconds)
    finished = client.get(f"/enrollments/query-jobs/{job_id}").json()
    assert finished["status"] == "FINISHED"
    expected = sandbox.unify.active_enrollment_count()
    assert finished["total_rows"] == expected
    page1 = client.get(f"/enrollments/query-jobs/{job_id}/results", params={"page_size": 5})
    page2 = client.get(
        f"/enrollments/query-jobs/{job_id}/results", params={"page_size": 5, "page": 2}
    )
    assert page1.json()["total"] == expected and len(page1.json()["data"]) == 5
    assert {r["status"] for r in page1.json()["data"] + page2.json()["data"]} == {"IN_PROGRESS"}
    assert page1.json()["data"][0]["id"] != page2.json()["data"][0]["id"]
    listed = client.get("/enrollments/query-jobs", params={"status": "FINISHED"}).json()
    assert [j["job_id"] for j in listed["jobs"]] == [job_id]
    assert client.get("/enrollment-steps/query-jobs").json()["jobs"] == []
    not_cancelable = client.post(f"/enrollments/query-jobs/{job_id}/cancel")
    assert not_cancelable.status_code == 409
    assert not_cancelable.json()["status"] == "job_not_cancelable"


def test_cancel_query_job(client: httpx.Client) -> None:
    job_id = client.post("/enrollments/query-jobs").json()["job_id"]
    canceled = client.post(f"/enrollments/query-jobs/{job_id}/cancel")
    assert canceled.json() == {"job_id": job_id, "status": "CANCELED"}
    job = client.get(f"/enrollments/query-jobs/{job_id}").json()
    assert job["status"] == "CANCELED" and job["canceled_at"]
    results = client.get(f"/enrollments/query-jobs/{job_id}/results")
    assert results.status_code == 409 and results.json()["status"] == "results_canceled"


def test_query_job_expires_with_410(make_sandbox: MakeSandbox, fake_clock: Any) -> None:
    clock = fake_clock
    sb = make_sandbox(clock=clock, job_ttl=60)
    with httpx.Client(
        base_url=sb.unify_base_url + "/sequences/v1", headers={"x-api-key": sb.unify_api_key}
    ) as c:
        job_id = finished_job(c, sb, "enrollments")
        assert c.get(f"/enrollments/query-jobs/{job_id}/results").status_code == 200
        clock.advance(61)
        assert c.get(f"/enrollments/query-jobs/{job_id}").json()["status"] == "EXPIRED"
        gone = c.get(f"/enrollments/query-jobs/{job_id}/results")
        assert gone.status_code == 410 and gone.json()["status"] == "results_expired"


def test_query_job_not_found(client: httpx.Client) -> None:
    steps_job = client.post("/enrollment-steps/query-jobs").json()["job_id"]
    for path in (
        "/enrollments/query-jobs/nope",
        f"/enrollments/query-jobs/{steps_job}",  # a steps job is not an enrollments job
        "/enrollments/query-jobs/nope/results",
    ):
        assert client.get(path).status_code == 404, path
    assert client.post("/enrollment-steps/query-jobs/nope/cancel").status_code == 404


def test_query_job_filter_validation(client: httpx.Client) -> None:
    def create(filter_: Any) -> httpx.Response:
        return client.post("/enrollments/query-jobs", json={"filter": filter_})

    assert error_paths(create({"status": {"in": ["DONE"]}})) == [["filter", "status", "in", 0]]
    both = create({"updated_at": {"gt": "2024-01-01T00:00:00Z", "gte": "2024-01-01T00:00:00Z"}})
    assert error_paths(both) == [["filter", "updated_at"]]
    assert error_paths(create({"colour": "red"})) == [["filter"]]
    assert error_paths(create({"sequence": {"id": "x"}})) == [["filter", "sequence", "id"]]
    assert error_paths(client.get("/enrollments/query-jobs", params={"status": "DONE"})) == [
        ["status"]
    ]


def test_enrollment_job_filters_match_rows(client: httpx.Client, sandbox: Sandbox) -> None:
    person = sandbox.unify.people[0]
    enroll(client, sandbox, person=0, sequence=1)
    job_id = finished_job(
        client,
        sandbox,
        "enrollments",
        {
            "person": {"id": person["id"]},
            "company": {"id": person["company"]["id"]},
            "mailbox": {"email_address": sandbox.unify.mailboxes[0]["email"]},
            "is_canceled": False,
            "started_at": {"gte": "2020-01-01T00:00:00Z"},
        },
    )
    rows = client.get(f"/enrollments/query-jobs/{job_id}/results").json()["data"]
    assert [r["person"]["id"] for r in rows] == [person["id"]]
    none_job = finished_job(
        client, sandbox, "enrollments", {"enrolled_by_play": {"in": [ZERO_UUID]}}
    )
    assert client.get(f"/enrollments/query-jobs/{none_job}/results").json()["total"] == 0


def test_enrollment_step_jobs(client: httpx.Client, sandbox: Sandbox) -> None:
    enrollment = enroll(client, sandbox, person=0).json()
    job_id = finished_job(
        client,
        sandbox,
        "enrollment-steps",
        {"enrollment": {"id": enrollment["id"]}, "type": {"not_in": ["PHONE_CALL"]}},
    )
    results = client.get(f"/enrollment-steps/query-jobs/{job_id}/results").json()
    rows = results["data"]
    assert rows and all(r["enrollment"]["id"] == enrollment["id"] for r in rows)
    assert "PHONE_CALL" not in {r["type"] for r in rows}
    assert rows[0]["step_number"] == 1 and rows[0]["status"] == "FINISHED"
    assert rows[0]["email_message"]["from_email_address"] == enrollment["mailbox"]["email"]
    first_only = finished_job(client, sandbox, "enrollment-steps", {"step_number": 1})
    first_rows = client.get(f"/enrollment-steps/query-jobs/{first_only}/results").json()
    assert first_rows["total"] == len(sandbox.unify.enrollments)


def test_results_as_ndjson_and_page_size_limits(client: httpx.Client, sandbox: Sandbox) -> None:
    job_id = finished_job(client, sandbox, "enrollment-steps")
    url = f"/enrollment-steps/query-jobs/{job_id}/results"
    ndjson = client.get(
        url, params={"page_size": 3, "page": 2}, headers={"accept": "application/x-ndjson"}
    )
    assert ndjson.headers["content-type"].startswith("application/x-ndjson")
    assert ndjson.headers["x-page"] == "2" and ndjson.headers["x-page-size"] == "3"
    assert len(ndjson.text.splitlines()) == 3
    too_large = client.get(url, params={"page_size": 2001})
    assert too_large.status_code == 413
    assert too_large.json()["status"] == "results_page_too_large"
    big = client.get(url, params={"page_size": 2001}, headers={"accept": "application/x-ndjson"})
    assert big.status_code == 200
    assert error_paths(client.get(url, params={"page_size": 10001})) == [["page_size"]]
    assert error_paths(client.get(url, params={"page": 0})) == [["page"]]


# --- rate limit --------------------------------------------------------------------------
def test_rate_limit_answers_429_with_retry_after(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox(rate_limit="1/10s")
    with httpx.Client(
        base_url=sb.unify_base_url + "/sequences/v1", headers={"x-api-key": sb.unify_api_key}
    ) as c:
        assert c.get("/sequences").status_code == 200
        limited = c.get("/sequences")
        assert limited.status_code == 429
        assert limited.json()["status"] == "rate_limited"
        assert int(limited.headers["retry-after"]) >= 1
        # A refused request has no effect.
        assert enroll(c, sb, person=0).status_code == 429
    assert sb.unify.total_created == 0
    assert sb.stats.unify.rate_limited == 2
