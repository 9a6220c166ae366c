"""What bench/bulk.py and bench/scale.py share: the sandbox as a separate process, a CSV of its
people, the real CLI run in a subprocess (bench/_cli_probe.py), and an after-the-fact count of
enrollments through the vendor API.

The sandbox process is `python -m sequence_clients.sandbox --people N ...`, as a user starts it.
Its seeded data is a function of the seed and the people count, so the benchmark rebuilds the
same `UnifyState` to know the people, a mailbox and an empty sequence; the server's own
counters come from its `/_sandbox/stats` endpoint.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from sequence_clients import UnifyClient
from sequence_clients.sandbox.core import STATS_PATH
from sequence_clients.sandbox.unify_state import N_SEEDED_ENROLLMENTS, UnifyState

PROBE = Path(__file__).with_name("_cli_probe.py")
START_TIMEOUT = 60.0  # seeding 100,000 people takes about a second; a busy machine, longer


@dataclass
class SandboxProcess:
    base_url: str  # Unify's
    api_key: str
    people: list[str]  # person ids free to enroll (no seeded history)
    mailbox: str
    sequence_id: str  # a sequence with no active enrollment
    stats_url: str
    proc: subprocess.Popen[bytes] = field(repr=False)

    def server_stats(self) -> dict[str, Any]:
        """The Unify fake's own counters now: requests, 429s of its token bucket, injected
        faults, enrollments created, duplicate active enrollments."""
        response = httpx.get(self.stats_url, timeout=10)
        response.raise_for_status()
        data: dict[str, Any] = response.json()["unify"]
        return data


@contextmanager
def sandbox_process(
    workdir: Path,
    *,
    people: int,
    rate_limit: str | None = None,
    latency: str | None = None,
    faults: str | None = None,
    seed: int = 0,
) -> Iterator[SandboxProcess]:
    """A fresh sandbox process on a free port, stopped with SIGINT (its normal stop) on exit.

    `rate_limit=None` means no server-side limit (`--rate-limit off`): the sandbox's default is
    the vendors' published limits, which a 100k-row scale run would exceed."""
    workdir.mkdir(parents=True, exist_ok=True)
    # Seeded history sits on the last people: ask for that many more so `people` are free.
    count = people + N_SEEDED_ENROLLMENTS
    argv = ["--port", "0", "--seed", str(seed), "--people", str(count)]
    argv += ["--rate-limit", rate_limit or "off"]
    for flag, value in (("--latency", latency), ("--faults", faults)):
        if value:
            argv += [flag, value]
    banner = workdir / "sandbox.out"
    with banner.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sequence_clients.sandbox", *argv],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        lines = _wait_for_banner(proc, banner)
        state = UnifyState(seed=seed, n_people=count)  # the same data the process seeded
        base_url = lines["UNIFY_BASE_URL"]
        yield SandboxProcess(
            base_url=base_url,
            api_key=lines["UNIFY_API_KEY"],
            people=[p["id"] for p in state.people[:people]],
            mailbox=state.mailboxes[0]["email"],
            sequence_id=next(
                s["id"]
                for s in state.live_sequences()
                if state.active_enrollment_count(s["id"]) == 0
            ),
            stats_url=base_url.removesuffix("/unify") + STATS_PATH,
            proc=proc,
        )
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_for_banner(proc: subprocess.Popen[bytes], banner: Path) -> dict[str, str]:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"sandbox exited with {proc.returncode}:\n{banner.read_text()}")
        text = banner.read_text()
        if "Inspect" in text:  # the banner's last line
            return {  # its `export NAME=value` pairs
                name: value
                for line in text.splitlines()
                if line.startswith("export ")
                for name, _, value in (
                    pair.partition("=") for pair in line.split("#")[0].split()[1:]
                )
            }
        time.sleep(0.05)
    raise RuntimeError(f"sandbox did not start within {START_TIMEOUT:.0f} s")


def write_csv(path: Path, person_ids: Sequence[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        handle.write("person_id\n")
        handle.writelines(f"{pid}\n" for pid in person_ids)
    return path


@dataclass
class CliRun:
    exit_code: int
    wall: float  # the whole process: interpreter start, imports, run, report CSV
    report: dict[str, Any]  # the CLI's --json output
    probe: dict[str, Any]  # bench/_cli_probe.py's counts and resource use
    stderr: str

    @property
    def elapsed(self) -> float:
        """The bulk run itself, as the CLI measures it."""
        return float(self.report.get("elapsed_seconds", self.wall))

    @property
    def counts(self) -> Counter[str]:
        return Counter(self.report.get("counts", {}))

    def status(self, *codes: str) -> int:
        statuses: dict[str, int] = self.probe.get("statuses", {})
        return sum(n for code, n in statuses.items() if code in codes)

    @property
    def retries(self) -> int:
        return sum(self.probe.get("retries", {}).values())


def run_bulk_cli(
    sandbox: SandboxProcess,
    csv_path: Path,
    *,
    extra: Sequence[str] = (),
    timeout: float = 3600,
    count_statuses: bool = True,
) -> CliRun:
    """`sequence-clients bulk-enroll unify FILE.csv ... --json`, as a user types it.
    `count_statuses=False` leaves httpx's logger alone: counting statuses turns on a log record
    per response, work neither a user's run nor the peer does (bench/bulk_cpu.py measures CPU)."""
    probe_out = csv_path.with_name(csv_path.name + ".probe.json")
    argv = [
        "bulk-enroll", "unify", str(csv_path), "--sequence", sandbox.sequence_id,
        "--mailbox", sandbox.mailbox, "--base-url", sandbox.base_url, "--json", *extra,
    ]  # fmt: skip
    env = os.environ | {"UNIFY_API_KEY": sandbox.api_key}
    if not count_statuses:
        env["BENCH_PROBE_STATUSES"] = "0"
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(PROBE), str(probe_out), *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    wall = time.perf_counter() - start
    try:
        report = json.loads(done.stdout)
    except ValueError:
        report = {}
    probe = json.loads(probe_out.read_text()) if probe_out.exists() else {}
    return CliRun(done.returncode, wall, report, probe, done.stderr)


@dataclass
class VendorCount:
    """What the vendor API says about the sequence after a run. The sequence was picked with no
    active enrollment, but it may hold seeded history (finished, canceled) of other people."""

    records: int  # enrollments listed in the sequence, any status
    active: set[str]  # person ids with an active enrollment
    duplicates: int  # people of the CSV with more than one enrollment in the sequence
    lost: int  # people of the CSV without an active enrollment
    unexpected: int  # people actively enrolled who are not in the CSV


def count_enrollments(sandbox: SandboxProcess, expected: Sequence[str]) -> VendorCount:
    """List the sequence's enrollments through the API, as one would check a real vendor."""
    per_person: Counter[str] = Counter()
    active: set[str] = set()
    with UnifyClient(sandbox.api_key, base_url=sandbox.base_url, max_retries=8) as client:
        for enrollment in client.list_enrollments(sequence_id=sandbox.sequence_id):
            person = str(enrollment.person.id)
            per_person[person] += 1
            if str(enrollment.status) == "IN_PROGRESS" and not enrollment.is_canceled:
                active.add(person)
    wanted = set(expected)
    return VendorCount(
        records=sum(per_person.values()),
        active=active,
        duplicates=sum(1 for person in wanted if per_person[person] > 1),
        lost=len(wanted - active),
        unexpected=len(active - wanted),
    )


def file_bytes(path: Path) -> int:
    """Size of an SQLite database with its -wal and -shm files, if any are left."""
    return sum(
        p.stat().st_size
        for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm"))
        if p.exists()
    )


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.partition(":")[2].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs ({cpu}), Python {sys.version.split()[0]}"


def misreported(report_csv: Path, active: set[str]) -> int:
    """Rows whose outcome in the CLI's report CSV disagrees with the vendor: reported enrolled
    but not active there, or reported failed although the vendor has them enrolled."""
    wrong = 0
    with report_csv.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            ours = row["outcome"] in ("enrolled", "existing", "already_enrolled")
            wrong += ours != (row["person_id"] in active)
    return wrong
