"""`sequence-clients boast ...` and `bulk-enroll boast` against the shared sandbox."""

from __future__ import annotations

import csv
import json
import uuid
from pathlib import Path

import pytest
from clihelp import run_cli, take_contacts

from sequence_clients.bulk.journal import Journal
from sequence_clients.bulk.rows import Row
from sequence_clients.sandbox import Sandbox
from sequence_clients.token_stores import fingerprint

TOKEN_FILE = Path("home/.config/sequence-clients/boast-token.json")


def test_enroll_get_list_remove_as_json(boast_env: Sandbox, boast_sequence: str) -> None:
    (contact,) = take_contacts(boast_env, 1)
    created = run_cli("boast", "enroll", contact, boast_sequence, "--json")
    assert created.exit_code == 0, created.stderr
    enrollment = created.json()
    assert (enrollment["contact_id"], enrollment["sequence_id"], enrollment["status"]) == (
        contact, boast_sequence, "active",
    )  # fmt: skip
    eid = enrollment["id"]
    assert run_cli("boast", "get", eid, "--json").json()["id"] == eid
    listed = run_cli("boast", "list", "--contact", contact, "--json").json()
    assert [e["id"] for e in listed] == [eid]
    assert run_cli("boast", "remove", eid, "--json").json()["status"] == "removed"
    assert boast_env.boast.active_enrollment_count(boast_sequence, contact) == 0


def test_tables_and_conflict(boast_env: Sandbox, boast_sequence: str) -> None:
    (contact,) = take_contacts(boast_env, 1)
    created = run_cli("boast", "enroll", contact, boast_sequence)
    assert created.exit_code == 0 and contact in created.stdout and "active" in created.stdout

    again = run_cli("boast", "enroll", contact, boast_sequence)
    assert again.exit_code == 1
    assert (
        again.stderr.startswith("error: AlreadyEnrolledError:")
        and "already_enrolled" in again.stderr
    )
    assert len(again.stderr.strip().splitlines()) == 1
    existing = run_cli("boast", "enroll", contact, boast_sequence, "--return-existing", "--json")
    assert existing.exit_code == 0 and existing.json()["contact_id"] == contact

    listed = run_cli("boast", "list", "--contact", contact, "--status", "active")
    assert "Enrollments (1)" in listed.stdout and existing.json()["id"] in listed.stdout
    removed = run_cli("boast", "remove", existing.json()["id"])
    assert removed.exit_code == 0 and "removed" in removed.stdout


@pytest.mark.parametrize(
    ("command", "title", "expected"),
    [("accounts", "Accounts", 2), ("sequences", "Sequences", 8), ("contacts", "Contacts", 50)],
)
def test_account_listings(boast_env: Sandbox, command: str, title: str, expected: int) -> None:
    as_json = run_cli("boast", command, "--json").json()
    assert len(as_json) == expected
    table = run_cli("boast", command)
    assert f"{title} ({expected})" in table.stdout and as_json[0]["id"] in table.stdout


def test_missing_credentials_explain_and_exit_2() -> None:
    result = run_cli("boast", "sequences")
    assert result.exit_code == 2
    assert "BOAST_ACCESS_TOKEN" in result.stderr and "sequence-clients demo" in result.stderr


def test_rotated_refresh_token_is_saved_and_used_next_time(
    boast_env: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Boast rotates refresh tokens: the CLI saves the new one, and the next run (whose
    environment still holds the old, now rejected, refresh token) starts from the saved one."""
    state = boast_env.boast
    import os

    state.revoke(os.environ["BOAST_ACCESS_TOKEN"])  # the next call answers 401 -> refresh
    first = run_cli("boast", "accounts", "--json")
    assert first.exit_code == 0, first.stderr
    saved = json.loads((tmp_path / TOKEN_FILE).read_text())
    # The file remembers where it started from and what it rotated past, by fingerprint only.
    assert saved["seeded_by"] == fingerprint(os.environ["BOAST_REFRESH_TOKEN"])
    assert saved["retired"] == [fingerprint(os.environ["BOAST_REFRESH_TOKEN"])]
    assert saved["refresh_token"] != os.environ["BOAST_REFRESH_TOKEN"]
    assert (tmp_path / TOKEN_FILE).stat().st_mode & 0o777 == 0o600

    state.revoke(saved["access_token"])  # force a second refresh, from the saved token
    second = run_cli("boast", "accounts", "--json")
    assert second.exit_code == 0, second.stderr
    again = json.loads((tmp_path / TOKEN_FILE).read_text())
    assert again["retired"][-1] == fingerprint(saved["refresh_token"])
    assert again["generation"] == saved["generation"] + 1
    assert not state.revoked_grants


def test_bulk_enroll_boast_with_bad_row_and_resume(
    boast_env: Sandbox, boast_sequence: str, tmp_path: Path
) -> None:
    state = boast_env.boast
    contacts = take_contacts(boast_env, 5)
    csv_path = tmp_path / "contacts.csv"
    with csv_path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["email", "contact_id"])
        writer.writerows([["x@y.co", c] for c in contacts])
        writer.writerow(["bad@y.co", "12345"])
    # An interrupted earlier run: contact 0 enrolled but left in_flight, contact 1 in_flight only.
    journal = Journal(tmp_path / "contacts.csv.journal.sqlite", "boast", boast_sequence)
    journal.begin_run()
    journal.claim([Row(2, contacts[0]), Row(3, contacts[1])])
    journal.close()
    assert run_cli("boast", "enroll", contacts[0], boast_sequence).exit_code == 0

    result = run_cli("bulk-enroll", "boast", str(csv_path), "--sequence", boast_sequence, "--json")

    assert result.exit_code == 1  # the bad row
    summary = result.json()
    assert summary["counts"] == {"enrolled": 5, "invalid": 1} and summary["recovered"] == 2
    assert [state.active_enrollment_count(boast_sequence, c) for c in contacts] == [1] * 5
    assert state.duplicate_active_enrollments() == []
    with (tmp_path / "contacts.report.csv").open(newline="") as handle:
        report = {row["line"]: row for row in csv.DictReader(handle)}
    assert report["7"]["outcome"] == "invalid" and report["7"]["contact_id"] == "12345"
    assert "contact_id is not a UUID" in report["7"]["detail"]

    mailbox = run_cli(
        "bulk-enroll", "boast", str(csv_path), "--sequence", boast_sequence, "-m", "a@b.co"
    )
    assert mailbox.exit_code == 2 and "--mailbox is for Unify" in mailbox.stderr
    unknown = run_cli("boast", "get", str(uuid.uuid4()))
    assert unknown.exit_code == 1 and unknown.stderr.startswith("error: NotFoundError")
