"""Rows, journal states and fakes the bulk engine's tests (tests/bulk), the CLI's campaign tests
(tests/cli) and the golden table (tests/golden) share (a plain module beside tests/conftest.py,
importable from all)."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

from sequence_clients import errors
from sequence_clients.bulk.journal import Journal
from sequence_clients.bulk.rows import Row

# Where the vendor errors of these tests say they were sent.
ENROLLMENTS_URL = "https://api.unifygtm.com/sequences/v1/enrollments"


def status(
    kind: type[errors.APIStatusError], code: int, message: str, *codes: str
) -> errors.APIStatusError:
    """The error a vendor's answer `code` to an enroll is raised as."""
    return kind(
        status_code=code, method="POST", url=ENROLLMENTS_URL, codes=codes, message=message,
        body=None, retry_after=None,
    )  # fmt: skip


def rows(n: int) -> list[Row]:
    return [Row(line=i + 2, key=str(uuid.UUID(int=i + 1))) for i in range(n)]


def states(path: Path) -> dict[str, str]:
    """Each row's state in the journal at `path`, by key."""
    with sqlite3.connect(path) as db:
        return dict(db.execute("SELECT key, state FROM rows"))


async def enroll_all(key: str) -> str:
    return "e-" + key


def conflict(active_sequence: str | None) -> errors.AlreadyEnrolledError:
    """Unify's 409: the person is active in `active_sequence` (None: Boast, which does not say)."""
    return errors.AlreadyEnrolledError(
        active_enrollment_id="e-1", active_sequence_id=active_sequence, status_code=409,
        method="POST", url="/enrollments", codes=("conflict",), message="already", body=None,
        retry_after=None,
    )  # fmt: skip


class FullDisk(Journal):
    """A journal whose disk is full when outcomes are first written, as SQLite says it, and has
    room again after that one failure (another program freed some)."""

    outcomes = False
    failures_left = 1

    def record(
        self, row: Row, outcome: str, enrollment_id: str | None, detail: str, maybe_applied: bool
    ) -> None:
        self.outcomes = True
        super().record(row, outcome, enrollment_id, detail, maybe_applied)

    def flush(self) -> None:
        if self.outcomes and self.failures_left:
            self.failures_left -= 1
            raise sqlite3.OperationalError("database or disk is full")
        super().flush()
