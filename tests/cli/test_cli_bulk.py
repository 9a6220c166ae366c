"""`sequence-clients bulk-enroll unify ...` in-process against the shared sandbox: bad rows,
conflict modes, the report CSV, resuming a journal left by an interrupted run."""

from __future__ import annotations

import csv
import socket
import uuid
from pathlib import Path

import pytest
from clihelp import run_cli, take_people

from sequence_clients import UnifyClient
from sequence_clients.bulk.journal import Journal
from sequence_clients.bulk.rows import Row
from sequence_clients.sandbox import Sandbox

FAST = ("--rate-limit", "100000/s")


def write_csv(path: Path, lines: list[list[str]]) -> Path:
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows(lines)
    return path


def read_report(path: Path) -> dict[int, dict[str, str]]:
    with path.open(newline="") as handle:
        return {int(row["line"]): row for row in csv.DictReader(handle)}


def active_count(sandbox: Sandbox, person: str) -> int:
    return sum(1 for e in sandbox.unify.enrollments.values() if e.person_id == person and e.active)


def test_bad_rows_are_reported_with_line_numbers_and_the_rest_enrolled(
    unify_env: Sandbox, session_sequence: str, tmp_path: Path
) -> None:
    people = take_people(unify_env, 6)
    mailbox = unify_env.unify.mailboxes[1]["email"]
    csv_path = write_csv(
        tmp_path / "people.csv",
        [
            ["name", "person_id", "mailbox_email"],
            ["a", people[0], ""],  # line 2
            ["b", "not-a-uuid", ""],  # 3
            ["c", people[1], "not-an-email"],  # 4
            ["d"],  # 5: short row, no person_id
            ["e", "", ""],  # 6
            ["f", people[2], mailbox],  # 7: its own mailbox
            ["g", people[0], ""],  # 8: same person again
            ["h", people[3].upper(), ""],  # 9: UUIDs are case-insensitive
        ],
    )
    default_mailbox = unify_env.unify.mailboxes[0]["email"]
    result = run_cli(
        "bulk-enroll",
        "unify",
        str(csv_path),
        "--sequence",
        session_sequence,
        "-m",
        default_mailbox,
        *FAST,
    )

    assert result.exit_code == 1, result.stderr  # invalid rows make the run fail
    assert "Traceback" not in result.stderr
    report = read_report(tmp_path / "people.report.csv")
    assert sorted(report) == [2, 3, 4, 5, 6, 7, 8, 9]
    assert {line: row["outcome"] for line, row in report.items()} == {
        2: "enrolled", 3: "invalid", 4: "invalid", 5: "invalid", 6: "invalid",
        7: "enrolled", 8: "duplicate", 9: "enrolled",
    }  # fmt: skip
    assert report[3]["detail"] == "person_id is not a UUID: 'not-a-uuid'"
    assert report[4]["detail"] == "mailbox_email is not an email: 'not-an-email'"
    assert report[5]["detail"] == "missing column 'person_id'"
    assert report[6]["detail"] == "person_id is empty"
    for line in (2, 7, 9):
        assert unify_env.unify.enrollments[report[line]["enrollment_id"]].active
    assert [active_count(unify_env, p) for p in people[:4]] == [1, 0, 1, 1]
    assert (
        unify_env.unify.mailbox(unify_env.unify.enrollments[report[7]["enrollment_id"]].mailbox_id)[
            "email"
        ]
        == mailbox
    )
    # On screen: the counts and the problem rows with their line numbers.
    assert "invalid row" in result.stdout and "not-a-uuid" in result.stdout
    assert "│ 3 " in result.stdout and "│ 6 " in result.stdout


@pytest.mark.parametrize(
    ("mode", "same", "other", "exit_code"),
    [
        # Active in another sequence: not enrolled, its own outcome, and the run says so (exit 1).
        ("skip", "already_enrolled", "other_sequence", 1),
        ("return-existing", "existing", "failed", 1),
        ("fail", "failed", "failed", 1),
    ],
)
def test_on_conflict_modes(
    unify_env: Sandbox,
    session_sequence: str,
    tmp_path: Path,
    mode: str,
    same: str,
    other: str,
    exit_code: int,
) -> None:
    state = unify_env.unify
    mailbox = state.mailboxes[0]["email"]
    in_ours, elsewhere, new = take_people(unify_env, 3)
    other_sequence = next(s["id"] for s in state.live_sequences() if s["id"] != session_sequence)
    with UnifyClient(unify_env.unify_api_key, base_url=unify_env.unify_base_url) as unify:
        existing = unify.enroll(session_sequence, in_ours, mailbox_emails=[mailbox])
        unify.enroll(other_sequence, elsewhere, mailbox_emails=[mailbox])
    csv_path = write_csv(tmp_path / "c.csv", [["person_id"], [in_ours], [elsewhere], [new]])
    report_path = tmp_path / "out.csv"

    result = run_cli(
        "bulk-enroll", "unify", str(csv_path), "--sequence", session_sequence, "-m", mailbox,
        "--on-conflict", mode, "--report", str(report_path), "--json", *FAST,
    )  # fmt: skip

    assert result.exit_code == exit_code, result.stderr
    report = read_report(report_path)
    assert [report[line]["outcome"] for line in (2, 3, 4)] == [same, other, "enrolled"]
    assert report[2]["enrollment_id"] == str(existing.id)
    assert other_sequence in report[3]["detail"]
    summary = result.json()
    assert summary["counts"]["enrolled"] == 1 and summary["total"] == 3
    assert summary["report"] == str(report_path)
    assert [active_count(unify_env, p) for p in (in_ours, elsewhere, new)] == [1, 1, 1]
    assert state.duplicate_active_enrollments() == []


@pytest.mark.parametrize("applied", [True, False])
def test_resume_resolves_in_flight_rows_without_enrolling_twice(
    unify_env: Sandbox, session_sequence: str, tmp_path: Path, applied: bool
) -> None:
    """A run killed mid-request leaves rows in_flight; whether or not the vendor applied
    them, the re-run ends with exactly one enrollment each and skips finished rows."""
    state = unify_env.unify
    mailbox = state.mailboxes[0]["email"]
    people = take_people(unify_env, 6)
    csv_path = write_csv(tmp_path / "r.csv", [["person_id"], *([p] for p in people)])
    # The interrupted run: rows 0-1 finished, rows 2-5 marked in_flight; the requests of
    # rows 2-3 reached the vendor (or not, per `applied`), rows 4-5 were never sent.
    journal = Journal(tmp_path / "r.csv.journal.sqlite", "unify", session_sequence)
    journal.begin_run()
    claimed = journal.claim([Row(i + 2, p) for i, p in enumerate(people)])
    assert [c.action for c in claimed] == ["send"] * 6
    with UnifyClient(unify_env.unify_api_key, base_url=unify_env.unify_base_url) as unify:
        for claim in claimed[:2]:
            made = unify.enroll(session_sequence, claim.row.key, mailbox_emails=[mailbox])
            journal.record(claim.row, "enrolled", str(made.id), "", False)
        if applied:
            for person in people[2:4]:
                unify.enroll(session_sequence, person, mailbox_emails=[mailbox])
    journal.close()
    requests_before = unify_env.stats.unify.requests

    result = run_cli(
        "bulk-enroll",
        "unify",
        str(csv_path),
        "--sequence",
        session_sequence,
        "-m",
        mailbox,
        "--json",
        *FAST,
    )

    assert result.exit_code == 0, result.stderr
    summary = result.json()
    assert summary["counts"] == {"enrolled": 6}
    assert summary["done_earlier"] == 2 and summary["recovered"] == 4
    assert [active_count(unify_env, p) for p in people] == [1] * 6
    # Preflight's one page of sequences, then only the four unresolved rows were sent (an
    # applied one costs a 409 and a GET).
    assert unify_env.stats.unify.requests - requests_before == 1 + (6 if applied else 4)
    report = read_report(tmp_path / "r.report.csv")
    assert all("resumed" in report[line]["detail"] for line in (4, 5, 6, 7))

    again = run_cli(
        "bulk-enroll",
        "unify",
        str(csv_path),
        "--sequence",
        session_sequence,
        "-m",
        mailbox,
        "--json",
        *FAST,
    )
    assert again.json()["done_earlier"] == 6
    assert unify_env.stats.unify.requests - requests_before == 2 + (6 if applied else 4)


def test_unusable_input_is_one_message_with_exit_2(
    unify_env: Sandbox, session_sequence: str, tmp_path: Path
) -> None:
    no_column = write_csv(tmp_path / "x.csv", [["email"], ["a@b.co"]])
    result = run_cli(
        "bulk-enroll", "unify", str(no_column), "--sequence", session_sequence, "-m", "a@b.co"
    )
    assert result.exit_code == 2
    assert str(no_column) in result.stderr and "'person_id'" in result.stderr  # see tests/golden

    good = write_csv(tmp_path / "y.csv", [["person_id"], [str(uuid.uuid4())]])
    bad_rate = run_cli(
        "bulk-enroll", "unify", str(good), "--sequence", session_sequence, "--rate-limit", "fast"
    )
    assert bad_rate.exit_code == 2 and "--rate-limit" in bad_rate.stderr
    bad_storage = run_cli(
        "bulk-enroll", "unify", str(good), "--sequence", session_sequence, "-m", "a@b.co",
        "--rate-limit-storage", "mysql://db/limits",
    )  # fmt: skip
    assert bad_storage.exit_code == 2
    assert "memory:// or redis://" in bad_storage.stderr and "Traceback" not in bad_storage.stderr
    bad_sequence = run_cli("bulk-enroll", "unify", str(good), "--sequence", "nope")
    assert bad_sequence.exit_code == 2 and "--sequence must be a UUID" in bad_sequence.stderr


def test_bulk_without_credentials_explains(tmp_path: Path) -> None:
    good = write_csv(tmp_path / "y.csv", [["person_id"], [str(uuid.uuid4())]])
    result = run_cli(
        "bulk-enroll", "unify", str(good), "--sequence", str(uuid.uuid4()), "-m", "a@b.co"
    )
    assert result.exit_code == 2
    assert "UNIFY_API_KEY" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "y.csv.journal.sqlite").exists()


def test_unreachable_redis_limit_falls_back_says_so_once_and_enrolls_every_row(
    unify_env: Sandbox, session_sequence: str, tmp_path: Path
) -> None:
    """`--rate-limit-storage` reaches the client's shared limit: with nothing listening there,
    the run keeps the limit in-process, warns once, and loses no row."""
    people = take_people(unify_env, 5)
    csv_path = write_csv(tmp_path / "people.csv", [["person_id"], *([p] for p in people)])
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    result = run_cli(
        "bulk-enroll", "unify", str(csv_path), "--sequence", session_sequence,
        "-m", unify_env.unify.mailboxes[0]["email"], "--json", *FAST,
        "--rate-limit-storage", f"redis://127.0.0.1:{dead_port}/0",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert all(active_count(unify_env, person) == 1 for person in people)
    warnings = [line for line in result.stderr.splitlines() if "unreachable" in line]
    assert len(warnings) == 1, result.stderr
    assert f"127.0.0.1:{dead_port}" in warnings[0] and "this process alone" in warnings[0]
