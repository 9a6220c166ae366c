"""Campaign commands: vendor text on screen, the message table held by a golden file, Boast's
undo and refused pause, an undo stopped by the breaker and resumed, CSV output. The engine's
own campaign tests are in tests/bulk/test_campaign.py."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from bulk_helpers import states
from clihelp import UnifyIds, run_cli, take_contacts

from sequence_clients.bulk.journal import (
    ReportLine,
)
from sequence_clients.cli.messages import count
from sequence_clients.cli.progress import print_problems
from sequence_clients.sandbox import Sandbox

# --- on screen -----------------------------------------------------------------------------------


def test_vendor_codes_in_brackets_show_as_sent(capsys: pytest.CaptureFixture[str]) -> None:
    detail = "404 [not_found]: Person [bold]x[/bold] not found"
    print_problems([ReportLine(2, "k", "failed", "", detail)], 1)
    assert detail in capsys.readouterr().out


@pytest.mark.parametrize(
    ("n", "expected"), [(0, "0 rows"), (1, "1 row"), (2, "2 rows"), (1204, "1,204 rows")]
)
def test_counts_read_right_in_the_singular(n: int, expected: str) -> None:
    assert count(n, "row") == expected


# --- Boast: undo removes, pause is refused -------------------------------------------------------


def test_boast_undo_removes_the_campaigns_enrollments_and_pause_is_refused(
    boast_env: Sandbox, boast_sequence: str, tmp_path: Path
) -> None:
    state = boast_env.boast
    contacts = take_contacts(boast_env, 4)
    assert run_cli("boast", "enroll", contacts[0], boast_sequence).exit_code == 0  # beforehand
    csv_path = tmp_path / "contacts.csv"
    csv_path.write_text("contact_id\n" + "\n".join(contacts) + "\n", encoding="utf-8")
    enrolled = run_cli("bulk-enroll", "boast", str(csv_path), "--sequence", boast_sequence)
    assert enrolled.exit_code == 0, enrolled.stderr

    preview = run_cli("bulk-undo", "boast", str(csv_path), "--dry-run")
    assert preview.exit_code == 0 and "3 enrollments" in preview.stdout
    assert all(state.active_enrollment(c, boast_sequence) for c in contacts)  # nothing sent
    undone = run_cli("bulk-undo", "boast", str(csv_path), "--json")
    assert undone.exit_code == 0, undone.stderr
    assert undone.json()["counts"] == {"undone": 3, "already_enrolled": 1}
    active = [state.active_enrollment(c, boast_sequence) is not None for c in contacts]
    assert active == [True, False, False, False]

    wrong_vendor = run_cli("bulk-undo", "unify", str(csv_path))
    assert wrong_vendor.exit_code == 2
    paused = run_cli("bulk-pause", "boast", str(csv_path))
    assert paused.exit_code == 2 and "nothing was sent" in paused.stderr
    other = tmp_path / "other.csv"
    other.write_text(csv_path.read_text(encoding="utf-8"), encoding="utf-8")
    no_journal = run_cli("bulk-undo", "boast", str(other))
    assert no_journal.exit_code == 2 and "other.csv.journal.sqlite" in no_journal.stderr


def test_undo_with_refused_credentials_stops_on_the_breaker_and_resumes(
    unify_env: Sandbox, fresh_ids: UnifyIds, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    csv_path = tmp_path / "people.csv"
    csv_path.write_text("person_id\n" + "\n".join(fresh_ids.people) + "\n", encoding="utf-8")
    enrolled = run_cli(
        "bulk-enroll", "unify", str(csv_path), "--sequence", fresh_ids.sequence_id,
        "-m", fresh_ids.mailbox,
    )  # fmt: skip
    assert enrolled.exit_code == 0, enrolled.stderr
    monkeypatch.setenv("UNIFY_API_KEY", "revoked-key")
    stopped = run_cli("bulk-undo", "unify", str(csv_path), "--concurrency", "1")
    assert stopped.exit_code == 3, stopped.stderr
    journal = states(tmp_path / "people.csv.journal.sqlite")
    assert sorted(set(journal.values())) == ["enrolled", "undo_failed"]  # the rest released
    assert all(unify_env.unify.active_enrollment_of(p) for p in fresh_ids.people)

    monkeypatch.setenv("UNIFY_API_KEY", unify_env.unify_api_key)
    resumed = run_cli("bulk-undo", "unify", str(csv_path), "--json")
    assert resumed.exit_code == 0, resumed.stderr
    assert resumed.json()["counts"] == {"undone": len(fresh_ids.people)}
    assert not any(unify_env.unify.active_enrollment_of(p) for p in fresh_ids.people)


def test_boast_lists_take_csv_output(boast_env: Sandbox, boast_sequence: str) -> None:
    listed = run_cli("boast", "sequences", "--output", "csv")
    assert listed.exit_code == 0, listed.stderr
    rows = list(csv.DictReader(listed.stdout.splitlines()))
    assert boast_sequence in {row["id"] for row in rows}
    assert set(rows[0]) == {"id", "name", "status", "created_at"}
