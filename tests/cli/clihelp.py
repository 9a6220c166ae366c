"""Helpers shared by the CLI tests (a plain module: conftest files cannot be imported by name
when several test directories have one)."""

from __future__ import annotations

import json
import string
from dataclasses import dataclass
from typing import Any

from typer.testing import CliRunner

from sequence_clients.cli.app import app
from sequence_clients.cli.messages import MESSAGES
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


def opening(key: str, **fields: object) -> str:
    """The start of the campaign message MESSAGES[key] as printed with `fields`: up to its first
    other field, and at most 40 characters after the last given one (the console wraps long
    lines). What a test looks for to know which message was printed, without restating its
    sentence (held by tests/golden/campaign_messages.json)."""
    text = ""
    for literal, name, _, _ in string.Formatter().parse(MESSAGES[key]):
        if name is None or name not in fields:
            return text + literal[:40]
        text += literal + str(fields[name])
    return text


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
