"""The competent peer, as a good engineer would write it today: plain aiohttp, a semaphore,
aiolimiter at the vendor's limit, tenacity retrying 429, 5xx and connection errors with jittered
back-off that honours Retry-After, and a 409 on a retry read as "already enrolled". No journal,
no resume, no report file: what bulk-enroll does beyond this is what its extra CPU buys.

A whole process of its own, as bulk-enroll is, so bench/bulk.py and bench/bulk_cpu.py compare
like with like:

    python bench/peer_aiohttp.py OUT.json FILE.csv --base-url URL --sequence ID --mailbox EMAIL
        [--concurrency 16] [--rate 333.3]        # UNIFY_API_KEY in the environment

OUT.json: outcomes, statuses seen, retries by reason, the person ids it believes enrolled, the
run's elapsed seconds, and this process's CPU seconds (in all, and after its imports).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import resource
import sys
import time
from collections import Counter
from pathlib import Path


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def run(args: argparse.Namespace) -> dict[str, object]:
    import aiohttp
    import aiolimiter
    import tenacity

    cpu_after_import = cpu_seconds()
    with args.csv.open(newline="", encoding="utf-8") as handle:
        people = [row["person_id"] for row in csv.DictReader(handle)]
    statuses: Counter[int] = Counter()
    retries: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    believed: list[str] = []
    limiter = aiolimiter.AsyncLimiter(args.rate, 1.0) if args.rate else None
    in_flight = asyncio.Semaphore(args.concurrency)
    backoff = tenacity.wait_random_exponential(multiplier=0.25, max=10)
    retryable = {429, 500, 502, 503, 504}

    class Retryable(Exception):
        def __init__(self, status: int, retry_after: str) -> None:
            self.status, self.retry_after = status, retry_after

    def wait(state: tenacity.RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, Retryable) and error.retry_after.isdigit():
            return float(error.retry_after)
        return backoff(state)

    def on_retry(state: tenacity.RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        name = f"HTTP {error.status}" if isinstance(error, Retryable) else type(error).__name__
        retries[name] += 1

    connector = aiohttp.TCPConnector(limit=args.concurrency)
    timeout = aiohttp.ClientTimeout(total=30, sock_connect=5)
    headers = {"x-api-key": os.environ["UNIFY_API_KEY"]}
    url = args.base_url.rstrip("/") + "/sequences/v1/enrollments"
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, headers=headers
    ) as session:

        @tenacity.retry(
            retry=tenacity.retry_if_exception_type(
                (Retryable, aiohttp.ClientError, asyncio.TimeoutError)
            ),
            wait=wait,
            stop=tenacity.stop_after_attempt(args.attempts),
            before_sleep=on_retry,
        )
        async def create(person: str) -> int:
            body = {"sequence_id": args.sequence, "person_id": person,
                    "mailbox_emails": [args.mailbox]}  # fmt: skip
            if limiter is not None:
                await limiter.acquire()  # every attempt takes a slot
            async with session.post(url, json=body) as response:
                await response.read()
                statuses[response.status] += 1
                if response.status in retryable:
                    raise Retryable(response.status, response.headers.get("retry-after", ""))
                return response.status

        async def enroll(person: str) -> None:
            async with in_flight:
                try:
                    status = await create(person)
                except (tenacity.RetryError, Retryable, aiohttp.ClientError, TimeoutError) as e:
                    outcomes[f"failed ({type(e).__name__})"] += 1
                    return
            # A 409 after a lost answer means the first attempt went through.
            if status in (201, 409):
                outcomes["enrolled" if status == 201 else "already enrolled (409)"] += 1
                believed.append(person)
            else:
                outcomes[f"failed ({status})"] += 1

        start = time.perf_counter()
        await asyncio.gather(*(enroll(person) for person in people))
        elapsed = time.perf_counter() - start
    return {
        "rows": len(people),
        "elapsed_seconds": elapsed,
        "outcomes": dict(outcomes),
        "statuses": {str(code): n for code, n in statuses.items()},
        "retries": dict(retries),
        "believed": believed,
        "cpu_after_import_s": cpu_after_import,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("out", type=Path)
    parser.add_argument("csv", type=Path)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--sequence", required=True)
    parser.add_argument("--mailbox", required=True)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rate", type=float, default=0.0, help="requests/s; 0: no limiter")
    parser.add_argument("--attempts", type=int, default=6)
    args = parser.parse_args()
    result = asyncio.run(run(args))
    result["cpu_s"] = cpu_seconds()
    args.out.write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
