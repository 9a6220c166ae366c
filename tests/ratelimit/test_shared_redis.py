"""Acceptance: one quota across processes on a real redis-server (started per test, by pid)."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import time
from pathlib import Path
from subprocess import Popen

import pytest
from redisproc import RedisProcess, start_redis
from windows import busiest_window

from sequence_clients._ratelimit import RateLimit

WORKER = Path(__file__).with_name("limit_worker.py")
LIMIT, WINDOW = 20, 1.0
# Our timestamps are taken just after the slot was granted; scheduling on a busy machine can
# delay one by a few ms (rarely a tenth of a second), never by anything near a window.
SLACK = 0.2


def start_workers(storage: str, count: int, seconds: float, limit: str) -> list[Popen[str]]:
    """Worker processes that start taking slots together, once every interpreter is up (a
    busy machine can take seconds to import)."""
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), storage, limit, str(seconds)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    start_at = time.time() + 0.2
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write(f"{start_at}\n")
        proc.stdin.close()
    return procs


def granted(proc: Popen[str]) -> list[float]:
    assert proc.stdout is not None
    times: list[float] = json.loads(proc.stdout.read())
    assert proc.wait(timeout=60) == 0
    return times


def run_workers(storage: str, count: int, seconds: float, limit: str) -> list[list[float]]:
    return [granted(proc) for proc in start_workers(storage, count, seconds, limit)]


def test_two_processes_never_exceed_the_shared_limit(redis_server: RedisProcess) -> None:
    per_process = run_workers(redis_server.url, 2, 3.0, f"{LIMIT}/1s")
    together = [t for times in per_process for t in times]
    assert all(times for times in per_process), "both processes were granted slots"
    assert busiest_window(together, WINDOW - SLACK) <= LIMIT
    # ...and the limit is used, not merely respected: 3 s of 20/s, give or take a window.
    assert len(together) >= 2 * LIMIT


def test_without_a_shared_storage_the_same_two_processes_exceed_it() -> None:
    per_process = run_workers("memory://", 2, 2.0, f"{LIMIT}/1s")
    assert busiest_window([t for times in per_process for t in times], WINDOW - SLACK) > LIMIT


def test_a_pause_seen_by_one_process_pauses_the_other(redis_server: RedisProcess) -> None:
    (other,) = start_workers(redis_server.url, 1, 3.0, "1000/1s")
    ours = RateLimit("1000/1s", redis_server.url, key="two-processes")
    time.sleep(1.0)
    paused_at = time.time()
    ours.pause_for(1.0)  # as after a 429 with Retry-After: 1
    times = granted(other)
    assert any(t < paused_at for t in times), "the other process was running before"
    assert not [t for t in times if paused_at + 0.2 < t < paused_at + 0.95]
    assert any(t > paused_at + 1.0 for t in times), "and runs again after the pause"


async def test_async_users_share_the_window_and_the_pause(redis_server: RedisProcess) -> None:
    sync_user = RateLimit("6/1s", redis_server.url, key="mixed")
    async_user = RateLimit("6/1s", redis_server.url, key="mixed")
    assert [sync_user.wait_time() for _ in range(3)] == [0.0] * 3
    assert [await async_user.wait_time_async() for _ in range(3)] == [0.0] * 3
    assert sync_user.wait_time() > 0 and await async_user.wait_time_async() > 0
    await async_user.pause_for_async(1.5)
    paused_until = time.time() + 1.4
    while (left := paused_until - time.time()) > 0:
        wait = sync_user.wait_time()
        assert wait > 0, "no slot during the pause"
        time.sleep(min(wait, left))


def test_redis_stopped_mid_run_falls_back_says_so_once_and_recovers(
    redis_server: RedisProcess, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="sequence_clients")
    limiter = RateLimit(
        "100/1s", redis_server.url, key="outage", fallback_limit="3/1s", retry_storage_after=0.5
    )
    assert limiter.wait_time() == 0.0 and not limiter.using_fallback
    redis_server.stop()

    started = time.monotonic()
    answers = [limiter.wait_time() for _ in range(5)]
    assert time.monotonic() - started < 2.0, "a dead Redis costs no more than its timeouts"
    assert limiter.using_fallback
    assert answers[:3] == [0.0] * 3 and all(a > 0 for a in answers[3:]), "the fallback limit holds"
    limiter.pause_for(0.01)  # pauses during the outage fail over too, without raising
    warnings = [r.getMessage() for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(warnings) == 1 and "3/1s" in warnings[0]

    restarted = start_redis(tmp_path, port=redis_server.port)
    try:
        time.sleep(0.6)  # past retry_storage_after
        assert limiter.wait_time() == 0.0
        assert not limiter.using_fallback
        assert any("answers again" in r.getMessage() for r in caplog.records)
    finally:
        restarted.stop()


async def test_async_redis_stopped_falls_back(
    redis_server: RedisProcess, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="sequence_clients")
    limiter = RateLimit("100/1s", redis_server.url, key="outage-async")
    assert await limiter.wait_time_async() == 0.0
    redis_server.stop()
    assert await limiter.wait_time_async() == 0.0
    await limiter.pause_for_async(0.01)
    assert limiter.using_fallback
    assert sum("unreachable" in r.getMessage() for r in caplog.records) == 1


async def test_waiting_tasks_do_not_flood_redis(redis_server: RedisProcess) -> None:
    """Sixteen tasks waiting on a 10/1s limit: one asks when a slot frees, not all sixteen."""
    limiter = RateLimit("10/1s", redis_server.url, key="herd")
    stats = redis_server.client()
    stats.config_resetstat()
    grants: list[float] = []
    end = time.time() + 2.2

    async def task() -> None:
        while time.time() < end:
            wait = await limiter.wait_time_async()
            if wait == 0:
                grants.append(time.time())
            else:
                await asyncio.sleep(wait)

    await asyncio.gather(*(task() for _ in range(16)))
    asked = stats.info("commandstats")["cmdstat_zscore"]["calls"]
    assert 20 <= len(grants) <= 30
    assert asked <= 2 * len(grants), f"{asked} asks for {len(grants)} slots"
