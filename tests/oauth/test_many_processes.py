"""4 processes x 4 threads, each thread its own BoastClient, on one token store (a file, then
Redis), the access token rotating several times a second: every call succeeds, one refresh per
rotation, the store ends with the newest token, and the grant is never revoked."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from grant_helpers import refreshes, seed_token
from redisproc import RedisProcess

from sequence_clients import FileTokenStore, RedisTokenStore
from sequence_clients.sandbox import Sandbox, SandboxConfig

WORKER = Path(__file__).with_name("oauth_worker.py")
PROCESSES, THREADS = 4, 4
TOKEN_TTL = 1.0  # seconds the sandbox's access tokens live
MARGIN = 0.85  # the workers refresh this long before expiry: a rotation every 0.15 s
SECONDS = 4.0  # each worker's calling time
MIN_ROTATIONS = 20


@pytest.fixture
def sandbox() -> Any:
    # Reuse detection is the default: a used refresh token would revoke the grant.
    with Sandbox(SandboxConfig(seed=3, token_ttl=TOKEN_TTL)) as sb:
        assert sb.boast.reuse_detection
        yield sb


def run_workers(sb: Sandbox, store: str, where: str) -> list[dict[str, Any]]:
    config = {
        "store": store, "where": where, "base_url": sb.boast_base_url,
        "auth_base_url": sb.boast_auth_base_url, "client_id": sb.boast.client_id,
        "client_secret": sb.boast.client_secret, "account_id": sb.boast.account_ids[0],
        "threads": THREADS, "seconds": SECONDS, "margin": MARGIN,
    }  # fmt: skip
    workers = [
        subprocess.Popen(
            [sys.executable, str(WORKER), json.dumps(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(PROCESSES)
    ]
    results = []
    for worker in workers:
        out, err = worker.communicate(timeout=60)
        assert worker.returncode == 0, err
        results.append(json.loads(out))
    return results


def check_one_grant(
    sb: Sandbox, results: list[dict[str, Any]], newest: str | None, elapsed: float
) -> None:
    failures = [failure for result in results for failure in result["failures"]]
    assert failures == []
    assert all(result["ok"] > 0 for result in results)
    # Never a used refresh token presented, so never a revoked grant.
    assert sb.boast.revoked_grants == set()
    outcomes = refreshes(sb)
    assert set(outcomes) == {"issued"}
    assert len(outcomes) >= MIN_ROTATIONS
    # One refresh per rotation: a token is renewed only once it is within the margin of its
    # expiry, so there are at most as many refreshes as token lifetimes (less the margin) fit
    # in the run; fewer would mean calls went out with expired tokens, which would have failed.
    assert len(outcomes) <= elapsed / (TOKEN_TTL - MARGIN) + 1
    # The store holds the newest token: the one refresh token the sandbox still accepts.
    assert newest is not None
    with httpx.Client(base_url=sb.boast_auth_base_url) as http:
        renewed = http.post(
            "/oauth/token",
            data={
                "grant_type": "refresh_token", "refresh_token": newest,
                "client_id": sb.boast.client_id, "client_secret": sb.boast.client_secret,
            },
        )  # fmt: skip
    assert renewed.status_code == 200


def test_four_processes_share_one_grant_through_a_token_file(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    path = tmp_path / "tokens" / "boast.json"
    store = FileTokenStore(path)
    store.save(seed_token(sandbox))
    started = time.monotonic()
    results = run_workers(sandbox, "file", str(path))
    elapsed = time.monotonic() - started
    stored = store.read()
    assert stored is not None
    # Every refresh reached the file, once: the seed plus one save per refresh.
    assert stored.generation == 1 + sandbox.boast.refresh_count
    assert sandbox.boast.client_secret not in path.read_text()
    check_one_grant(sandbox, results, stored.token.refresh_token, elapsed)


def test_four_processes_share_one_grant_through_redis(
    sandbox: Sandbox, redis_server: RedisProcess
) -> None:
    store = RedisTokenStore(redis_server.url)
    store.save(seed_token(sandbox))
    started = time.monotonic()
    results = run_workers(sandbox, "redis", redis_server.url)
    elapsed = time.monotonic() - started
    stored = store.read()
    assert stored is not None
    assert stored.generation == 1 + sandbox.boast.refresh_count
    raw = redis_server.client().hgetall(store.key)
    assert all(sandbox.boast.client_secret.encode() not in value for value in raw.values())
    check_one_grant(sandbox, results, stored.token.refresh_token, elapsed)
