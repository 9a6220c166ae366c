"""The bulk-enroll journal: one SQLite row per (vendor, sequence, person/contact).

The invariant that makes resume safe: a row is marked `in_flight` and that mark is committed
*before* its request can be sent. A row found `in_flight` by a later run may or may not have
been applied, so it is re-sent in "resume" mode (the vendor's existing enrollment counts as
ours). Outcomes are committed in small batches: losing some on a crash only leaves rows
`in_flight`, which the next run resolves without enrolling twice.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from .rows import Row

IN_FLIGHT = "in_flight"
FAILED = "failed"
# bulk-undo's states of a row this campaign enrolled: claimed (committed before the cancel is
# sent), cancelled or removed at the vendor, or the cancel failed (retried by the next undo).
UNDO_IN_FLIGHT = "undo_in_flight"
UNDONE = "undone"
UNDO_FAILED = "undo_failed"
UNDO_STATES = frozenset({UNDO_IN_FLIGHT, UNDONE, UNDO_FAILED})
# Outcomes that end a row for good; anything else (in_flight, failed) is retried on re-run.
# An undone row stays undone: enrolling those people again is a new campaign.
FINAL = frozenset({"enrolled", "already_enrolled", "existing"}) | UNDO_STATES
Action = Literal["send", "resume", "done", "duplicate"]
# Keys looked up in one query when claiming (SQLite allows 999 parameters before 3.32).
_KEYS_PER_QUERY = 500

_SCHEMA = """
CREATE TABLE IF NOT EXISTS rows (
    vendor TEXT NOT NULL, sequence_id TEXT NOT NULL, key TEXT NOT NULL,
    line INTEGER NOT NULL, state TEXT NOT NULL, enrollment_id TEXT, detail TEXT,
    maybe_applied INTEGER NOT NULL DEFAULT 0, run_id INTEGER NOT NULL, updated_at REAL NOT NULL,
    PRIMARY KEY (vendor, sequence_id, key)
);
CREATE TABLE IF NOT EXISTS notes (
    vendor TEXT NOT NULL, sequence_id TEXT NOT NULL, run_id INTEGER NOT NULL,
    line INTEGER NOT NULL, key TEXT NOT NULL, outcome TEXT NOT NULL, detail TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY, vendor TEXT NOT NULL, sequence_id TEXT NOT NULL, started_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS campaign (
    id INTEGER PRIMARY KEY CHECK (id = 1), vendor TEXT NOT NULL, sequence_id TEXT NOT NULL,
    mailboxes TEXT NOT NULL, created_at REAL NOT NULL
);
"""


@dataclass(frozen=True)
class Campaign:
    """The settings a journal's rows were enrolled with: one campaign, one journal."""

    vendor: str
    sequence_id: str
    mailboxes: tuple[str, ...] | None  # the --mailbox defaults; None: not recorded (older journal)

    def differences(self, other: Campaign) -> list[tuple[str, str, str]]:
        """(setting, this campaign's value, the other's) for every setting that differs."""
        found = []
        if self.vendor != other.vendor:
            found.append(("vendor", self.vendor, other.vendor))
        if self.sequence_id != other.sequence_id:
            found.append(("sequence", self.sequence_id, other.sequence_id))
        if (
            self.mailboxes is not None
            and other.mailboxes is not None
            and _canonical(self.mailboxes) != _canonical(other.mailboxes)
        ):
            mine, theirs = (", ".join(m) or "(none)" for m in (self.mailboxes, other.mailboxes))
            found.append(("mailboxes", mine, theirs))
        return found


def _canonical(mailboxes: Sequence[str]) -> list[str]:
    return sorted({m.strip().lower() for m in mailboxes})


@dataclass(frozen=True)
class Claim:
    row: Row
    action: Action
    state: str = IN_FLIGHT  # for "done": the outcome recorded by an earlier run
    # The row's state before this claim (None: a new row), restored if it is never sent.
    previous: str | None = field(default=None, compare=False)
    enrollment_id: str = field(default="", compare=False)  # bulk-undo: the one to cancel


@dataclass(frozen=True)
class ReportLine:
    line: int
    key: str
    outcome: str
    enrollment_id: str
    detail: str


class Journal:
    """Journal of one (vendor, sequence) bulk run. Not thread-safe: use from one event loop."""

    def __init__(
        self,
        path: Path,
        vendor: str,
        sequence_id: str,
        *,
        mailboxes: Sequence[str] | None = None,
        flush_every: int = 64,
    ) -> None:
        self.vendor = vendor
        self.sequence_id = sequence_id
        self._flush_every = flush_every
        self._db = sqlite3.connect(path, isolation_level=None)  # explicit transactions only
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: an in_flight mark must survive a power cut too, not only a killed process.
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        if mailboxes is not None:  # the first run of a campaign records its settings
            self._db.execute(
                "INSERT OR IGNORE INTO campaign (id, vendor, sequence_id, mailboxes, created_at)"
                " VALUES (1, ?, ?, ?, ?)",
                (vendor, sequence_id, json.dumps(list(mailboxes)), time.time()),
            )
        self._pending: list[tuple[str, str | None, str, int, float, str, str, str]] = []
        self._notes: list[tuple[int, str, str, str]] = []
        self.run_id: int  # set by begin_run(), which the engine and bulk-report call first

    # --- a run ---------------------------------------------------------------------------------
    def begin_run(self) -> int:
        with self._transaction():
            cursor = self._db.execute(
                "INSERT INTO runs (vendor, sequence_id, started_at) VALUES (?, ?, ?)",
                (self.vendor, self.sequence_id, time.time()),
            )
            # Bad and duplicate rows are facts about the file, re-derived on every run.
            self._db.execute(
                "DELETE FROM notes WHERE vendor = ? AND sequence_id = ?",
                (self.vendor, self.sequence_id),
            )
        assert cursor.lastrowid is not None  # an INSERT sets it
        self.run_id = cursor.lastrowid
        return self.run_id

    def claim(self, rows: Sequence[Row]) -> list[Claim]:
        """Decide each row's fate and commit every `in_flight` mark, in one transaction."""
        claims: list[Claim] = []
        now = time.time()
        with self._transaction():
            # One query for the batch's rows already known; `taken` holds the state of a key
            # claimed earlier in this batch, as a query per row would have found it.
            known = self._known([row.key for row in rows])
            taken: dict[str, str] = {}
            new: list[tuple[str, str, str, int, str, int, float]] = []
            for row in rows:
                pk = (self.vendor, self.sequence_id, row.key)
                earlier = taken.get(row.key)
                found = known.get(row.key) if earlier is None else (earlier, self.run_id, 0)
                if found is None:
                    new.append((*pk, row.line, IN_FLIGHT, self.run_id, now))
                    taken[row.key] = IN_FLIGHT
                    claims.append(Claim(row, "send"))
                    continue
                state, run_id, maybe_applied = found
                if run_id == self.run_id:  # the same id earlier in this very file
                    self._notes.append(
                        (row.line, row.key, "duplicate", "same id as an earlier row")
                    )
                    claims.append(Claim(row, "duplicate", state))
                    continue
                taken[row.key] = IN_FLIGHT if state not in FINAL else state
                if state in FINAL:
                    self._db.execute(
                        "UPDATE rows SET run_id = ?, line = ? WHERE vendor = ? AND sequence_id = ?"
                        " AND key = ?",
                        (self.run_id, row.line, *pk),
                    )
                    claims.append(Claim(row, "done", state))
                    continue
                # in_flight (interrupted) or failed: send again; resume mode whenever an earlier
                # request may have been applied.
                resume = state == IN_FLIGHT or bool(maybe_applied)
                self._db.execute(
                    "UPDATE rows SET state = ?, run_id = ?, line = ?, updated_at = ?"
                    " WHERE vendor = ? AND sequence_id = ? AND key = ?",
                    (IN_FLIGHT, self.run_id, row.line, now, *pk),
                )
                claims.append(Claim(row, "resume" if resume else "send", previous=state))
            self._db.executemany(
                "INSERT INTO rows (vendor, sequence_id, key, line, state, run_id, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                new,
            )
        return claims

    def _known(self, keys: Sequence[str]) -> dict[str, tuple[str, int, int]]:
        """(state, run_id, maybe_applied) of each of `keys` the journal holds."""
        known: dict[str, tuple[str, int, int]] = {}
        for start in range(0, len(keys), _KEYS_PER_QUERY):
            part = keys[start : start + _KEYS_PER_QUERY]
            marks = ", ".join("?" for _ in part)
            for key, state, run_id, maybe_applied in self._db.execute(
                "SELECT key, state, run_id, maybe_applied FROM rows"
                f" WHERE vendor = ? AND sequence_id = ? AND key IN ({marks})",
                (self.vendor, self.sequence_id, *part),
            ):
                known[str(key)] = (str(state), int(run_id), int(maybe_applied))
        return known

    def undo_candidates(
        self, states: Sequence[str] = ("enrolled", UNDO_IN_FLIGHT, UNDO_FAILED), batch: int = 500
    ) -> Iterator[Row]:
        """The rows this campaign enrolled and has not undone yet, in the order they were
        first claimed (read in batches: the rows change state while they are undone)."""
        after = 0
        marks = ", ".join("?" for _ in states)
        while True:
            self.flush()
            found = self._db.execute(
                "SELECT rowid, line, key FROM rows WHERE vendor = ? AND sequence_id = ?"
                f" AND state IN ({marks}) AND rowid > ? ORDER BY rowid LIMIT ?",
                (self.vendor, self.sequence_id, *states, after, batch),
            ).fetchall()
            if not found:
                return
            after = int(found[-1][0])
            for _, line, key in found:
                yield Row(int(line), str(key))

    def claim_undo(self, rows: Sequence[Row]) -> list[Claim]:
        """Mark each enrolled row `undo_in_flight` (committed before its cancel is sent)."""
        claims: list[Claim] = []
        with self._transaction():
            for row in rows:
                pk = (self.vendor, self.sequence_id, row.key)
                found = self._db.execute(
                    "SELECT state, COALESCE(enrollment_id, '') FROM rows"
                    " WHERE vendor = ? AND sequence_id = ? AND key = ?",
                    pk,
                ).fetchone()
                if found is None:
                    continue
                state, enrollment_id = str(found[0]), str(found[1])
                if state not in ("enrolled", UNDO_IN_FLIGHT, UNDO_FAILED) or not enrollment_id:
                    claims.append(Claim(row, "done", state))
                    continue
                self._db.execute(
                    "UPDATE rows SET state = ?, updated_at = ? WHERE vendor = ? AND sequence_id = ?"
                    " AND key = ?",
                    (UNDO_IN_FLIGHT, time.time(), *pk),
                )
                action: Action = "resume" if state == UNDO_IN_FLIGHT else "send"
                claims.append(Claim(row, action, UNDO_IN_FLIGHT, state, enrollment_id))
        return claims

    def release(self, claims: Sequence[Claim]) -> None:
        """Claims whose request was never sent (the run stopped first): back to what they were,
        so that `in_flight` counts only requests that really left."""
        self.flush()
        with self._transaction():
            for claim in claims:
                pk = (self.vendor, self.sequence_id, claim.row.key)
                if claim.previous is None:
                    self._db.execute(
                        "DELETE FROM rows WHERE vendor = ? AND sequence_id = ? AND key = ?", pk
                    )
                else:
                    self._db.execute(
                        "UPDATE rows SET state = ? WHERE vendor = ? AND sequence_id = ? AND key = ?",
                        (claim.previous, *pk),
                    )

    def record(
        self, row: Row, outcome: str, enrollment_id: str | None, detail: str, maybe_applied: bool
    ) -> None:
        self._pending.append(
            (outcome, enrollment_id, detail, int(maybe_applied), time.time(),
             self.vendor, self.sequence_id, row.key)
        )  # fmt: skip
        if len(self._pending) >= self._flush_every:
            self.flush()

    def note(self, line: int, key: str, outcome: str, detail: str) -> None:
        """A row that never reaches the vendor (invalid), kept for the report."""
        self._notes.append((line, key, outcome, detail))
        if len(self._notes) >= self._flush_every:
            self.flush()

    def flush(self) -> None:
        if not self._pending and not self._notes:
            return
        with self._transaction():
            self._db.executemany(
                "UPDATE rows SET state = ?, enrollment_id = ?, detail = ?, maybe_applied = ?,"
                " updated_at = ? WHERE vendor = ? AND sequence_id = ? AND key = ?",
                self._pending,
            )
            self._db.executemany(
                "INSERT INTO notes (vendor, sequence_id, run_id, line, key, outcome, detail)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(self.vendor, self.sequence_id, self.run_id, *note) for note in self._notes],
            )
        self._pending.clear()
        self._notes.clear()

    # --- reading back ------------------------------------------------------------------------
    def counts(self) -> Counter[str]:
        """Outcome of every row of the current run's file (rows and notes)."""
        self.flush()
        counts: Counter[str] = Counter()
        for state, n in self._db.execute(
            "SELECT state, COUNT(*) FROM rows WHERE vendor = ? AND sequence_id = ? AND run_id = ?"
            " GROUP BY state",
            (self.vendor, self.sequence_id, self.run_id),
        ):
            counts[state] += n
        for outcome, n in self._db.execute(
            "SELECT outcome, COUNT(*) FROM notes WHERE vendor = ? AND sequence_id = ?"
            " GROUP BY outcome",
            (self.vendor, self.sequence_id),
        ):
            counts[outcome] += n
        return counts

    def report_lines(self, *, problems_only: bool = False) -> Iterator[ReportLine]:
        """Every row of this run's file in line order (streamed from SQLite)."""
        self.flush()
        where = "WHERE vendor = ? AND sequence_id = ? AND run_id = ?"
        rows_filter = f" AND state IN ('{FAILED}', '{IN_FLIGHT}')" if problems_only else ""
        notes_filter = " AND outcome != 'duplicate'" if problems_only else ""
        query = (
            f"SELECT line, key, state, COALESCE(enrollment_id, ''), COALESCE(detail, '')"
            f" FROM rows {where}{rows_filter}"
            f" UNION ALL SELECT line, key, outcome, '', detail FROM notes {where}{notes_filter}"
            " ORDER BY 1"
        )
        params = (self.vendor, self.sequence_id, self.run_id)
        for line in self._db.execute(query, params * 2):
            yield ReportLine(*line)

    def lookup(self, key: str) -> tuple[str, str, str] | None:
        """(state, enrollment_id, detail) of one person or contact, or None if never claimed."""
        self.flush()
        found = self._db.execute(
            "SELECT state, COALESCE(enrollment_id, ''), COALESCE(detail, '') FROM rows"
            " WHERE vendor = ? AND sequence_id = ? AND key = ?",
            (self.vendor, self.sequence_id, key),
        ).fetchone()
        return None if found is None else (str(found[0]), str(found[1]), str(found[2]))

    def row_count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM rows").fetchone()[0])

    def close(self) -> None:
        self.flush()
        self._db.close()

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    """BEGIN IMMEDIATE … COMMIT (or ROLLBACK on error)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, error: object, tb: object) -> None:
        self._db.execute("COMMIT" if kind is None else "ROLLBACK")


def finished_keys(path: Path, vendor: str, sequence_id: str) -> set[str]:
    """Keys a journal holds as finished (read-only; empty when there is no journal)."""
    if not path.exists():
        return set()
    marks = ", ".join("?" for _ in FINAL)
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        try:
            found = db.execute(
                f"SELECT key FROM rows WHERE vendor = ? AND sequence_id = ? AND state IN ({marks})",
                (vendor, sequence_id, *sorted(FINAL)),
            ).fetchall()
        except sqlite3.OperationalError:
            return set()
    return {str(key) for (key,) in found}


def state_counts(path: Path, vendor: str, sequence_id: str) -> Counter[str]:
    """Rows per state of one campaign in a journal file (read-only)."""
    counts: Counter[str] = Counter()
    if not path.exists():
        return counts
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        for state, n in db.execute(
            "SELECT state, COUNT(*) FROM rows WHERE vendor = ? AND sequence_id = ? GROUP BY state",
            (vendor, sequence_id),
        ):
            counts[str(state)] += int(n)
    return counts


def read_campaign(path: Path) -> Campaign | None:
    """The campaign a journal file belongs to (read-only), or None when there is none yet."""
    if not path.exists():
        return None
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        try:
            found = db.execute("SELECT vendor, sequence_id, mailboxes FROM campaign").fetchone()
        except sqlite3.OperationalError:  # a journal from before campaigns were recorded
            found = None
    if found is not None:
        mailboxes = tuple(str(m) for m in json.loads(found[2]))
        return Campaign(str(found[0]), str(found[1]), mailboxes)
    run = last_run(path)
    return None if run is None else Campaign(run[0], run[1], None)


def set_aside(path: Path) -> Path:
    """Move a journal out of the way for a new campaign (its WAL folded in first, or the
    committed rows it holds would be lost); returns where it now is."""
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    target = path.with_name(f"{path.stem}.{stamp}{path.suffix}")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.stem}.{stamp}-{n}{path.suffix}")
    path.rename(target)
    for extra in ("-wal", "-shm"):
        path.with_name(path.name + extra).unlink(missing_ok=True)
    return target


def last_run(path: Path) -> tuple[str, str] | None:
    """(vendor, sequence_id) of the latest run recorded in a journal file, if any."""
    if not path.exists():
        return None
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        try:
            found = db.execute(
                "SELECT vendor, sequence_id FROM runs ORDER BY id DESC LIMIT 1"
            ).fetchone()
        except sqlite3.OperationalError:  # not a journal, or one without runs yet
            return None
    return None if found is None else (str(found[0]), str(found[1]))


class JournalBusy(Exception):
    """Another run holds this journal; the message says which."""


class JournalLock:
    """One run per journal: an exclusive flock on JOURNAL.lock, held for the whole run.

    The kernel drops a flock when its process dies, however it dies, so a lock left by a
    killed run never blocks the next one. The file records who holds it, for the message.
    """

    def __init__(self, journal_path: Path) -> None:
        self.path = journal_path.with_name(journal_path.name + ".lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise JournalBusy naming its holder."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise JournalBusy(
                f"another bulk-enroll run ({holder}) is using {self.path.with_suffix('')}; "
                "wait for it to finish, or stop it (a stopped run releases the journal)"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            os.close(self._fd)  # closing releases the flock
            self._fd = None

    def __enter__(self) -> JournalLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
