"""Bulk enrollment at the vendor's rate limit: the engine with and without faults, and a naive
loop, side by side in one run.

The sandbox runs as a separate process, as the vendor would, limited to Unify's published
100,000 requests per 5 minutes (333/s, a token bucket) with 20 ms added to every request. Each
scenario gets a fresh sandbox. The engine runs are the real `sequence-clients bulk-enroll`
command in a subprocess (bench/_cli_probe.py only counts its log lines), its client-side
limiter at the same rate, on a generated CSV of seeded people:

  engine           no faults
  engine+faults    5% 5xx, 2% connection reset after the enrollment was committed, 1% bursts
                   of three 429s
  peer+faults      the competent peer, as a good engineer writes it today
                   (bench/peer_aiohttp.py, a process of its own): plain aiohttp, a semaphore
                   (--concurrency), aiolimiter at the limit, tenacity retrying 429, 5xx and
                   connection errors with jittered back-off that honours Retry-After, and a
                   409 on a retry read as "already enrolled"
  naive+faults     a sequential loop over the generated
                   `create_sequence_enrollment.sync_detailed` with tenacity retries on 429,
                   5xx and transport errors; a smaller sample, extrapolated (labelled)

After each run the sequence's enrollments are listed through the API, as one would check a
real vendor: duplicates (a person enrolled twice), lost (a person of the CSV not enrolled),
misreported (the tool's per-row outcome disagrees with the vendor).

Two rates: rows/s ÷ limit is the goodput; requests/s ÷ limit is the share of the vendor's
budget used (the server's own request count). Every attempt, failed or not, spends budget,
so with faults the goodput ceiling is limit x rows/requests, and the throughput target is
judged on the budget used.

    .venv/bin/python bench/bulk.py [--rows 10000] [--naive-rows 1000] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import tenacity
from _harness import (
    count_enrollments,
    machine,
    misreported,
    run_bulk_cli,
    sandbox_process,
    write_csv,
)

from sequence_clients._ratelimit import parse_limit
from sequence_clients.generated.unify import Client
from sequence_clients.generated.unify.api.sequence_enrollments import create_sequence_enrollment
from sequence_clients.generated.unify.models import CreateEnrollmentRequest
from sequence_clients.generated.unify.types import Response

TARGET_SHARE = 0.95
FAULTS = "5xx=0.05,reset-after-commit=0.02,burst=0.01"
NAIVE_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
PEER_ATTEMPTS = 6
PEER = Path(__file__).with_name("peer_aiohttp.py")


@dataclass
class Scenario:
    name: str
    rows: int
    elapsed: float  # the bulk run itself
    wall: float  # the whole process (interpreter start, imports, report CSV)
    server: dict[str, Any]  # the sandbox's counters after the run, before the check
    duplicates: int
    lost: int
    unexpected: int
    misreported: int
    client_429: int
    retries: Counter[str]
    outcomes: dict[str, int] = field(default_factory=dict)
    exit_code: int = 0

    def share(self, limit: float) -> tuple[float, float]:
        """(goodput rows/s ÷ limit, requests/s ÷ limit)."""
        enrolled = self.rows - self.lost
        return enrolled / self.elapsed / limit, self.server["requests"] / self.elapsed / limit

    @property
    def server_429(self) -> int:
        return int(self.server["rate_limited"] + self.server["faults"].get("rate_limit_burst", 0))


def engine(name: str, faults: str | None, args: argparse.Namespace, workdir: Path) -> Scenario:
    with sandbox_process(
        workdir / name,
        people=args.rows,
        rate_limit=args.limit,
        latency=args.latency,
        faults=faults,
        seed=args.seed,
    ) as sandbox:
        csv_path = write_csv(workdir / name / "people.csv", sandbox.people)
        extra = ["--rate-limit", args.limit, "--concurrency", str(args.concurrency)]
        run = run_bulk_cli(sandbox, csv_path, extra=extra)
        server = sandbox.server_stats()
        if not run.report:
            raise RuntimeError(f"{name}: the CLI exited {run.exit_code}:\n{run.stderr}")
        vendor = count_enrollments(sandbox, sandbox.people)
    return Scenario(
        name=name,
        rows=len(sandbox.people),
        elapsed=run.elapsed,
        wall=run.wall,
        server=server,
        duplicates=vendor.duplicates,
        lost=vendor.lost,
        unexpected=vendor.unexpected,
        misreported=misreported(Path(run.report["report"]), vendor.active),
        client_429=run.status("429"),
        retries=Counter(run.probe.get("retries", {})),
        outcomes=dict(run.counts),
        exit_code=run.exit_code,
    )


def naive(faults: str | None, args: argparse.Namespace, workdir: Path) -> Scenario:
    """What one writes without the wrapper: the generated function in a loop, with tenacity."""
    with sandbox_process(
        workdir / "naive",
        people=args.naive_rows,
        rate_limit=args.limit,
        latency=args.latency,
        faults=faults,
        seed=args.seed,
    ) as sandbox:
        statuses: Counter[int] = Counter()
        retries: Counter[str] = Counter()

        def on_response(response: httpx.Response) -> None:
            statuses[response.status_code] += 1

        def on_retry(state: tenacity.RetryCallState) -> None:
            outcome = state.outcome
            error = outcome.exception() if outcome else None
            if error is not None:
                retries[type(error).__name__] += 1
            elif outcome is not None:
                retries[f"HTTP {outcome.result().status_code}"] += 1

        client = Client(
            base_url=sandbox.base_url,
            headers={"x-api-key": sandbox.api_key},
            timeout=httpx.Timeout(30),
            httpx_args={"event_hooks": {"response": [on_response]}},
        )
        sequence_id, mailbox = uuid.UUID(sandbox.sequence_id), sandbox.mailbox

        @tenacity.retry(
            retry=tenacity.retry_if_exception_type(httpx.TransportError)
            | tenacity.retry_if_result(lambda r: r.status_code in NAIVE_RETRY_STATUSES),
            wait=tenacity.wait_exponential(multiplier=0.5, max=30),
            stop=tenacity.stop_after_attempt(5),
            before_sleep=on_retry,
        )
        def create(person_id: str) -> Response[Any]:
            body = CreateEnrollmentRequest(
                sequence_id=sequence_id,
                person_id=uuid.UUID(person_id),
                mailbox_emails=[mailbox],
            )
            return create_sequence_enrollment.sync_detailed(client=client, body=body)

        believed: set[str] = set()  # what the loop thinks it enrolled
        outcomes: Counter[str] = Counter()
        start = time.perf_counter()
        for person in sandbox.people:
            try:
                status = create(person).status_code
            except (tenacity.RetryError, httpx.HTTPError) as error:
                outcomes[f"failed ({type(error).__name__})"] += 1
                continue
            outcomes["enrolled" if status == 201 else f"failed ({status})"] += 1
            if status == 201:
                believed.add(person)
        elapsed = time.perf_counter() - start
        client.get_httpx_client().close()
        server = sandbox.server_stats()
        vendor = count_enrollments(sandbox, sandbox.people)
    return Scenario(
        name="naive+faults" if faults else "naive",
        rows=len(sandbox.people),
        elapsed=elapsed,
        wall=elapsed,
        server=server,
        duplicates=vendor.duplicates,
        lost=vendor.lost,
        unexpected=vendor.unexpected,
        misreported=sum((p in believed) != (p in vendor.active) for p in sandbox.people),
        client_429=statuses[429],
        retries=retries,
        outcomes=dict(outcomes),
    )


def competent(faults: str | None, args: argparse.Namespace, workdir: Path, rate: float) -> Scenario:
    """The competent peer (bench/peer_aiohttp.py: plain aiohttp, a semaphore, aiolimiter,
    tenacity), a process of its own like the engine, under the same limit and faults."""
    folder = workdir / "peer"
    with sandbox_process(
        folder,
        people=args.rows,
        rate_limit=args.limit,
        latency=args.latency,
        faults=faults,
        seed=args.seed,
    ) as sandbox:
        csv_path = write_csv(folder / "people.csv", sandbox.people)
        out = folder / "peer.json"
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, str(PEER), str(out), str(csv_path), "--base-url", sandbox.base_url,
             "--sequence", sandbox.sequence_id, "--mailbox", sandbox.mailbox,
             "--concurrency", str(args.concurrency), "--rate", str(rate),
             "--attempts", str(PEER_ATTEMPTS)],
            env=os.environ | {"UNIFY_API_KEY": sandbox.api_key},
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        wall = time.perf_counter() - start
        if done.returncode:
            raise RuntimeError(f"the peer exited {done.returncode}:\n{done.stderr}")
        result = json.loads(out.read_text())
        server = sandbox.server_stats()
        vendor = count_enrollments(sandbox, sandbox.people)
    believed = set(result["believed"])
    return Scenario(
        name="peer+faults" if faults else "peer",
        rows=len(sandbox.people),
        elapsed=result["elapsed_seconds"],
        wall=wall,
        server=server,
        duplicates=vendor.duplicates,
        lost=vendor.lost,
        unexpected=vendor.unexpected,
        misreported=sum((p in believed) != (p in vendor.active) for p in sandbox.people),
        client_429=int(result["statuses"].get("429", 0)),
        retries=Counter(result["retries"]),
        outcomes=result["outcomes"],
    )


def print_table(scenarios: list[Scenario], limit: float, full_rows: int) -> None:
    head = (
        f"{'scenario':<14} {'rows':>6} {'run s':>7} {'proc s':>7} {'rows/s':>7}"
        f" {'rows/s÷lim':>10} {'req/s÷lim':>9} {'dup':>4} {'lost':>5} {'misrep':>6}"
        f" {'429 srv':>7} {'429 cli':>7} {'retries':>7}"
    )
    print(head)
    print("-" * len(head))
    for s in scenarios:
        goodput, budget = s.share(limit)
        print(
            f"{s.name:<14} {s.rows:>6} {s.elapsed:>7.1f} {s.wall:>7.1f}"
            f" {(s.rows - s.lost) / s.elapsed:>7.1f} {goodput:>10.3f} {budget:>9.3f}"
            f" {s.duplicates:>4} {s.lost:>5} {s.misreported:>6} {s.server_429:>7}"
            f" {s.client_429:>7} {sum(s.retries.values()):>7}"
        )
    for s in scenarios:
        requests = s.server["requests"]
        ceiling = (s.rows - s.lost) / requests if requests else 0.0
        print(f"\n{s.name}: server saw {requests} requests for {s.rows} rows", end="")
        print(f" (goodput ceiling {ceiling:.3f} of the limit)")
        print(f"  injected faults: {dict(s.server['faults']) or 'none'};", end="")
        print(f" token-bucket 429s: {s.server['rate_limited']}")
        print(f"  retries by reason: {dict(s.retries) or 'none'}")
        print(f"  outcomes reported by the tool: {s.outcomes}")
        if s.unexpected or s.server["duplicate_active_enrollments"]:
            print(f"  unexpected enrollments: {s.unexpected};", end="")
            print(f" server duplicate active: {s.server['duplicate_active_enrollments']}")
        if s.name.startswith("naive") and s.rows < full_rows:
            scale = full_rows / s.rows
            print(
                f"  EXTRAPOLATED to {full_rows} rows (x{scale:.0f}, sequential so linear):"
                f" {s.elapsed * scale:.0f} s, {round(s.misreported * scale)} misreported rows"
            )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--naive-rows", type=int, default=1_000, help="0 skips the naive loop")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=32,
        help="bulk-enroll --concurrency (retry back-off holds a worker; 16 is short with faults)",
    )
    parser.add_argument("--limit", default="100000/5m", help="vendor and client rate limit")
    parser.add_argument("--latency", default="20ms")
    parser.add_argument("--faults", default=FAULTS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, help="keep CSVs, journals, reports here")
    args = parser.parse_args()
    count, window = parse_limit(args.limit)
    limit = count / window

    print(f"machine: {machine()}")
    print(
        f"limit {args.limit} = {limit:.1f}/s (server token bucket and client limiter),"
        f" latency {args.latency}, concurrency {args.concurrency}, faults {args.faults}"
    )
    with tempfile.TemporaryDirectory(prefix="bench-bulk-") as tmp:
        workdir = args.workdir or Path(tmp)
        scenarios = [engine("engine", None, args, workdir)]
        scenarios.append(engine("engine+faults", args.faults, args, workdir))
        scenarios.append(competent(args.faults, args, workdir, limit))
        if args.naive_rows:
            scenarios.append(naive(args.faults, args, workdir))
    print()
    print_table(scenarios, limit, args.rows)

    by_name = {s.name: s for s in scenarios}
    ours, peer = by_name["engine+faults"], by_name["peer+faults"]
    print(
        f"\nengine vs competent peer under the same faults: goodput {ours.share(limit)[0]:.3f}"
        f" vs {peer.share(limit)[0]:.3f}; duplicates {ours.duplicates} vs {peer.duplicates};"
        f" lost {ours.lost} vs {peer.lost}; misreported {ours.misreported} vs"
        f" {peer.misreported}; server 429s {ours.server_429} vs {peer.server_429}"
    )

    checks: dict[str, bool] = {}
    for s in scenarios:
        if s.name.startswith(("naive", "peer")):
            continue
        goodput, budget = s.share(limit)
        share = budget if s.server["faults"] else goodput
        checks[f"{s.name} throughput >= {TARGET_SHARE:.0%} of the limit ({share:.3f})"] = (
            share >= TARGET_SHARE
        )
        checks[f"{s.name} 0 duplicates ({s.duplicates})"] = s.duplicates == 0
        checks[f"{s.name} 0 lost ({s.lost})"] = s.lost == 0
        checks[f"{s.name} report matches the vendor ({s.misreported} misreported)"] = (
            s.misreported == 0
        )
    missed = [name for name, ok in checks.items() if not ok]
    print()
    print("targets: all met" if not missed else f"targets missed: {'; '.join(missed)}")
    return 0 if not missed else 1


if __name__ == "__main__":
    sys.exit(main())
