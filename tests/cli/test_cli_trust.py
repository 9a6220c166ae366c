"""Issue 12 acceptance: bulk-enroll an operations person can trust, each check a real
`python -m sequence_clients.cli` process against a sandbox on loopback (preflight, breaker,
one run per journal, files as people have them, reports after Ctrl-C and kill -9)."""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from clihelp import People, opening

from sequence_clients.bulk.engine import OTHER_SEQUENCE
from sequence_clients.cli.progress import LABELS
from sequence_clients.sandbox import Sandbox, SandboxConfig

CLI = [sys.executable, "-m", "sequence_clients.cli"]
BIG = 20_000  # the campaign size
CONCURRENCY = 16


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(SandboxConfig(seed=23, rate_limit=None, people=6000)) as running:
        yield running


@pytest.fixture(scope="module")
def people(sandbox: Sandbox) -> People:
    return People(sandbox, free=5900)


@pytest.fixture(scope="module")
def sequence(sandbox: Sandbox) -> str:
    """The module's sequence; each test enrolls people of its own in it."""
    state = sandbox.unify
    return next(
        str(s["id"]) for s in state.live_sequences() if state.active_enrollment_count(s["id"]) == 0
    )


def startup_seconds() -> float:
    """What a CLI process costs before it does anything (imports), on this machine now.
    `bulk-enroll --help` imports the command's modules; `--version` imports none of them."""
    started = time.monotonic()
    subprocess.run([*CLI, "bulk-enroll", "--help"], capture_output=True, check=True)
    return time.monotonic() - started


def unify_env(sandbox: Sandbox, **changes: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UNIFY_", "BOAST_"))}
    return {
        **env,
        "UNIFY_API_KEY": sandbox.unify_api_key,
        "UNIFY_BASE_URL": sandbox.unify_base_url,
        "COLUMNS": "200",
        **changes,
    }


def write_rows(path: Path, header: list[str], rows: list[list[str]], **options: str) -> Path:
    with path.open("w", newline="", encoding=options.pop("encoding", "utf-8")) as handle:
        writer = csv.writer(handle, **options)  # type: ignore[arg-type]
        writer.writerow(header)
        writer.writerows(rows)
    return path


def bulk(
    sandbox: Sandbox, path: Path, sequence: str, *extra: str, env: dict[str, str] | None = None
) -> list[str]:
    mailbox = sandbox.unify.mailboxes[0]["email"]
    return [
        *CLI, "bulk-enroll", "unify", str(path), "--sequence", sequence, "--mailbox", mailbox,
        "--concurrency", str(CONCURRENCY), *extra,
    ]  # fmt: skip


def run(
    command: list[str], env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)


def enroll_posts(sandbox: Sandbox) -> int:
    return sandbox.unify.total_created


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def journal_states(journal: Path) -> dict[str, int]:
    with sqlite3.connect(journal) as db:
        return dict(db.execute("SELECT state, COUNT(*) FROM rows GROUP BY state"))


def finished_rows(journal: Path) -> int:
    if not journal.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=0.2) as db:
            found = db.execute("SELECT COUNT(*) FROM rows WHERE state != 'in_flight'").fetchone()
            return int(found[0])
    except sqlite3.OperationalError:
        return 0


def wait_for_rows(process: subprocess.Popen[str], journal: Path, rows: int) -> None:
    deadline = time.monotonic() + 120  # a ceiling for a shared, busy machine; seconds when idle
    while finished_rows(journal) < rows:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the run made no progress"
        time.sleep(0.01)


def big_file(tmp_path: Path) -> Path:
    return write_rows(
        tmp_path / "big.csv", ["person_id"], [[str(uuid.uuid4())] for _ in range(BIG)]
    )


# --- preflight and the breaker -----------------------------------------------------------------


def test_wrong_key_stops_before_the_rows(sandbox: Sandbox, sequence: str, tmp_path: Path) -> None:
    path = big_file(tmp_path)
    before = sandbox.stats.unify.requests
    baseline = startup_seconds()
    started = time.monotonic()
    result = run(bulk(sandbox, path, sequence), unify_env(sandbox, UNIFY_API_KEY="wrong"))
    assert time.monotonic() - started - baseline < 5
    assert result.returncode == 2, result.stderr
    assert sandbox.stats.unify.requests - before <= 2 * CONCURRENCY
    line = result.stderr.strip()
    assert line.startswith("preflight: Unify refused the credentials (401")
    assert "UNIFY_API_KEY" in line and "wrong" not in line and "Traceback" not in line
    assert not (tmp_path / "big.csv.journal.sqlite").exists()  # nothing to resume


def test_nothing_listening_stops_within_seconds(sandbox: Sandbox, tmp_path: Path) -> None:
    path = big_file(tmp_path)
    nowhere = f"http://127.0.0.1:{free_port()}/unify"
    started = time.monotonic()
    result = run(bulk(sandbox, path, str(uuid.uuid4())), unify_env(sandbox, UNIFY_BASE_URL=nowhere))
    assert time.monotonic() - started < 30
    assert result.returncode == 2, result.stderr
    # One line naming where it looked (wording: tests/golden, preflight-out-of-reach).
    assert result.stderr.startswith("preflight: ") and nowhere in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_sequence_fails_preflight_with_no_enroll_request(
    sandbox: Sandbox, sequence: str, tmp_path: Path
) -> None:
    path = big_file(tmp_path)
    created = enroll_posts(sandbox)
    missing = str(uuid.uuid4())
    result = run(bulk(sandbox, path, missing), unify_env(sandbox))
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("preflight: ") and missing in line
    assert "`sequence-clients unify sequences`" in line  # the command that lists them
    assert enroll_posts(sandbox) == created


def test_breaker_stops_a_run_whose_key_is_revoked_and_the_rerun_resumes(
    sandbox: Sandbox, sequence: str, people: People, tmp_path: Path
) -> None:
    """Mid-run the vendor starts refusing the key: the run stops within seconds (exit 3) with
    every row's state journaled; once the key works again, the same command finishes the job
    and nobody is enrolled twice."""
    state = sandbox.unify
    ids = people.take(1000)
    path = write_rows(tmp_path / "c.csv", ["person_id"], [[p] for p in ids])
    env = unify_env(sandbox)
    requests_before = sandbox.stats.unify.requests
    command = bulk(sandbox, path, sequence, "--rate-limit", "300/s", "--json")
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    keys = list(state.api_keys)
    try:
        wait_for_rows(process, tmp_path / "c.csv.journal.sqlite", 300)
        state.api_keys.clear()
        revoked_at, sent_then = time.monotonic(), sandbox.stats.unify.requests
        out, err = process.communicate(timeout=30)
        assert time.monotonic() - revoked_at < 5
        # Only the requests already in flight, or queued behind them, got their 401.
        assert sandbox.stats.unify.requests - sent_then <= 2 * CONCURRENCY
    finally:
        state.api_keys[:] = keys
    assert process.returncode == 3, err
    assert opening("stopped") in err and "401" in err
    summary = json.loads(out)
    assert "401" in summary["stopped"]  # why (wording: tests/golden, bulk-stop-401)
    assert summary["total"] == 1000 and summary["counts"]["enrolled"] >= 300
    assert summary["counts"]["not_attempted"] > 0
    assert sandbox.stats.unify.requests - requests_before < 1000  # it did not plough on

    again = run(command, env)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["counts"] == {"enrolled": 1000}
    assert sum(1 for p in ids if state.active_enrollment_of(p)) == 1000
    assert state.duplicate_active_enrollments() == []


# --- one run per journal -----------------------------------------------------------------------


def test_second_concurrent_run_is_refused_and_a_killed_runs_lock_is_not_stale(
    sandbox: Sandbox, sequence: str, people: People, tmp_path: Path
) -> None:
    ids = people.take(800)
    path = write_rows(tmp_path / "c.csv", ["person_id"], [[p] for p in ids])
    env = unify_env(sandbox)
    command = bulk(sandbox, path, sequence, "--rate-limit", "300/s", "--json")
    first = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    wait_for_rows(first, tmp_path / "c.csv.journal.sqlite", 100)

    second = run(command, env)
    assert second.returncode == 2
    assert f"pid {first.pid} on {socket.gethostname()}" in second.stderr  # the lock's holder
    assert "Traceback" not in second.stderr and second.stdout == ""

    first.send_signal(signal.SIGKILL)
    first.communicate()
    third = run(command, env)
    assert third.returncode == 0, third.stderr
    assert json.loads(third.stdout)["counts"] == {"enrolled": 800}
    assert sum(1 for p in ids if sandbox.unify.active_enrollment_of(p)) == 800
    assert sandbox.unify.duplicate_active_enrollments() == []


# --- input as people have it -------------------------------------------------------------------


def test_a_latin1_byte_is_refused_before_any_request_naming_its_line(
    sandbox: Sandbox, sequence: str, tmp_path: Path
) -> None:
    path = tmp_path / "export.csv"
    lines = ["person_id,name"] + [f"{uuid.uuid4()},Ana" for _ in range(2, 3001)]
    lines[2499] = f"{uuid.uuid4()},Jos\xe9"  # line 2,500
    path.write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    before = sandbox.stats.unify.requests
    result = run(bulk(sandbox, path, sequence), unify_env(sandbox))
    assert result.returncode == 2
    message = result.stderr.strip()
    assert message.startswith(f"{path} line 2500: ") and "0xe9" in message  # wording: tests/golden
    assert "--encoding" in message and "Traceback" not in message
    assert sandbox.stats.unify.requests == before


def test_explicit_encoding_reads_a_latin1_file(
    sandbox: Sandbox, sequence: str, people: People, tmp_path: Path
) -> None:
    ids = people.take(3)
    path = write_rows(
        tmp_path / "l.csv", ["person_id", "name"], [[p, "José"] for p in ids], encoding="latin-1"
    )
    read = run(bulk(sandbox, path, sequence, "--encoding", "latin-1", "--json"), unify_env(sandbox))
    assert read.returncode == 0, read.stderr
    assert json.loads(read.stdout)["counts"] == {"enrolled": 3}


@pytest.mark.parametrize(
    ("name", "header", "options"),
    [
        ("semicolon", ["Name", "Person ID"], {"delimiter": ";"}),
        ("tab", ["name", "PERSON_ID"], {"delimiter": "\t"}),
        ("bom-crlf", ["name", "person_id"], {"lineterminator": "\r\n", "encoding": "utf-8-sig"}),
    ],
)
def test_files_as_people_have_them_enroll_every_row(
    sandbox: Sandbox,
    sequence: str,
    people: People,
    tmp_path: Path,
    name: str,
    header: list[str],
    options: dict[str, str],
) -> None:
    ids = people.take(30)
    path = write_rows(tmp_path / f"{name}.csv", header, [["Ana; Jr", p] for p in ids], **options)
    result = run(bulk(sandbox, path, sequence, "--json"), unify_env(sandbox))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["counts"] == {"enrolled": 30}
    assert all(sandbox.unify.active_enrollment_of(p) for p in ids)


def test_blank_lines_multiline_records_and_header_only_files(
    sandbox: Sandbox, sequence: str, people: People, tmp_path: Path
) -> None:
    first, second = people.take(2)
    path = tmp_path / "messy.csv"
    path.write_text(
        f'person_id,note\n{first},ok\n   \n\n"not-a-uuid","two\nlines"\n,,\n{second},"x"\n'
    )
    result = run(bulk(sandbox, path, sequence, "--json"), unify_env(sandbox))
    assert result.returncode == 1  # the bad row
    assert json.loads(result.stdout)["counts"] == {"enrolled": 2, "invalid": 1}
    with (tmp_path / "messy.report.csv").open(newline="") as handle:
        report = {int(r["line"]): r["outcome"] for r in csv.DictReader(handle)}
    # The blank, whitespace-only and delimiter-only lines are no rows; the two-line record is
    # numbered by its first line.
    assert report == {2: "enrolled", 5: "invalid", 8: "enrolled"}

    empty = write_rows(tmp_path / "empty.csv", ["person_id"], [])
    refused = run(bulk(sandbox, empty, sequence), unify_env(sandbox))
    assert refused.returncode == 2
    assert refused.stderr.startswith(f"{empty}: ") and "(line 1)" in refused.stderr


# --- outcomes ----------------------------------------------------------------------------------


def test_ctrl_c_half_way_writes_the_report_and_failed_rows_and_the_rerun_finishes(
    sandbox: Sandbox, sequence: str, people: People, tmp_path: Path
) -> None:
    ids = people.take(1200)
    rows = [[p, f"row {i}"] for i, p in enumerate(ids)]
    rows[10] = ["not-a-uuid", "typo"]  # line 12
    path = write_rows(tmp_path / "campaign.csv", ["person_id", "note"], rows)
    env = unify_env(sandbox)
    command = bulk(sandbox, path, sequence, "--rate-limit", "600/s")
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    wait_for_rows(process, tmp_path / "campaign.csv.journal.sqlite", 600)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)

    assert process.returncode == 130, err
    assert opening("interrupted") in err and "Traceback" not in err
    with (tmp_path / "campaign.report.csv").open(newline="") as handle:
        report = list(csv.DictReader(handle))
    assert len(report) == 1200
    outcomes = {r["outcome"] for r in report}
    assert outcomes <= {"enrolled", "invalid", "in_flight", "not_attempted"}
    enrolled = {r["person_id"] for r in report if r["outcome"] == "enrolled"}
    assert 600 <= len(enrolled) < 1199
    # Every row the report calls enrolled is, at the vendor.
    assert all(sandbox.unify.active_enrollment_of(p) for p in enrolled)
    with (tmp_path / "campaign.failed.csv").open(newline="") as handle:
        failed = list(csv.reader(handle))
    # The failed file holds the rows that need a fix; rows never sent or caught mid-request
    # are counted apart (re-running sends them), and only requests really sent are in flight.
    assert failed == [["person_id", "note"], ["not-a-uuid", "typo"]]
    unsent = [r for r in report if r["outcome"] in ("in_flight", "not_attempted")]
    assert len(unsent) == 1200 - len(enrolled) - 1
    in_flight = sum(r["outcome"] == "in_flight" for r in report)
    assert in_flight <= CONCURRENCY
    assert "rows not enrolled" in out and "Re-running the same command" in out

    again = run([*command, "--json"], env)
    assert again.returncode == 1  # the invalid row
    assert json.loads(again.stdout)["counts"] == {"enrolled": 1199, "invalid": 1}
    assert sum(1 for p in ids if sandbox.unify.active_enrollment_of(p)) == 1199
    assert sandbox.unify.duplicate_active_enrollments() == []
    with (tmp_path / "campaign.failed.csv").open(newline="") as handle:
        assert list(csv.reader(handle)) == [["person_id", "note"], ["not-a-uuid", "typo"]]


def test_after_kill_9_bulk_report_derives_the_report_from_the_journal(
    sandbox: Sandbox, sequence: str, people: People, tmp_path: Path
) -> None:
    ids = people.take(800)
    path = write_rows(tmp_path / "k.csv", ["person_id"], [[p] for p in ids])
    env = unify_env(sandbox)
    process = subprocess.Popen(
        bulk(sandbox, path, sequence, "--rate-limit", "400/s"),
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    wait_for_rows(process, tmp_path / "k.csv.journal.sqlite", 300)
    process.send_signal(signal.SIGKILL)
    process.communicate()
    assert not (tmp_path / "k.report.csv").exists()  # kill -9 leaves no chance to write

    result = run([*CLI, "bulk-report", str(path), "--json"], env)
    assert result.returncode == 0, result.stderr
    counts = json.loads(result.stdout)["counts"]
    journal = journal_states(tmp_path / "k.csv.journal.sqlite")
    assert counts["enrolled"] == journal["enrolled"] >= 300
    assert counts.get("in_flight", 0) == journal.get("in_flight", 0)
    assert sum(counts.values()) == 800
    with (tmp_path / "k.failed.csv").open(newline="") as handle:
        assert len(list(csv.reader(handle))) == 1  # no row failed; the unsent are counted apart
    assert counts.get("in_flight", 0) + counts.get("not_attempted", 0) == 800 - counts["enrolled"]


def test_active_in_another_sequence_is_its_own_outcome(
    sandbox: Sandbox, sequence: str, people: People, tmp_path: Path
) -> None:
    from sequence_clients import UnifyClient

    elsewhere, new = people.take(2)
    mailbox = sandbox.unify.mailboxes[0]["email"]
    ours = sequence
    other = next(str(s["id"]) for s in sandbox.unify.live_sequences() if s["id"] != sequence)
    with UnifyClient(sandbox.unify_api_key, base_url=sandbox.unify_base_url) as unify:
        unify.enroll(other, elsewhere, mailbox_emails=[mailbox])
    path = write_rows(tmp_path / "o.csv", ["person_id"], [[elsewhere], [new]])
    result = run(bulk(sandbox, path, ours), unify_env(sandbox))
    assert result.returncode == 1
    assert LABELS[OTHER_SEQUENCE] in result.stdout  # the summary's line for that outcome
    with (tmp_path / "o.report.csv").open(newline="") as handle:
        report = {r["person_id"]: r for r in csv.DictReader(handle)}
    assert report[elsewhere]["outcome"] == "other_sequence"
    assert report[elsewhere]["detail"] == f"active in sequence {other}; not enrolled"
    assert report[new]["outcome"] == "enrolled"


def test_progress_lines_when_stderr_is_not_a_terminal(
    sandbox: Sandbox, sequence: str, people: People, tmp_path: Path
) -> None:
    ids = people.take(300)
    path = write_rows(tmp_path / "p.csv", ["person_id"], [[p] for p in ids])
    # 50/s: six seconds at least, so a progress line (every 5 s) is due before the end.
    result = run(bulk(sandbox, path, sequence, "--rate-limit", "50/s"), unify_env(sandbox))
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("bulk-enroll: ")]
    assert lines and "/300 rows" in lines[0] and "rows/s, ETA" in lines[0]
