"""Fixtures for the one-grant-many-processes promises: a real redis-server (the sandbox, with
reuse detection on by default, comes from tests/conftest.py; helpers are in grant_helpers.py)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# The redis-server helper lives with the rate-limit tests; one copy serves both.
sys.path.insert(0, str(Path(__file__).parents[1] / "ratelimit"))
from redisproc import RedisProcess, running_redis


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisProcess]:
    """One redis-server per test module: each test uses keys of its own."""
    with running_redis(tmp_path_factory.mktemp("redis")) as server:
        yield server
