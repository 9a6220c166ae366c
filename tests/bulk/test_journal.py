"""The bulk-enroll journal as a re-run meets it: what is committed before a request can go out,
what a later run does with each row, what the report reads back, and the one-run-per-journal
lock. Each test looks at the journal file through a second connection, as the next run (or
`bulk-report` after a crash) would."""

from __future__ import annotations

import fcntl
import os
import socket
import sqlite3
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from sequence_clients.bulk.journal import (
    UNDO_FAILED,
    UNDO_IN_FLIGHT,
    Claim,
    Journal,
    JournalBusy,
    JournalLock,
    ReportLine,
    last_run,
)
from sequence_clients.bulk.rows import Row

SEQUENCE = "seq-1"


def row(n: int, line: int | None = None) -> Row:
    return Row(line=line if line is not None else n + 1, key=str(uuid.UUID(int=n)))


def on_disk(path: Path, sequence: str = SEQUENCE) -> dict[str, tuple[str, str | None, int]]:
    """key -> (state, enrollment_id, maybe_applied) as another process would read them."""
    with sqlite3.connect(path) as db:
        found = db.execute(
            "SELECT key, state, enrollment_id, maybe_applied FROM rows WHERE sequence_id = ?",
            (sequence,),
        )
        return {key: (state, eid, applied) for key, state, eid, applied in found}


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "people.csv.journal"


@pytest.fixture
def journal(path: Path) -> Iterator[Journal]:
    opened = Journal(path, "unify", SEQUENCE)
    opened.begin_run()
    yield opened
    opened.close()


def rerun(path: Path, vendor: str = "unify", sequence: str = SEQUENCE, **options: int) -> Journal:
    again = Journal(path, vendor, sequence, **options)
    again.begin_run()
    return again


# --- before anything is sent -----------------------------------------------------------------


def test_a_claimed_row_is_in_flight_on_disk_before_it_can_be_sent(
    journal: Journal, path: Path
) -> None:
    claims = journal.claim([row(1), row(2)])
    assert claims == [Claim(row(1), "send"), Claim(row(2), "send")]
    assert on_disk(path) == {row(1).key: ("in_flight", None, 0), row(2).key: ("in_flight", None, 0)}


def test_a_failing_batch_commits_none_of_its_claims(journal: Journal, path: Path) -> None:
    broken = Row(line=3, key=None)  # type: ignore[arg-type]  # NOT NULL refuses it mid-batch
    with pytest.raises(sqlite3.IntegrityError):
        journal.claim([row(1), broken])
    assert on_disk(path) == {}
    assert journal.claim([row(1)]) == [Claim(row(1), "send")]  # the journal is still usable


def test_each_run_gets_its_own_number(path: Path) -> None:
    first = Journal(path, "unify", SEQUENCE)
    assert first.begin_run() == 1 and first.run_id == 1
    first.close()
    second = rerun(path)
    assert second.run_id == 2
    second.close()


# --- what the next run does with each row ----------------------------------------------------


def test_the_next_run_resumes_what_was_in_flight_and_skips_what_finished(path: Path) -> None:
    first = rerun(path)
    first.claim([row(1), row(2), row(3), row(4), row(5)])
    first.record(row(1), "enrolled", "e-1", "", False)
    first.record(row(2), "already_enrolled", "e-2", "already active", False)
    first.record(row(3), "failed", None, "400: bad", False)
    first.record(row(4), "failed", None, "timed out", True)
    first.close()  # row 5 stays in flight: the process died before its answer

    second = rerun(path)
    claims = second.claim([row(n, line=n + 10) for n in range(1, 6)])
    assert [(c.row.key, c.action, c.state) for c in claims] == [
        (row(1).key, "done", "enrolled"),
        (row(2).key, "done", "already_enrolled"),
        (row(3).key, "send", "in_flight"),  # failed for sure: send again
        (row(4).key, "resume", "in_flight"),  # may have been applied: ours if it is there
        (row(5).key, "resume", "in_flight"),
    ]
    # Every row of the file counts in this run, at its new line.
    assert second.counts() == {"enrolled": 1, "already_enrolled": 1, "in_flight": 3}
    assert [line.line for line in second.report_lines()] == [11, 12, 13, 14, 15]
    second.close()


def test_an_existing_enrollment_taken_as_ours_is_final_too(path: Path) -> None:
    first = rerun(path)
    first.claim([row(1)])
    first.record(row(1), "existing", "e-9", "", False)
    first.close()
    second = rerun(path)
    assert second.claim([row(1)]) == [Claim(row(1), "done", "existing")]
    second.close()


def test_the_same_id_twice_in_one_file_is_sent_once_and_noted(journal: Journal) -> None:
    first, again = row(1, line=2), row(1, line=7)
    assert journal.claim([first]) == [Claim(first, "send")]
    assert journal.claim([again]) == [Claim(again, "duplicate", "in_flight")]
    journal.record(first, "enrolled", "e-1", "", False)
    assert journal.counts() == {"enrolled": 1, "duplicate": 1}
    assert list(journal.report_lines()) == [
        ReportLine(2, first.key, "enrolled", "e-1", ""),
        ReportLine(7, first.key, "duplicate", "", "same id as an earlier row"),
    ]
    assert list(journal.report_lines(problems_only=True)) == []


def test_a_duplicate_of_a_finished_row_reports_the_outcome_it_repeats(journal: Journal) -> None:
    journal.claim([row(1, line=2)])
    journal.record(row(1, line=2), "enrolled", "e-1", "", False)
    journal.flush()
    assert journal.claim([row(1, line=3)]) == [Claim(row(1, line=3), "duplicate", "enrolled")]


def test_repeats_within_one_claimed_batch_are_duplicates_of_the_first(path: Path) -> None:
    first = rerun(path)
    first.claim([row(1), row(2)])
    first.record(row(1), "enrolled", "e-1", "", False)
    first.record(row(2), "failed", None, "500", False)
    first.close()
    second = rerun(path)
    batch = [row(1, 2), row(2, 3), row(3, 4), row(3, 5), row(2, 6), row(1, 7)]
    assert second.claim(batch) == [
        Claim(row(1, 2), "done", "enrolled"),
        Claim(row(2, 3), "send", previous="failed"),
        Claim(row(3, 4), "send"),
        Claim(row(3, 5), "duplicate", "in_flight"),
        Claim(row(2, 6), "duplicate", "in_flight"),
        Claim(row(1, 7), "duplicate", "enrolled"),
    ]
    second.close()


def test_a_batch_past_sqlites_parameter_limit_still_finds_every_finished_row(path: Path) -> None:
    """Claims look rows up many keys to a query; SQLite before 3.32 takes 999 parameters."""
    many = [row(n) for n in range(1, 1201)]
    first = rerun(path, flush_every=2000)
    first.claim(many)
    for each in many:
        first.record(each, "enrolled", "e", "", False)
    first.close()
    second = rerun(path)
    assert {c.action for c in second.claim(many)} == {"done"}
    second.close()


def test_a_row_claimed_again_but_never_sent_goes_back_to_what_it_was(path: Path) -> None:
    """The run stopped before the retried rows left: they are failed or in flight as before,
    not forgotten (a forgotten in-flight row would be sent again as if new)."""
    first = rerun(path)
    first.claim([row(1), row(2), row(3)])
    first.record(row(1), "failed", None, "400: bad", False)
    first.close()  # rows 2 and 3 stay in flight
    second = rerun(path)
    claims = second.claim([row(1), row(2), row(4)])
    assert [c.action for c in claims] == ["send", "resume", "send"]
    second.release(claims)
    assert on_disk(path) == {
        row(1).key: ("failed", None, 0),
        row(2).key: ("in_flight", None, 0),
        row(3).key: ("in_flight", None, 0),
    }  # row 4, new, was never sent: gone
    second.close()


def test_runs_of_other_sequences_and_vendors_are_kept_apart(path: Path) -> None:
    unify = rerun(path)
    unify.claim([row(1)])
    unify.record(row(1), "enrolled", "e-1", "", False)
    unify.close()
    for vendor, sequence in [("unify", "seq-2"), ("boast", SEQUENCE)]:
        other = rerun(path, vendor, sequence)
        assert other.claim([row(1)]) == [Claim(row(1), "send")]
        assert other.counts() == {"in_flight": 1}
        assert other.lookup(row(1).key) == ("in_flight", "", "")
        other.close()
    again = rerun(path)
    assert again.lookup(row(1).key) == ("enrolled", "e-1", "")
    assert again.row_count() == 3  # one per (vendor, sequence, id)
    again.close()


# --- outcomes --------------------------------------------------------------------------------


def test_outcomes_reach_the_disk_in_batches_and_all_of_them_on_close(path: Path) -> None:
    journal = rerun(path, flush_every=3)
    journal.claim([row(n) for n in range(1, 6)])
    for n in range(1, 5):
        journal.record(row(n), "enrolled", f"e-{n}", "", n == 4)
    states = on_disk(path)
    assert [states[row(n).key][0] for n in range(1, 6)] == ["enrolled"] * 3 + ["in_flight"] * 2
    journal.close()
    states = on_disk(path)
    assert states[row(4).key] == ("enrolled", "e-4", 1)
    assert states[row(5).key] == ("in_flight", None, 0)


def test_invalid_rows_are_kept_for_the_report_and_flushed_in_batches(path: Path) -> None:
    journal = rerun(path, flush_every=2)
    journal.note(5, "nope", "invalid", "person_id is not a UUID: 'nope'")

    def notes_on_disk() -> int:
        with sqlite3.connect(path) as db:
            return int(db.execute("SELECT COUNT(*) FROM notes").fetchone()[0])

    assert notes_on_disk() == 0
    journal.note(6, "", "invalid", "person_id is empty")
    assert notes_on_disk() == 2
    assert list(journal.report_lines(problems_only=True)) == [
        ReportLine(5, "nope", "invalid", "", "person_id is not a UUID: 'nope'"),
        ReportLine(6, "", "invalid", "", "person_id is empty"),
    ]
    journal.close()


def test_bad_rows_are_facts_about_the_file_and_are_not_carried_into_the_next_run(
    path: Path,
) -> None:
    first = rerun(path)
    first.note(2, "nope", "invalid", "not a UUID")
    first.close()
    second = rerun(path)
    assert second.counts() == {}
    assert list(second.report_lines()) == []
    second.close()


def test_the_problems_are_the_failed_and_unfinished_rows_in_line_order(journal: Journal) -> None:
    journal.claim([row(1, line=4), row(2, line=2), row(3, line=3), row(4, line=6)])
    journal.record(row(1, line=4), "failed", None, "400 [bad_email]: no", False)
    journal.record(row(2, line=2), "enrolled", "e-2", "", False)
    journal.record(row(4, line=6), "other_sequence", "e-4", "active in sequence s", False)
    journal.note(5, "x", "invalid", "not a UUID")
    assert list(journal.report_lines(problems_only=True)) == [
        ReportLine(3, row(3).key, "in_flight", "", ""),
        ReportLine(4, row(1).key, "failed", "", "400 [bad_email]: no"),
        ReportLine(5, "x", "invalid", "", "not a UUID"),
    ]
    assert [line.outcome for line in journal.report_lines()] == [
        "enrolled", "in_flight", "failed", "invalid", "other_sequence",
    ]  # fmt: skip


def test_a_row_never_claimed_is_unknown(journal: Journal) -> None:
    assert journal.lookup(str(uuid.uuid4())) is None
    assert journal.row_count() == 0


# --- undoing what the campaign enrolled -------------------------------------------------------


def enrolled(path: Path) -> Journal:
    """A journal holding rows 1-6: enrolled (1, 2), already enrolled (3), failed (4), enrolled
    without an id (5), in flight (6); rows 1 and 2 are then claimed for undo."""
    journal = rerun(path)
    journal.claim([row(n) for n in range(1, 7)])
    journal.record(row(1), "enrolled", "e-1", "", False)
    journal.record(row(2), "enrolled", "e-2", "", False)
    journal.record(row(3), "already_enrolled", "e-3", "already active", False)
    journal.record(row(4), "failed", None, "404: no", False)
    journal.record(row(5), "enrolled", None, "", False)
    journal.flush()
    return journal


def test_undo_claims_only_enrollments_the_campaign_made_and_can_name(path: Path) -> None:
    journal = enrolled(path)
    journal.record(row(2), UNDO_FAILED, "e-2", "500", True)  # an earlier undo's cancel failed
    journal.flush()
    given = [row(9), row(3), row(1), row(4), row(5), row(2), row(6)]
    claims = journal.claim_undo(given)
    assert claims == [  # row 9 was never claimed: nothing to undo, nothing said
        Claim(row(3), "done", "already_enrolled"),
        Claim(row(1), "send", UNDO_IN_FLIGHT),
        Claim(row(4), "done", "failed"),
        Claim(row(5), "done", "enrolled"),  # no id to cancel
        Claim(row(2), "send", UNDO_IN_FLIGHT),
        Claim(row(6), "done", "in_flight"),
    ]
    sent = [c for c in claims if c.action == "send"]
    assert [(c.previous, c.enrollment_id) for c in sent] == [
        ("enrolled", "e-1"),
        (UNDO_FAILED, "e-2"),
    ]
    states = {key: state for key, (state, _, _) in on_disk(path).items()}
    assert [states[row(n).key] for n in range(1, 7)] == [
        UNDO_IN_FLIGHT, UNDO_IN_FLIGHT, "already_enrolled", "failed", "enrolled", "in_flight",
    ]  # fmt: skip
    # Interrupted there: the next undo looks first, as the cancel may have been applied.
    again = journal.claim_undo([row(1)])
    assert [(c.action, c.previous) for c in again] == [("resume", UNDO_IN_FLIGHT)]
    journal.close()


def test_undo_candidates_come_in_claim_order_with_their_lines_whatever_the_batch(
    path: Path,
) -> None:
    journal = enrolled(path)
    for n in range(7, 12):
        journal.claim([row(n, line=100 - n)])
        journal.record(row(n, line=100 - n), "enrolled", f"e-{n}", "", False)
    found = []
    for candidate in journal.undo_candidates(batch=2):
        found.append(candidate)
        journal.record(candidate, "undone", "e", "", False)  # rows change state as they go
    assert [(r.line, r.key) for r in found] == [(row(n).line, row(n).key) for n in (1, 2, 5)] + [
        (100 - n, row(n).key) for n in range(7, 12)
    ]
    assert list(journal.undo_candidates()) == []
    journal.close()


# --- reading a journal file afterwards ---------------------------------------------------------


def test_last_run_names_the_latest_vendor_and_sequence(path: Path, tmp_path: Path) -> None:
    assert last_run(tmp_path / "missing.journal") is None
    rerun(path).close()
    rerun(path, "boast", "seq-b").close()
    assert last_run(path) == ("boast", "seq-b")


def test_last_run_of_a_file_that_is_not_a_journal_is_none(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE t (x)")
    assert last_run(other) is None
    empty = tmp_path / "empty.journal"
    Journal(empty, "unify", SEQUENCE).close()  # opened, never run
    assert last_run(empty) is None


# --- one run per journal -----------------------------------------------------------------------


def test_a_second_run_on_the_same_journal_is_refused_naming_the_first(path: Path) -> None:
    with JournalLock(path) as held:
        assert held.path == path.with_name(path.name + ".lock")
        assert stat.S_IMODE(held.path.stat().st_mode) == 0o600
        assert held.path.read_text() == f"pid {os.getpid()} on {socket.gethostname()}"
        with pytest.raises(JournalBusy) as busy:
            JournalLock(path).acquire()
    # It names the holder and the journal (wording: tests/golden, journal-busy).
    assert f"pid {os.getpid()} on {socket.gethostname()}" in str(busy.value)
    assert str(path) in str(busy.value)
    assert held.path.read_text() == ""  # released: nobody is named any more
    with JournalLock(path):  # and the next run takes it
        pass


def test_a_lock_whose_holder_wrote_nothing_is_named_generically(path: Path) -> None:
    lock = path.with_name(path.name + ".lock")
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        with pytest.raises(JournalBusy, match="another process"):  # wording: tests/golden
            JournalLock(path).acquire()
    finally:
        os.close(fd)


def test_releasing_twice_is_harmless(path: Path) -> None:
    lock = JournalLock(path)
    lock.acquire()
    lock.release()
    lock.release()
    lock.acquire()
    lock.release()


def test_by_default_at_most_63_answers_wait_in_memory(path: Path) -> None:
    """A crash loses at most that many outcomes, and those rows are resumed, never resent."""
    journal = rerun(path)
    journal.claim([row(n) for n in range(1, 65)])
    for n in range(1, 64):
        journal.record(row(n), "enrolled", f"e-{n}", "", False)
    assert {state for state, _, _ in on_disk(path).values()} == {"in_flight"}
    journal.record(row(64), "enrolled", "e-64", "", False)
    assert {state for state, _, _ in on_disk(path).values()} == {"enrolled"}
    journal.close()


def test_releasing_a_lock_never_taken_is_harmless(path: Path) -> None:
    JournalLock(path).release()
    with JournalLock(path):
        pass


def test_a_lock_file_written_by_something_else_is_quoted_safely_and_briefly(path: Path) -> None:
    lock = path.with_name(path.name + ".lock")
    lock.write_bytes(b"\xff\xfe" + b"h" * 400)
    fd = os.open(lock, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        with pytest.raises(JournalBusy) as busy:
            JournalLock(path).acquire()
    finally:
        os.close(fd)
    # The first 200 bytes, undecodable ones replaced (wording: tests/golden, journal-busy).
    assert f"\ufffd\ufffd{'h' * 198}" in str(busy.value) and "h" * 199 not in str(busy.value)
