"""Campaigns below the CLI: the journal's campaign record and refusal, undo through the
engine (only what the campaign enrolled, resumable), claims released when never sent, the
dry run's read-only client (counted at the sandbox), vendor text on screen, and the message
table held by a golden file."""

from __future__ import annotations

import asyncio
import csv
import json
import sqlite3
import string
import uuid
from pathlib import Path

import pytest
from clihelp import UnifyIds, run_cli, take_contacts
from test_cli_engine import conflict

from sequence_clients.cli.bulk import run_bulk_enroll, run_bulk_undo
from sequence_clients.cli.journal import (
    UNDO_IN_FLIGHT,
    Campaign,
    Journal,
    ReportLine,
    read_campaign,
    set_aside,
)
from sequence_clients.cli.messages import MESSAGES, count
from sequence_clients.cli.progress import print_problems
from sequence_clients.cli.report import write_reports
from sequence_clients.cli.rows import UNIFY_ROWS, Row, open_csv
from sequence_clients.cli.vendors import WriteRefusedError, unify_enroller
from sequence_clients.sandbox import Sandbox

SEQUENCE = str(uuid.uuid4())
GOLDEN = Path(__file__).parent / "golden" / "campaign_messages.json"


def rows(n: int) -> list[Row]:
    return [Row(line=i + 2, key=str(uuid.UUID(int=i + 1))) for i in range(n)]


def states(path: Path) -> dict[str, str]:
    with sqlite3.connect(path) as db:
        return dict(db.execute("SELECT key, state FROM rows"))


async def enroll_all(key: str) -> str:
    return "e-" + key


# --- one campaign, one journal -------------------------------------------------------------------


def test_the_first_run_records_the_campaign_and_other_settings_differ(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    Journal(path, "unify", SEQUENCE, mailboxes=("A@x.example",)).close()
    Journal(path, "unify", SEQUENCE, mailboxes=("other@x.example",)).close()  # kept: the first
    found = read_campaign(path)
    assert found == Campaign("unify", SEQUENCE, ("A@x.example",))
    assert found.differences(Campaign("unify", SEQUENCE, ("a@x.example",))) == []
    changed = found.differences(Campaign("boast", "other", ()))
    assert [name for name, _, _ in changed] == ["vendor", "sequence", "mailboxes"]


def test_setting_a_journal_aside_keeps_what_its_wal_held(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    journal = Journal(path, "unify", SEQUENCE, mailboxes=())
    journal.begin_run()
    journal.claim(rows(3))  # committed to the WAL; the connection is left open, as by kill -9
    moved = set_aside(path)
    journal.close()
    assert not path.exists() and moved.exists()
    assert len(states(moved)) == 3


# --- undo through the engine ---------------------------------------------------------------------


async def test_undo_cancels_only_the_rows_the_campaign_enrolled(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    journal = Journal(path, "unify", SEQUENCE, mailboxes=())
    given = rows(6)

    async def enroll(row: Row, resume: bool) -> str:
        if row.key == given[0].key:
            raise conflict(SEQUENCE)  # enrolled before the campaign: skipped
        return "e-" + row.key

    await run_bulk_enroll(given, enroll, journal)
    cancelled: list[tuple[str, bool]] = []

    async def undo(enrollment_id: str, resume: bool) -> None:
        cancelled.append((enrollment_id, resume))

    report = await run_bulk_undo(undo, journal, concurrency=2)
    assert sorted(cancelled) == sorted(("e-" + r.key, False) for r in given[1:])
    assert report.counts == {"undone": 5}
    assert states(path)[given[0].key] == "already_enrolled"  # untouched
    again = await run_bulk_undo(undo, journal)
    assert again.counts == {} and len(cancelled) == 5  # undone stays undone
    # Enrolling the same file again does not enroll the undone people again.
    sent: list[str] = []

    async def record(row: Row, resume: bool) -> str:
        sent.append(row.key)
        return "e-" + row.key

    await run_bulk_enroll(given, record, journal)
    assert sent == []
    journal.close()


async def test_an_interrupted_undo_resumes_looking_first_and_never_claims_unsent_rows(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.sqlite"
    journal = Journal(path, "unify", SEQUENCE, mailboxes=(), flush_every=1)
    await run_bulk_enroll(rows(40), lambda row, resume: enroll_all(row.key), journal)
    calls: list[tuple[str, bool]] = []
    gate = asyncio.Event()

    async def hanging(enrollment_id: str, resume: bool) -> None:
        calls.append((enrollment_id, resume))
        if len(calls) > 3:
            await gate.wait()  # never set: cancelled while in flight

    task = asyncio.create_task(run_bulk_undo(hanging, journal, concurrency=2))
    while len(calls) < 5:
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    after = list(states(path).values())
    # Only the two requests really in flight stay marked; the claimed-but-unsent went back.
    assert after.count(UNDO_IN_FLIGHT) == 2 and after.count("undone") == 3
    assert after.count("enrolled") == 35

    calls.clear()

    async def fine(enrollment_id: str, resume: bool) -> None:
        calls.append((enrollment_id, resume))

    report = await run_bulk_undo(fine, journal)
    assert report.counts == {"undone": 37} and report.recovered == 2
    assert sum(resume for _, resume in calls) == 2
    journal.close()


async def test_an_interrupted_enroll_leaves_in_flight_only_what_was_sent(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    journal = Journal(path, "unify", SEQUENCE, flush_every=1)
    calls: list[str] = []
    gate = asyncio.Event()

    async def hanging(row: Row, resume: bool) -> str:
        calls.append(row.key)
        if len(calls) > 3:
            await gate.wait()
        return "e-" + row.key

    task = asyncio.create_task(run_bulk_enroll(rows(200), hanging, journal, concurrency=2))
    while len(calls) < 5:
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    journal.close()
    assert sorted(states(path).values()) == ["enrolled"] * 3 + ["in_flight"] * 2


# --- the dry run's client ------------------------------------------------------------------------


async def test_a_read_only_client_reads_but_no_write_leaves(
    unify_env: Sandbox, fresh_ids: UnifyIds
) -> None:
    stats = unify_env.stats.unify
    before = dict(stats.methods)
    async with unify_enroller(
        unify_env.unify_api_key, fresh_ids.sequence_id, base_url=unify_env.unify_base_url,
        read_only=True, max_retries=2,
    ) as enroller:  # fmt: skip
        await enroller.preflight()  # reads are allowed: the sequence is found
        row = Row(2, fresh_ids.people[0], (fresh_ids.mailbox,))
        with pytest.raises(WriteRefusedError) as refused:
            await enroller.enroll(row, False)
        with pytest.raises(WriteRefusedError):
            await enroller.undo(str(uuid.uuid4()), False)
    assert refused.value.method == "POST"
    after = dict(stats.methods)
    assert after.get("GET", 0) > before.get("GET", 0)
    assert {m: n for m, n in after.items() if m != "GET"} == {
        m: n for m, n in before.items() if m != "GET"
    }
    assert unify_env.unify.active_enrollment_of(fresh_ids.people[0]) is None


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


def test_the_message_table_is_held_by_its_golden_file() -> None:
    """Wording changes are deliberate: regenerate the golden file with the new table."""
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert golden == MESSAGES
    for template in MESSAGES.values():  # every placeholder is a plain name
        for _, name, spec, _ in string.Formatter().parse(template):
            assert name is None or (name.isidentifier() and not spec)


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


async def test_the_report_says_what_the_journal_holds_even_if_a_cell_went_bad(
    tmp_path: Path,
) -> None:
    """A later edit of the file (a mailbox cell broken) never turns an enrolled row into
    "invalid" in the report: the journal's state wins for a valid id it holds."""
    people = rows(2)
    csv_path = tmp_path / "c.csv"
    csv_path.write_text(
        "person_id,mailbox_email\n" + "".join(f"{r.key},rep@x.example\n" for r in people),
        encoding="utf-8",
    )
    journal = Journal(tmp_path / "j.sqlite", "unify", SEQUENCE, mailboxes=())
    source = open_csv(csv_path, UNIFY_ROWS)
    await run_bulk_enroll(source.rows(), lambda row, resume: enroll_all(row.key), journal)
    csv_path.write_text(
        f"person_id,mailbox_email\n{people[0].key},not-an-email\nnot-a-uuid,rep@x.example\n",
        encoding="utf-8",
    )
    summary = write_reports(
        open_csv(csv_path, UNIFY_ROWS), journal, tmp_path / "r.csv", tmp_path / "f.csv"
    )
    journal.close()
    assert summary.counts == {"enrolled": 1, "invalid": 1}


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
