"""One limiter user in its own process: `python limit_worker.py STORAGE LIMIT SECONDS`.

Once imported it prints "ready" and reads the start time (epoch seconds) from stdin; from then
for SECONDS it takes every slot `RateLimit.wait_time()` grants, sleeping the waits it is told,
and prints the wall-clock times of its slots as JSON.
"""

from __future__ import annotations

import json
import sys
import time

from sequence_clients._ratelimit import RateLimit


def main(storage: str, limit: str, seconds: float) -> None:
    limiter = RateLimit(limit, storage, key="two-processes")
    print("ready", flush=True)
    start_at = float(sys.stdin.readline())
    time.sleep(max(0.0, start_at - time.time()))
    granted: list[float] = []
    end = start_at + seconds
    while time.time() < end:
        wait = limiter.wait_time()
        if wait == 0:
            granted.append(time.time())
        else:
            time.sleep(min(wait, max(0.0, end - time.time())))
    print(json.dumps(granted))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], float(sys.argv[3]))
