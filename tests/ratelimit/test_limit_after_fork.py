"""A RateLimit on Redis used before `os.fork()` and then by the parent and its children: each
child talks to Redis on connections of its own, and a lock another thread of the parent held
at the fork does not stall the child."""

from __future__ import annotations

import os
import uuid

from limits import RateLimitItemPerSecond
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter
from redisproc import RedisProcess

from sequence_clients import RateLimit

CHILDREN = 4
SLOTS = 25  # per process


def test_a_limit_used_before_fork_works_in_every_child(redis_server: RedisProcess) -> None:
    limit = RateLimit("100000/60s", storage=redis_server.url, key=f"fork-{uuid.uuid4()}")
    assert limit.wait_time() == 0.0  # connected: the pool holds a socket at the fork
    # Another thread of the parent in the middle of asking Redis when the fork happens.
    limit._asking.acquire()
    pids = []
    for _ in range(CHILDREN):
        pid = os.fork()
        if pid == 0:
            try:
                granted = sum(limit.wait_time() == 0.0 for _ in range(SLOTS))
                os._exit(0 if granted == SLOTS and not limit.using_fallback else 1)
            except BaseException:
                os._exit(2)
        pids.append(pid)
    limit._asking.release()
    parent = sum(limit.wait_time() == 0.0 for _ in range(SLOTS))
    codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids]
    assert codes == [0] * CHILDREN and parent == SLOTS
    # Every slot granted anywhere was counted once in the shared window.
    window = MovingWindowRateLimiter(RedisStorage(redis_server.url))
    stats = window.get_window_stats(RateLimitItemPerSecond(100000, 60), limit.key)
    assert 100000 - stats.remaining == 1 + SLOTS * (CHILDREN + 1)
