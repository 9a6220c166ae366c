"""Helpers shared by the CLI tests (a plain module: conftest files cannot be imported by name
when several test directories have one)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from typer.testing import CliRunner

from sequence_clients.cli.app import app
from sequence_clients.sandbox import Sandbox


@dataclass
class Outcome:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def run_cli(*args: str) -> Outcome:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    return Outcome(result.exit_code, result.stdout, result.stderr)


@dataclass(frozen=True)
class UnifyIds:
    sequence_id: str
    people: list[str]
    mailbox: str


def unify_ids(sandbox: Sandbox) -> UnifyIds:
    """A sequence without active enrollments, people free to enroll, a known mailbox."""
    state = sandbox.unify
    empty = next(
        s["id"] for s in state.live_sequences() if state.active_enrollment_count(s["id"]) == 0
    )
    return UnifyIds(empty, [p["id"] for p in state.people[:2940]], state.mailboxes[0]["email"])


class People:
    """Seeded people nobody else in a module enrolls: its sandbox's first `free` (the last ones
    carry history)."""

    def __init__(self, sandbox: Sandbox, free: int) -> None:
        self._ids = iter(p["id"] for p in sandbox.unify.people[:free])

    def take(self, n: int) -> list[str]:
        return [next(self._ids) for _ in range(n)]


_next_person = [0]


def take_people(sandbox: Sandbox, n: int) -> list[str]:
    """`n` seeded people no other test of the session enrolls (the last 60 have history)."""
    start = _next_person[0]
    assert start + n <= 2940, "the CLI tests need more seeded people than there are"
    _next_person[0] += n
    return [p["id"] for p in sandbox.unify.people[start : start + n]]


_next_contact = [0]


def take_contacts(sandbox: Sandbox, n: int) -> list[str]:
    """`n` seeded contacts of the first account no other test enrolls (the last 60 have history)."""
    start = _next_contact[0]
    assert start + n <= 2940, "the CLI tests need more seeded contacts than there are"
    _next_contact[0] += n
    state = sandbox.boast
    return [c["id"] for c in state.contacts[state.account_ids[0]][start : start + n]]
