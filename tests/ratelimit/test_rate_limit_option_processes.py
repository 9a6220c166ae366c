"""Acceptance for `rate_limit=` with `rate_limit_storage="redis://…"`: UnifyClients in separate
processes (tests/ratelimit/client_worker.py) against one sandbox, on a real redis-server.
Requests are counted where they land: the sandbox's observer notes the time of each."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from subprocess import Popen
from typing import Any

import httpx
import pytest
from redisproc import RedisProcess
from windows import busiest_window

from sequence_clients import UnifyClient, errors
from sequence_clients.sandbox import Sandbox
from sequence_clients.sandbox.core import Exchange

WORKER = Path(__file__).with_name("client_worker.py")
LIMIT, WINDOW = 20, 1.0
SLACK = 0.2  # the observer notes a request when its answer leaves: a few ms after it arrived


class Arrivals:
    """The sandbox's observer: when each Unify request was answered (epoch seconds)."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self._lock = threading.Lock()

    def __call__(self, exchange: Exchange) -> None:
        if exchange.vendor == "unify":
            with self._lock:
                self.times.append(time.time())

    def between(self, start: float, end: float) -> list[float]:
        with self._lock:
            return [t for t in self.times if start < t < end]


@pytest.fixture
def observed(make_sandbox: Any) -> tuple[Sandbox, Arrivals]:
    arrivals = Arrivals()
    return make_sandbox(rate_limit=None, observer=arrivals), arrivals


def start_clients(
    sandbox: Sandbox, storage: str, count: int, seconds: float, limit: str = f"{LIMIT}/1s"
) -> tuple[list[Popen[str]], float]:
    """Client processes that start calling together once each has imported; and when."""
    config = {
        "api_key": sandbox.unify_api_key, "base_url": sandbox.unify_base_url,
        "sequence_id": sandbox.unify.live_sequences()[0]["id"],
        "limit": limit, "storage": storage, "seconds": seconds,
    }  # fmt: skip
    procs = []
    for _ in range(count):
        proc = subprocess.Popen(
            [sys.executable, str(WORKER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdin is not None
        proc.stdin.write(json.dumps(config) + "\n")
        proc.stdin.flush()
        procs.append(proc)
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    start_at = time.time() + 0.2
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write(f"{start_at}\n")
        proc.stdin.close()
    return procs, start_at


def finished(proc: Popen[str]) -> tuple[dict[str, Any], str]:
    """The worker's report and what it wrote to stderr."""
    assert proc.stdout is not None and proc.stderr is not None
    stdout, stderr = proc.stdout.read(), proc.stderr.read()  # stderr: a line or two at most
    assert proc.wait(timeout=60) == 0, stderr
    report: dict[str, Any] = json.loads(stdout)
    return report, stderr


def test_two_client_processes_never_exceed_the_shared_limit_at_the_server(
    redis_server: RedisProcess, observed: tuple[Sandbox, Arrivals]
) -> None:
    sandbox, arrivals = observed
    procs, _ = start_clients(sandbox, redis_server.url, 2, 3.0)
    reports = [finished(proc)[0] for proc in procs]

    assert all(r["failures"] == [] for r in reports)
    assert all(r["calls"] > 0 for r in reports), "both processes made calls"
    assert len(arrivals.times) == sum(r["calls"] for r in reports)
    assert busiest_window(arrivals.times, WINDOW - SLACK) <= LIMIT
    assert len(arrivals.times) >= 2 * LIMIT  # the limit is used, not merely respected


def test_a_429_seen_by_one_client_pauses_the_other_process(
    redis_server: RedisProcess, observed: tuple[Sandbox, Arrivals]
) -> None:
    sandbox, arrivals = observed
    (other,), start_at = start_clients(sandbox, redis_server.url, 1, 3.0, limit="1000/1s")

    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": "1.2"}, json={"message": "slow"})

    ours = UnifyClient(
        sandbox.unify_api_key,  # the same key, so the same quota: its 429 is everyone's
        rate_limit="1000/1s",
        rate_limit_storage=redis_server.url,
        max_retries=0,
        httpx_client=httpx.Client(transport=httpx.MockTransport(refuse)),
    )
    time.sleep(max(0.0, start_at + 1.0 - time.time()))
    refused_at = time.time()
    with ours, pytest.raises(errors.RateLimitError):
        ours.get_sequence(sandbox.unify.live_sequences()[0]["id"])
    report, _ = finished(other)

    assert report["failures"] == []
    assert arrivals.between(start_at, refused_at), "the other process was calling before"
    assert not arrivals.between(refused_at + SLACK, refused_at + 1.15), "then it waited"
    assert arrivals.between(refused_at + 1.2, start_at + 3.0), "and called again after"


def test_redis_stopped_mid_run_falls_back_says_so_once_and_fails_no_call(
    redis_server: RedisProcess, observed: tuple[Sandbox, Arrivals]
) -> None:
    sandbox, arrivals = observed
    (proc,), start_at = start_clients(sandbox, redis_server.url, 1, 3.0)
    time.sleep(max(0.0, start_at + 1.0 - time.time()))
    stopped_at = time.time()
    redis_server.stop()
    report, stderr = finished(proc)

    assert report["failures"] == [], "no call failed because of the limiter"
    assert stderr.count("unreachable") == 1, stderr
    assert f"{LIMIT}/1s" in stderr  # the limit it falls back to (wording: tests/golden)
    after = arrivals.between(stopped_at + 0.5, start_at + 3.0)
    assert after, "calls went on after Redis stopped"
    assert busiest_window(after, WINDOW - SLACK) <= LIMIT  # on the in-process limit
