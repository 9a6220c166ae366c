"""What the vendors document about limits, job timing, enrollment rules and OAuth, and what the
sandbox decides where they are silent (wrapper/sequence_clients/sandbox/ASSUMPTIONS.md names
these tests). Contract check on (see conftest); clocks are fake wherever time matters.
"""

from __future__ import annotations

import base64
import itertools
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from sequence_clients import UnifyClient, _clock
from sequence_clients.errors import BulkJobError
from sequence_clients.sandbox import Sandbox
from sequence_clients.sandbox.limits import (
    JOBS_PER_DAY,
    RESULTS_PER_SECOND,
    STATUS_PER_SECOND,
    UNIFY_LIMIT,
    RateLimit,
)

MakeSandbox = Callable[..., Sandbox]
REDIRECT = "https://client.example/callback"
ASSUMPTIONS = Path(__file__).parents[2] / "wrapper/sequence_clients/sandbox/ASSUMPTIONS.md"


# Generous: the contract check validates every exchange on the server thread, and on a busy
# machine the first validation (building the validators) alone can take seconds.
TIMEOUT = 30.0


def unify_client(sb: Sandbox, key: str | None = None) -> httpx.Client:
    return httpx.Client(
        base_url=sb.unify_base_url + "/sequences/v1",
        headers={"x-api-key": key or sb.unify_api_key},
        timeout=TIMEOUT,
    )


def enroll(c: httpx.Client, sb: Sandbox, person: int, sequence: int) -> httpx.Response:
    body = {
        "sequence_id": sb.unify.sequences[sequence]["id"],
        "person_id": sb.unify.people[person]["id"],
        "mailbox_emails": [sb.unify.mailboxes[0]["email"]],
    }
    return c.post("/enrollments", json=body)


def boast_api(sb: Sandbox) -> httpx.Client:
    token = sb.boast.issue_token().access_token
    account = sb.boast.account_ids[0]
    return httpx.Client(
        base_url=f"{sb.base_url}/boast/v1/accounts/{account}",
        headers={"authorization": f"Bearer {token}"},
        timeout=TIMEOUT,
    )


# --- rate limits -------------------------------------------------------------------------
def test_default_limits_are_the_vendors_published_ones(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox()
    assert sb.config.rate_limit == "vendor"
    published = (UNIFY_LIMIT, JOBS_PER_DAY, STATUS_PER_SECOND, RESULTS_PER_SECOND)
    assert published == tuple(
        RateLimit(*pair) for pair in ((100_000, 300.0), (100, 86_400.0), (10, 1.0), (5, 1.0))
    )
    assert sb.app.unify_mw.limits is not None
    # Boast publishes no limit: nothing is limited there by default.
    assert sb.app.boast_mw.limits is None
    with boast_api(sb) as c:
        assert {c.get("/contacts").status_code for _ in range(30)} == {200}


def test_the_101st_request_in_a_window_gets_429_until_the_window_ends(
    make_sandbox: MakeSandbox, fake_clock: Any
) -> None:
    # Unify's model (a fixed window per key) scaled down to 100 requests per 5 seconds.
    sb = make_sandbox(rate_limit="100/5s", clock=fake_clock)
    with unify_client(sb) as c:
        assert {c.get("/sequences").status_code for _ in range(100)} == {200}
        fake_clock.advance(2)
        refused = c.get("/sequences")
        assert refused.status_code == 429
        assert refused.json() == {"status": "rate_limited", "message": "Too many requests"}
        assert refused.headers["retry-after"] == "3"  # the window opened 2 s ago
        fake_clock.advance(2.5)
        assert c.get("/sequences").status_code == 429  # still the same window
        fake_clock.advance(0.5)
        assert c.get("/sequences").status_code == 200  # a new window
    assert sb.stats.unify.rate_limited == 2


def test_each_key_has_its_own_window(make_sandbox: MakeSandbox, fake_clock: Any) -> None:
    sb = make_sandbox(rate_limit="2/10s", clock=fake_clock)
    second_key = "sandbox_unify_second_key"
    sb.unify.api_keys.append(second_key)
    with unify_client(sb) as first, unify_client(sb, second_key) as second:
        assert [first.get("/sequences").status_code for _ in range(3)] == [200, 200, 429]
        assert [second.get("/sequences").status_code for _ in range(2)] == [200, 200]


def test_rate_limit_off_limits_nothing(make_sandbox: MakeSandbox, fake_clock: Any) -> None:
    sb = make_sandbox(rate_limit=None, clock=fake_clock)
    assert sb.app.unify_mw.limits is None and sb.app.boast_mw.limits is None
    with unify_client(sb) as c:
        job = c.post("/enrollments/query-jobs").json()["job_id"]
        polls = {c.get(f"/enrollments/query-jobs/{job}").status_code for _ in range(30)}
        assert polls == {200}


def test_a_burst_of_job_creations_past_the_daily_quota_gets_429(
    make_sandbox: MakeSandbox, fake_clock: Any
) -> None:
    sb = make_sandbox(clock=fake_clock)
    with unify_client(sb) as c:
        for n in range(JOBS_PER_DAY.requests):
            kind = "enrollments" if n % 2 else "enrollment-steps"  # one quota for both kinds
            assert c.post(f"/{kind}/query-jobs").status_code == 201
        fake_clock.advance(3600)
        refused = c.post("/enrollments/query-jobs")
        assert refused.status_code == 429
        assert refused.json() == {
            "status": "rate_limited",
            "message": "Daily query job quota exceeded",
        }
        assert refused.headers["retry-after"] == str(86_400 - 3600)
        assert len(sb.unify.jobs) == JOBS_PER_DAY.requests  # the refused one was not created
        assert c.get("/sequences").status_code == 200  # other calls are not held back
        fake_clock.advance(86_400 - 3600)
        assert c.post("/enrollments/query-jobs").status_code == 201


def test_status_and_results_requests_are_limited_per_second(
    make_sandbox: MakeSandbox, fake_clock: Any
) -> None:
    sb = make_sandbox(clock=fake_clock, job_seconds=0)
    with unify_client(sb) as c:
        job = c.post("/enrollments/query-jobs").json()["job_id"]
        status = [c.get(f"/enrollments/query-jobs/{job}") for _ in range(11)]
        assert [r.status_code for r in status] == [200] * 10 + [429]
        assert status[-1].json()["message"] == "Too many job status requests"
        assert status[-1].headers["retry-after"] == "1"
        results = [c.get(f"/enrollments/query-jobs/{job}/results") for _ in range(6)]
        assert [r.status_code for r in results] == [200] * 5 + [429]
        assert results[-1].json()["message"] == "Too many results requests"
        fake_clock.advance(1)
        assert c.get(f"/enrollments/query-jobs/{job}").status_code == 200
        assert c.get(f"/enrollments/query-jobs/{job}/results").status_code == 200


# --- query jobs that take time -------------------------------------------------------------
def test_a_job_runs_for_job_seconds_of_the_sandbox_clock(
    make_sandbox: MakeSandbox, fake_clock: Any
) -> None:
    sb = make_sandbox(clock=fake_clock, job_seconds=4)
    with unify_client(sb) as c:
        job = c.post("/enrollments/query-jobs").json()["job_id"]
        for _ in range(3):  # polling does not hurry it
            assert c.get(f"/enrollments/query-jobs/{job}").json()["status"] == "IN_PROGRESS"
        fake_clock.advance(3.9)
        assert c.get(f"/enrollments/query-jobs/{job}").json()["total_rows"] is None
        fake_clock.advance(0.1)
        done = c.get(f"/enrollments/query-jobs/{job}").json()
        assert done["status"] == "FINISHED" and done["total_rows"] == len(sb.unify.enrollments)


def test_failed_jobs_follow_the_failure_rate_and_have_no_results(
    make_sandbox: MakeSandbox, fake_clock: Any
) -> None:
    # No limits: forty status requests in a (fake) second are past the Bulk quota.
    sb = make_sandbox(clock=fake_clock, job_failure_rate=0.5, seed=1, rate_limit=None)
    with unify_client(sb) as c:
        jobs = [c.post("/enrollments/query-jobs").json()["job_id"] for _ in range(40)]
        fake_clock.advance(sb.config.job_seconds)
        outcomes = [c.get(f"/enrollments/query-jobs/{job}").json() for job in jobs]
        failed = [job for job in outcomes if job["status"] == "FAILED"]
        assert {job["status"] for job in outcomes} == {"FAILED", "FINISHED"}
        assert 10 <= len(failed) <= 30  # about half; the seed fixes which
        assert {job["error_code"] for job in failed} == {"query_failed"}
        answer = c.get(f"/enrollments/query-jobs/{failed[0]['job_id']}/results")
        assert answer.status_code == 409
        assert answer.json()["status"] == "results_failed"
    same_seed = make_sandbox(clock=fake_clock, job_failure_rate=0.5, seed=1, rate_limit=None)
    with unify_client(same_seed) as c:
        jobs = [c.post("/enrollments/query-jobs").json()["job_id"] for _ in range(40)]
    assert [j.fails for j in same_seed.unify.jobs.values()] == [
        j.fails for j in sb.unify.jobs.values()
    ]


def test_job_results_are_the_data_as_of_creation(
    make_sandbox: MakeSandbox, fake_clock: Any
) -> None:
    sb = make_sandbox(clock=fake_clock)
    with unify_client(sb) as c:
        job = c.post("/enrollments/query-jobs").json()["job_id"]
        before = len(sb.unify.enrollments)
        assert enroll(c, sb, 0, 1).status_code == 201  # while the job runs
        fake_clock.advance(sb.config.job_seconds)
        assert c.get(f"/enrollments/query-jobs/{job}").json()["total_rows"] == before


def test_unify_default_page_sizes(make_sandbox: MakeSandbox, fake_clock: Any) -> None:
    sb = make_sandbox(clock=fake_clock, job_seconds=0)
    with unify_client(sb) as c:
        listed = c.get("/enrollments").json()
        assert len(listed["enrollments"]) == 25 and listed["next_cursor"]
        job = c.post("/enrollments/query-jobs").json()["job_id"]
        c.get(f"/enrollments/query-jobs/{job}")
        results = c.get(f"/enrollments/query-jobs/{job}/results").json()
        assert results["page_size"] == 100 and results["page"] == 1


def test_results_of_canceled_and_expired_jobs(make_sandbox: MakeSandbox, fake_clock: Any) -> None:
    sb = make_sandbox(clock=fake_clock)
    with unify_client(sb) as c:
        canceled = c.post("/enrollments/query-jobs").json()["job_id"]
        assert c.post(f"/enrollments/query-jobs/{canceled}/cancel").status_code == 200
        answer = c.get(f"/enrollments/query-jobs/{canceled}/results")
        assert (answer.status_code, answer.json()["status"]) == (409, "results_canceled")
        fake_clock.advance(sb.config.job_ttl)
        expired = c.get(f"/enrollments/query-jobs/{canceled}/results")
        assert (expired.status_code, expired.json()["status"]) == (410, "results_expired")


class _RealClockWithFakeSleep(_clock.RealClock):
    """The request path's clock, with sleeps that move the sandbox's clock instead."""

    def __init__(self, sleep: Callable[[float], None]) -> None:
        self._fake_sleep = sleep

    def sleep(self, seconds: float) -> None:
        self._fake_sleep(seconds)


def _export(
    sb: Sandbox, fake_clock: Any, monkeypatch: pytest.MonkeyPatch
) -> tuple[list[Any], list[float]]:
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        fake_clock.advance(seconds)

    monkeypatch.setattr(_clock, "_current", _RealClockWithFakeSleep(sleep))
    with UnifyClient(sb.unify_api_key, base_url=sb.unify_base_url, max_retries=0) as unify:
        return list(unify.export_enrollments()), slept


def test_an_export_against_the_default_sandbox_polls_with_growing_intervals(
    make_sandbox: MakeSandbox, fake_clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    sb = make_sandbox(clock=fake_clock)
    rows, slept = _export(sb, fake_clock, monkeypatch)
    assert len(rows) == len(sb.unify.enrollments)
    assert len(slept) >= 2, "the job was polled more than once"
    assert all(later >= earlier for earlier, later in itertools.pairwise(slept))
    assert slept[-1] > slept[0], "the intervals grew"
    assert sum(slept) >= sb.config.job_seconds


def test_an_export_whose_job_fails_raises_bulk_job_error(
    make_sandbox: MakeSandbox, fake_clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    sb = make_sandbox(clock=fake_clock, job_failure_rate=1.0)
    with pytest.raises(BulkJobError) as raised:
        _export(sb, fake_clock, monkeypatch)
    assert raised.value.status == "FAILED" and raised.value.error_code == "query_failed"


# --- enrollment rules ------------------------------------------------------------------------
def _with_rules(
    sb: Sandbox, allow: bool, block: int | None = None, units: str | None = None
) -> int:
    """Index of a sequence with no active enrollments carrying the given re-enrollment rules."""
    for i, sequence in enumerate(sb.unify.sequences):
        rules = sequence["sequence_ruleset"]
        if (
            sb.unify.active_enrollment_count(sequence["id"]) == 0
            and rules["allow_same_sequence_reenrollment"] is allow
            and rules["block_reenrollment_value"] == block
            and rules["block_reenrollment_units"] == units
        ):
            return i
    raise AssertionError("the seed has no such sequence")


def test_reenrollment_follows_each_sequences_ruleset(
    make_sandbox: MakeSandbox, fake_clock: Any
) -> None:
    sb = make_sandbox(clock=fake_clock)
    refusing = _with_rules(sb, allow=False)
    allowing = _with_rules(sb, allow=True)
    with unify_client(sb) as c:
        for person, sequence in ((0, refusing), (1, allowing)):
            first = enroll(c, sb, person, sequence).json()
            assert c.delete(f"/enrollments/{first['id']}").status_code == 200
        refused = enroll(c, sb, 0, refusing)
        assert refused.status_code == 400
        assert [e["code"] for e in refused.json()["errors"]] == ["reenrollment_not_allowed"]
        assert refused.json()["errors"][0]["path"] == ["person_id"]
        assert enroll(c, sb, 1, allowing).status_code == 201
        # Another sequence is not this one: the refusal is per sequence.
        assert enroll(c, sb, 0, allowing).status_code == 201


def test_reenrollment_waits_out_the_block_window(
    make_sandbox: MakeSandbox, fake_clock: Any
) -> None:
    sb = make_sandbox(clock=fake_clock)
    blocking = _with_rules(sb, allow=True, block=1, units="DAY")
    with unify_client(sb) as c:
        first = enroll(c, sb, 0, blocking).json()
        c.delete(f"/enrollments/{first['id']}")
        fake_clock.advance(86_400 - 1)
        assert enroll(c, sb, 0, blocking).status_code == 400
        fake_clock.advance(1)
        assert enroll(c, sb, 0, blocking).status_code == 201


def test_a_paused_sequence_takes_enrollments(make_sandbox: MakeSandbox, fake_clock: Any) -> None:
    sb = make_sandbox(clock=fake_clock)
    sequence = _with_rules(sb, allow=True)
    with unify_client(sb) as c:
        assert c.post(f"/sequences/{sb.unify.sequences[sequence]['id']}/pause").status_code == 200
        created = enroll(c, sb, 0, sequence)
        assert created.status_code == 201
        assert created.json()["sequence"]["is_paused"] is True
        assert created.json()["is_paused"] is False and created.json()["status"] == "IN_PROGRESS"


def test_repeated_delete_and_pause_change_nothing(
    make_sandbox: MakeSandbox, fake_clock: Any
) -> None:
    sb = make_sandbox(clock=fake_clock)
    with unify_client(sb) as c:
        created = enroll(c, sb, 0, _with_rules(sb, allow=True)).json()
        url = f"/enrollments/{created['id']}"
        assert c.post(url + "/pause").json() == {"id": created["id"], "is_paused": True}
        paused = c.get(url).json()
        fake_clock.advance(5)
        paused_again = c.post(url + "/pause")
        assert paused_again.json() == {"id": created["id"], "is_paused": True}
        assert c.get(url).json() == paused  # no new updated_at for a change that was none
        assert c.delete(url).json() == {"id": created["id"], "is_canceled": True}
        ended = c.get(url).json()
        fake_clock.advance(60)
        assert c.delete(url).json() == {"id": created["id"], "is_canceled": True}
        assert c.get(url).json() == ended  # ended_at, updated_at untouched
        assert c.post(url + "/pause").status_code == 400  # a canceled one cannot be paused


def test_delete_of_an_enrollment_that_finished_on_its_own_is_refused(
    make_sandbox: MakeSandbox, fake_clock: Any
) -> None:
    sb = make_sandbox(clock=fake_clock)
    finished = next(
        e for e in sb.unify.enrollments.values() if e.status == "FINISHED" and not e.is_canceled
    )
    with unify_client(sb) as c:
        before = c.get(f"/enrollments/{finished.id}").json()
        refused = c.delete(f"/enrollments/{finished.id}")
        assert refused.status_code == 400 and refused.json()["status"] == "bad_request"
        assert c.get(f"/enrollments/{finished.id}").json() == before


def test_pausing_a_paused_sequence_is_a_state_conflict(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox()
    with unify_client(sb) as c:
        url = f"/sequences/{sb.unify.sequences[1]['id']}/pause"
        assert c.post(url).status_code == 200
        again = c.post(url)
        assert again.status_code == 409
        assert again.json()["status"] == "state_conflict"
        assert again.json()["current_is_paused"] is True


# --- Boast enrollment rules ------------------------------------------------------------------
def _boast_ids(sb: Sandbox) -> tuple[str, str, str]:
    state = sb.boast
    account = state.account_ids[0]
    return state.contacts[account][0]["id"], state.active_sequences(account)[0]["id"], account


def test_boast_refuses_a_second_active_enrollment_but_allows_one_after_removal(
    make_sandbox: MakeSandbox,
) -> None:
    sb = make_sandbox()
    contact, sequence, _ = _boast_ids(sb)
    body = {"contact_id": contact, "sequence_id": sequence}
    with boast_api(sb) as c:
        first = c.post("/sequence_enrollments", json=body)
        assert first.status_code == 201
        duplicate = c.post("/sequence_enrollments", json=body).json()["errors"][0]
        assert (duplicate["code"], duplicate["source"]) == (
            "already_enrolled",
            {"pointer": "/contact_id"},
        )
        removed = c.delete(f"/sequence_enrollments/{first.json()['data']['id']}")
        assert removed.json()["data"]["status"] == "removed"
        again = c.delete(f"/sequence_enrollments/{first.json()['data']['id']}")
        assert (again.status_code, again.json()["errors"][0]["code"]) == (422, "not_active")
        assert c.post("/sequence_enrollments", json=body).status_code == 201


def test_boast_unknown_contact_or_sequence_is_404_with_a_pointer(
    make_sandbox: MakeSandbox,
) -> None:
    sb = make_sandbox()
    contact, sequence, account = _boast_ids(sb)
    unknown = "00000000-0000-4000-8000-000000000000"
    inactive = next(s for s in sb.boast.sequences[account] if s["status"] != "active")["id"]
    with boast_api(sb) as c:
        for body, pointer in (
            ({"contact_id": unknown, "sequence_id": sequence}, "/contact_id"),
            ({"contact_id": contact, "sequence_id": unknown}, "/sequence_id"),
        ):
            answer = c.post("/sequence_enrollments", json=body)
            assert answer.status_code == 404
            assert answer.json()["errors"][0]["source"] == {"pointer": pointer}
        paused = c.post(
            "/sequence_enrollments", json={"contact_id": contact, "sequence_id": inactive}
        )
        assert paused.status_code == 422
        assert paused.json()["errors"][0]["code"] == "sequence_not_active"


def test_boast_pages_hold_25(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox()
    with boast_api(sb) as c:
        page = c.get("/contacts").json()
        assert len(page["data"]) == 25 and page["meta"]["pagination"]["items"] == 25


def test_old_access_token_works_after_a_refresh_until_it_expires(
    make_sandbox: MakeSandbox, fake_clock: Any
) -> None:
    sb = make_sandbox(clock=fake_clock, token_ttl=600)
    old = sb.boast.issue_token()
    account = sb.boast.account_ids[0]
    fresh = token_request(
        sb, data={"grant_type": "refresh_token", "refresh_token": old.refresh_token}
    )
    assert fresh.status_code == 200
    url = f"{sb.base_url}/boast/v1/accounts/{account}"
    bearer = {"authorization": f"Bearer {old.access_token}"}
    assert httpx.get(url, headers=bearer).status_code == 200
    fake_clock.advance(600)
    assert httpx.get(url, headers=bearer).status_code == 401
    reused = token_request(
        sb, data={"grant_type": "refresh_token", "refresh_token": old.refresh_token}
    )
    assert (reused.status_code, reused.json()["error"]) == (400, "invalid_grant")


# --- RFC 6749 ----------------------------------------------------------------------------------
def token_request(
    sb: Sandbox,
    *,
    data: dict[str, str],
    basic: tuple[str, str] | None = None,
    form_credentials: bool = True,
) -> httpx.Response:
    form = dict(data)
    headers = {}
    if basic is not None:
        pair = f"{basic[0]}:{basic[1]}".encode()
        headers["authorization"] = "Basic " + base64.b64encode(pair).decode()
    if form_credentials:
        form |= {"client_id": sb.boast.client_id, "client_secret": sb.boast.client_secret}
    return httpx.post(sb.boast_auth_base_url + "/oauth/token", data=form, headers=headers)


def test_client_authentication_by_basic_or_by_form_fields(make_sandbox: MakeSandbox) -> None:
    # The contract check is on: spec/boast's TokenRequest requires neither client_id nor
    # client_secret in the form, so a Basic-authenticated request is one the spec describes (B11).
    sb = make_sandbox()
    credentials = (sb.boast.client_id, sb.boast.client_secret)

    def grant() -> dict[str, str]:
        code = sb.boast.mint_authorization_code(REDIRECT)
        return {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}

    assert token_request(sb, data=grant()).status_code == 200
    by_basic = token_request(sb, data=grant(), basic=credentials, form_credentials=False)
    assert by_basic.status_code == 200 and by_basic.json()["token_type"] == "Bearer"
    wrong = token_request(sb, data=grant(), basic=(credentials[0], "wrong"), form_credentials=False)
    assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_client")
    assert wrong.headers["www-authenticate"].startswith("Basic")
    both = token_request(sb, data=grant(), basic=credentials)
    assert (both.status_code, both.json()["error"]) == (400, "invalid_request")


def _authorize(sb: Sandbox, **params: str) -> httpx.Response:
    query = {"client_id": sb.boast.client_id, "redirect_uri": REDIRECT, "state": "xyz"} | params
    return httpx.get(sb.boast_auth_base_url + "/oauth/authorize", params=query)


def test_authorize_errors_redirect_when_the_redirect_uri_is_valid(
    make_sandbox: MakeSandbox,
) -> None:
    sb = make_sandbox()
    for params, error in (
        ({}, "invalid_request"),  # no response_type
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"response_type": "code", "scope": "admin"}, "invalid_scope"),
    ):
        answer = _authorize(sb, **params)
        assert answer.status_code == 302, params
        location = urlsplit(answer.headers["location"])
        assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
        query = parse_qs(location.query)
        assert query["error"] == [error] and query["state"] == ["xyz"]
        assert "code" not in query
    granted = parse_qs(urlsplit(_authorize(sb, response_type="code").headers["location"]).query)
    assert "code" in granted and "error" not in granted


def test_authorize_errors_without_a_usable_redirect_are_not_redirected(
    make_sandbox: MakeSandbox,
) -> None:
    sb = make_sandbox()
    unknown_client = _authorize(sb, client_id="nobody", response_type="code")
    assert unknown_client.status_code == 401 and unknown_client.json()["error"] == "invalid_client"
    no_redirect = httpx.get(
        sb.boast_auth_base_url + "/oauth/authorize",
        params={"client_id": sb.boast.client_id, "response_type": "code"},
    )
    assert no_redirect.status_code == 400 and no_redirect.json()["error"] == "invalid_request"


# --- the assumptions table -----------------------------------------------------------------
def test_every_assumption_names_a_test_that_exists() -> None:
    rows = [
        line
        for line in ASSUMPTIONS.read_text().splitlines()
        if re.match(r"\|\s*[A-Z]\d+\s*\|", line)
    ]
    assert rows, "the table has entries"
    defined = {
        name
        for path in Path(__file__).parents[1].rglob("test_*.py")
        for name in re.findall(r"^(?:async )?def (test_\w+)", path.read_text(), re.M)
    }
    for row in rows:
        named = re.findall(r"`(test_\w+)`", row)
        assert named, f"no test named in: {row}"
        missing = [name for name in named if name not in defined]
        assert not missing, f"{missing} do not exist (row: {row[:60]}…)"
