"""Rows, journal states and fakes the bulk engine's tests (tests/bulk) and the CLI's campaign
tests (tests/cli) share (a plain module beside tests/conftest.py, importable from both)."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

from sequence_clients import errors
from sequence_clients.bulk.rows import Row


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
