"""bulk-enroll tells what the vendor client did beyond one request per row: retries, 429s and
waits for the rate limit, in its progress line and its --json summary (the client's own
`stats`, so the figures are what was sent, not what a log line happened to say)."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import pytest
from clihelp import run_cli

from sequence_clients._telemetry import ClientStats
from sequence_clients.cli.progress import BulkProgress
from sequence_clients.sandbox import FaultConfig, Sandbox, SandboxConfig


def test_the_json_summary_counts_what_the_sandbox_saw(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    faults = FaultConfig(server_error=0.15, rate_limit_burst=0.1, burst_length=2)
    with Sandbox(SandboxConfig(seed=3, rate_limit=None, faults=faults)) as sandbox:
        monkeypatch.setenv("UNIFY_API_KEY", sandbox.unify_api_key)
        monkeypatch.setenv("UNIFY_BASE_URL", sandbox.unify_base_url)
        state = sandbox.unify
        sequence = next(
            s["id"] for s in state.live_sequences() if state.active_enrollment_count(s["id"]) == 0
        )
        people = [p["id"] for p in state.people[:12]]
        source = tmp_path / "people.csv"
        with source.open("w", newline="") as handle:
            csv.writer(handle).writerows([["person_id"], *([p] for p in people)])
        before = sandbox.stats.unify.faults.total()

        result = run_cli(
            "bulk-enroll", "unify", str(source), "--sequence", sequence,
            "-m", state.mailboxes[0]["email"], "--rate-limit", "8/s", "--max-retries", "8",
            "--json",
        )  # fmt: skip

        assert result.exit_code == 0, result.stderr
        summary = result.json()
        seen = sandbox.stats.unify
        injected = seen.faults.total() - before
    assert summary["counts"]["enrolled"] == len(people)
    assert injected > 0  # the seed injects faults into this run
    # Every injected fault was answered by exactly one retry, and each 429 counted.
    assert summary["retries"] == injected
    assert summary["rate_limited"] == seen.faults["rate_limit_burst"] + seen.rate_limited
    # 8/s for more than 8 requests: some waited for the limit, and the time is reported.
    assert summary["limiter_waits"] > 0
    assert summary["limiter_wait_seconds"] > 0


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_progress_line_carries_the_clients_totals(capsys: pytest.CaptureFixture[str]) -> None:
    clock = _Clock()
    progress = BulkProgress(4, enabled=True, every=1.0, clock=clock)
    progress._lines = True  # as when stderr is a file, whatever the test runner's is
    totals = ClientStats(retries=3, rate_limited=2, limiter_waits=5, limiter_wait_seconds=1.25)
    stats: Callable[[], ClientStats] = totals.snapshot
    progress.client_stats = stats
    clock.now = 2.0
    progress.advance("enrolled")
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert line.startswith("bulk-enroll: 1/4 rows")
    for shown in ("enrolled=1", "retries=3", "429s=2", "limiter waits=5 (1.2 s)"):
        assert shown in line
