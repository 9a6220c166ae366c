"""Acceptance: a real `python -m sequence_clients.cli bulk-enroll` process, 2,000 rows with a
few bad ones, faults on, SIGKILLed half way and re-run with the same command: every good row
enrolled exactly once, the bad rows reported."""

from __future__ import annotations

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from sequence_clients.sandbox import FaultConfig, Sandbox, SandboxConfig

ROWS = 2000
BAD_LINES = {101: "not-a-uuid", 702: "", 1303: "1234", 1904: "zz-zz"}  # line -> bad person_id
# Enough faults for ~100 retries and a few resets after commit; every retry waits (backoff or
# Retry-After), which is what sets this test's duration.
FAULTS = FaultConfig(server_error=0.03, reset_after_commit=0.02, rate_limit_burst=0.003)


def finished_rows(journal: Path) -> int:
    if not journal.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=0.2) as db:
            return int(
                db.execute("SELECT COUNT(*) FROM rows WHERE state != 'in_flight'").fetchone()[0]
            )
    except sqlite3.OperationalError:  # the schema is not there yet, or a writer holds a lock
        return 0


def test_sigkill_half_way_then_rerun_enrolls_every_good_row_exactly_once(tmp_path: Path) -> None:
    with Sandbox(SandboxConfig(seed=5, faults=FAULTS)) as sandbox:
        state = sandbox.unify
        sequence_id = next(
            s["id"] for s in state.live_sequences() if state.active_enrollment_count(s["id"]) == 0
        )
        people = iter(p["id"] for p in state.people[:2940])
        csv_path = tmp_path / "campaign.csv"
        with csv_path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["person_id", "note"])
            for line in range(2, ROWS + 2):
                writer.writerow([BAD_LINES.get(line) if line in BAD_LINES else next(people), "x"])
        good = ROWS - len(BAD_LINES)
        journal = tmp_path / "campaign.csv.journal.sqlite"
        command = [
            sys.executable, "-m", "sequence_clients.cli", "bulk-enroll", "unify", str(csv_path),
            "--sequence", sequence_id, "--mailbox", state.mailboxes[0]["email"],
            "--rate-limit", "100000/s", "--concurrency", "16", "--json",
        ]  # fmt: skip
        env = {
            **os.environ,
            "UNIFY_API_KEY": sandbox.unify_api_key,
            "UNIFY_BASE_URL": sandbox.unify_base_url,
        }

        first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 90  # generous: the machine may be shared
        while finished_rows(journal) < ROWS // 2:
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline, "the first run made no progress"
            time.sleep(0.01)
        first.send_signal(signal.SIGKILL)
        first.communicate()
        assert first.returncode == -signal.SIGKILL
        with sqlite3.connect(journal) as db:
            left_in_flight = db.execute(
                "SELECT COUNT(*) FROM rows WHERE state = 'in_flight'"
            ).fetchone()[0]
        assert left_in_flight > 0  # the kill really interrupted requests
        assert state.total_created < good

        second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)

        assert "Traceback" not in second.stderr
        assert second.returncode == 1, second.stderr  # 1 because of the bad rows
        summary = json.loads(second.stdout)
        assert summary["counts"] == {"enrolled": good, "invalid": len(BAD_LINES)}
        assert summary["recovered"] >= left_in_flight > 0
        # Exactly one enrollment per good row: none twice, none lost.
        assert state.total_created == good
        assert state.active_enrollment_count(sequence_id) == good
        assert state.duplicate_active_enrollments() == []
        assert sum(sandbox.stats.unify.faults.values()) > 0
        with (tmp_path / "campaign.report.csv").open(newline="") as handle:
            report = list(csv.DictReader(handle))
        assert len(report) == ROWS
        invalid = {int(row["line"]): row["detail"] for row in report if row["outcome"] == "invalid"}
        assert sorted(invalid) == sorted(BAD_LINES)
        assert invalid[702] == "person_id is empty"
        assert invalid[101] == "person_id is not a UUID: 'not-a-uuid'"
