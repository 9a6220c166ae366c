"""Fixtures for the shared rate limit: a real redis-server per test (tests/ratelimit/redisproc.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from redisproc import RedisProcess, running_redis


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisProcess]:
    with running_redis(tmp_path) as server:
        yield server
