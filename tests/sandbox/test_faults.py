"""Fault injection, rate limiting, latency and determinism, observed with plain httpx."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from sequence_clients.sandbox import FaultConfig, Sandbox, SandboxConfig
from sequence_clients.sandbox.core import FaultMiddleware
from sequence_clients.sandbox.unify_state import UnifyState

MakeSandbox = Callable[..., Sandbox]
# What a dropped connection may look like to httpx, depending on timing and platform.
CONNECTION_ERRORS = (httpx.RemoteProtocolError, httpx.ConnectError, httpx.ReadError)


def unify_client(sb: Sandbox, timeout: float = 5.0) -> httpx.Client:
    return httpx.Client(
        base_url=sb.unify_base_url + "/sequences/v1",
        headers={"x-api-key": sb.unify_api_key},
        timeout=timeout,
    )


def enrollment_body(sb: Sandbox, person: int = 0) -> dict[str, Any]:
    return {
        "sequence_id": sb.unify.sequences[0]["id"],
        "person_id": sb.unify.people[person]["id"],
        "mailbox_emails": [sb.unify.mailboxes[0]["email"]],
    }


def only(kind: str, **extra: Any) -> dict[str, Any]:
    return {kind: 1.0} | extra


def test_reset_before_drops_the_connection_without_applying(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox(faults=only("reset_before"))
    with unify_client(sb) as c, pytest.raises(CONNECTION_ERRORS):
        c.post("/enrollments", json=enrollment_body(sb))
    assert sb.unify.total_created == 0
    assert sb.stats.unify.faults["reset_before"] == 1


def test_reset_after_commit_drops_the_connection_after_applying(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox(faults=only("reset_after_commit"))
    with unify_client(sb) as c, pytest.raises(CONNECTION_ERRORS):
        c.post("/enrollments", json=enrollment_body(sb, person=3))
    # The ambiguous case: the client saw an error, yet the enrollment exists.
    assert sb.unify.total_created == 1
    active = sb.unify.active_enrollment_of(sb.unify.people[3]["id"])
    assert active is not None and active.sequence_id == sb.unify.sequences[0]["id"]


def test_retry_after_an_ambiguous_reset_sees_the_409(make_sandbox: MakeSandbox) -> None:
    # One fault, then none: a retrying client learns its first attempt went through.
    sb = make_sandbox(faults=only("reset_after_commit"))
    with unify_client(sb) as c:
        with pytest.raises(CONNECTION_ERRORS):
            c.post("/enrollments", json=enrollment_body(sb))
        sb.set_faults(FaultConfig())
        retry = c.post("/enrollments", json=enrollment_body(sb))
    assert retry.status_code == 409
    created = sb.unify.active_enrollment_of(sb.unify.people[0]["id"])
    assert created is not None and retry.json()["active_enrollment_id"] == created.id
    assert sb.unify.duplicate_active_enrollments() == []


def test_slow_response_times_out_the_client_but_applies(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox(faults=only("slow", slow_seconds=1.0))
    started = time.monotonic()
    with unify_client(sb, timeout=0.2) as c, pytest.raises(httpx.ReadTimeout):
        c.post("/enrollments", json=enrollment_body(sb))
    assert time.monotonic() - started < 0.9
    assert sb.unify.total_created == 1


def test_slow_response_arrives_for_a_patient_client(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox(faults=only("slow", slow_seconds=0.3))
    started = time.monotonic()
    with unify_client(sb) as c:
        assert c.get("/sequences").status_code == 200
    assert time.monotonic() - started >= 0.3


def test_html_502_is_an_nginx_page(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox(faults=only("html_502"))
    with unify_client(sb) as c:
        response = c.post("/enrollments", json=enrollment_body(sb))
    assert response.status_code == 502
    assert response.headers["content-type"].startswith("text/html")
    assert "502 Bad Gateway" in response.text
    with pytest.raises(json.JSONDecodeError):
        response.json()
    assert sb.unify.total_created == 0


def test_truncated_json_is_unparseable_but_applied(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox(faults=only("truncated_json"))
    with unify_client(sb) as c:
        response = c.post("/enrollments", json=enrollment_body(sb))
    assert response.status_code == 201
    assert response.text.startswith('{"id":')
    with pytest.raises(json.JSONDecodeError):
        response.json()
    assert sb.unify.total_created == 1


def test_server_errors_use_the_vendor_error_shape(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox(faults=only("server_error"))
    statuses = set()
    with unify_client(sb) as c:
        for _ in range(20):
            response = c.post("/enrollments", json=enrollment_body(sb))
            statuses.add(response.status_code)
            assert response.json()["status"] == "error"
    assert statuses <= {500, 502, 503} and len(statuses) > 1
    assert sb.unify.total_created == 0


def test_429_bursts_last_burst_length_requests(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox(faults={"rate_limit_burst": 0.15, "burst_length": 4}, seed=3)
    statuses = []
    # Patient: the contract check's first validation holds the server thread for seconds.
    with unify_client(sb, timeout=30) as c:
        for _ in range(80):
            response = c.get("/sequences")
            statuses.append(response.status_code)
            if response.status_code == 429:
                assert response.headers["retry-after"] == "1"
                assert response.json()["status"] == "rate_limited"
    runs = "".join("x" if s == 429 else "." for s in statuses).split(".")
    bursts = [len(run) for run in runs if run]
    assert bursts and all(length >= 4 for length in bursts)
    assert sb.stats.unify.faults["rate_limit_burst"] == statuses.count(429)


def test_fixed_window_answers_its_requests_then_429_until_the_window_ends(
    make_sandbox: MakeSandbox, fake_clock: Any
) -> None:
    sb = make_sandbox(rate_limit="5/10s", clock=fake_clock)
    with unify_client(sb, timeout=30) as c:
        assert [c.get("/sequences").status_code for _ in range(5)] == [200] * 5
        fake_clock.advance(4)
        limited = c.get("/sequences")
        assert limited.status_code == 429
        assert limited.headers["retry-after"] == "6"  # the window opened 4 s ago
        fake_clock.advance(6)
        assert c.get("/sequences").status_code == 200


def test_latency_is_added_without_serialising_requests(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox(latency=0.25)

    async def fire() -> tuple[list[int], float]:
        async with httpx.AsyncClient(
            base_url=sb.unify_base_url + "/sequences/v1",
            headers={"x-api-key": sb.unify_api_key},
            timeout=30,
        ) as c:
            # Two requests first: the contract check builds its validators on the server
            # thread after the first answer (seconds on a busy machine), and the second
            # answer waits for that; only then is the latency alone measured.
            for _ in range(2):
                await c.get("/sequences")
            started = time.monotonic()
            responses = await asyncio.gather(*(c.get("/sequences") for _ in range(10)))
            elapsed = time.monotonic() - started
        return [r.status_code for r in responses], elapsed

    statuses, elapsed = asyncio.run(fire())
    assert statuses == [200] * 10
    # Ten 0.25 s requests in parallel, not 2.5 s in a row; the margin is for a loaded machine.
    assert 0.25 <= elapsed < 2.0


def test_stats_count_requests_and_faults(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox(faults={"html_502": 0.5}, seed=1)
    with unify_client(sb) as c:
        statuses = [c.get("/sequences").status_code for _ in range(30)]
    stats = sb.stats.unify
    assert stats.requests == 30
    assert stats.faults["html_502"] == statuses.count(502) > 0
    assert [kind for _, kind in stats.fault_log] == ["html_502"] * statuses.count(502)


# --- determinism -------------------------------------------------------------------------
MIXED_FAULTS = {
    "server_error": 0.1,
    "rate_limit_burst": 0.05,
    "reset_before": 0.05,
    "reset_after_commit": 0.05,
    "html_502": 0.05,
    "truncated_json": 0.05,
}


def outcomes(sb: Sandbox, n: int = 60) -> list[str]:
    """What a client sees for a fixed request script: status code or exception name."""
    seen = []
    with unify_client(sb) as c:
        for i in range(n):
            try:
                if i % 2:
                    response = c.post("/enrollments", json=enrollment_body(sb, person=i))
                else:
                    response = c.get("/enrollments", params={"limit": 5})
                seen.append(f"{response.status_code}:{len(response.content)}")
            except httpx.TransportError as exc:
                seen.append(type(exc).__name__)
    return seen


def test_same_seed_gives_the_same_fault_sequence(make_sandbox: MakeSandbox) -> None:
    first = make_sandbox(seed=42, faults=MIXED_FAULTS, clock=lambda: 1_800_000_000.0)
    second = make_sandbox(seed=42, faults=MIXED_FAULTS, clock=lambda: 1_800_000_000.0)
    other = make_sandbox(seed=43, faults=MIXED_FAULTS, clock=lambda: 1_800_000_000.0)
    seen_first, seen_second = outcomes(first), outcomes(second)
    assert seen_first == seen_second
    assert first.stats.unify.fault_log == second.stats.unify.fault_log
    assert len({kind for _, kind in first.stats.unify.fault_log}) >= 4
    assert sorted(first.unify.enrollments) == sorted(second.unify.enrollments)
    outcomes(other)
    assert other.stats.unify.fault_log != first.stats.unify.fault_log


def test_same_seed_gives_the_same_data() -> None:
    one, two, other = UnifyState(seed=7), UnifyState(seed=7), UnifyState(seed=8)
    for attribute in ("sequences", "steps", "people", "mailboxes", "plays", "api_keys"):
        assert getattr(one, attribute) == getattr(two, attribute), attribute
        assert getattr(one, attribute) != getattr(other, attribute), attribute
    assert len(one.sequences) >= 5 and len(one.people) >= 3000 and len(one.mailboxes) >= 5
    assert all(len(steps) >= 3 for steps in one.steps.values())


async def test_faults_and_limits_skip_paths_the_vendor_does_not_fault() -> None:
    # How server.py exempts Boast's OAuth endpoints: `applies` sees the path below the mount.
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    config = SandboxConfig(faults=FaultConfig(html_502=1.0), rate_limit="1/10s")
    middleware = FaultMiddleware(
        app,
        vendor="boast",
        config=config,
        error_body=lambda status, code, message: {"errors": [{"code": code}]},
        applies=lambda path: path.startswith("/v1/"),
    )
    transport = httpx.ASGITransport(app=middleware, root_path="/boast")
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as c:
        for _ in range(3):
            assert (await c.post("/boast/oauth/token")).status_code == 200
        assert (await c.get("/boast/v1/accounts")).status_code == 502
        assert (await c.get("/boast/v1/accounts")).status_code == 429
    assert middleware.stats.requests == 2


def test_people_knob_seeds_more_people_and_contacts() -> None:
    with Sandbox(seed=3, people=3100) as sandbox:
        assert len(sandbox.unify.people) == 3100
        assert len(sandbox.boast.contacts[sandbox.boast.account_ids[0]]) == 3100
        assert len({p["id"] for p in sandbox.unify.people}) == 3100
