"""`sequence-clients demo`: the whole product against an in-process sandbox, no credentials.

Each step prints the command a person would type and runs that very command in-process, so the
demo doubles as a smoke test of the CLI. Exit 0 only if every check at the end holds.
"""

from __future__ import annotations

import csv
import os
import shlex
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from rich.rule import Rule

from ..errors import AlreadyEnrolledError
from ..unify import UnifyClient
from .output import console

BULK_ROWS = 500
DEMO_FAULTS = {"server_error": 0.03, "reset_after_commit": 0.01, "rate_limit_burst": 0.01}


def cli(*args: str) -> int:
    """Run one `sequence-clients` command in-process, echoing it first; its exit code."""
    from .app import app

    console().print(f"\n[bold cyan]$ sequence-clients {shlex.join(args)}[/]")
    code = app(list(args), standalone_mode=False, prog_name="sequence-clients")
    return int(code or 0)


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def write_people_csv(path: Path, people: Sequence[str]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["person_id"])
        writer.writerows([person] for person in people)


def unify_demo(sandbox: object, workdir: Path) -> list[str]:
    """The Unify walk-through; returns the failed checks (empty when all is well)."""
    from ..sandbox import FaultConfig, Sandbox

    assert isinstance(sandbox, Sandbox)
    out = console()
    state = sandbox.unify
    sequence_id = next(
        s["id"] for s in state.live_sequences() if state.active_enrollment_count(s["id"]) == 0
    )
    people = [p["id"] for p in state.people[:2940]]
    mailbox = state.mailboxes[0]["email"]
    problems: list[str] = []
    out.print(Rule("Unify"))
    with environment(
        {"UNIFY_API_KEY": sandbox.unify_api_key, "UNIFY_BASE_URL": sandbox.unify_base_url}
    ):
        cli("unify", "sequences", "--limit", "3")
        if cli("unify", "enroll", sequence_id, people[0], "--mailbox", mailbox) != 0:
            problems.append("unify enroll failed")

        out.print("\n[bold]Enrolling the same person again, in Python:[/]")
        with UnifyClient(sandbox.unify_api_key, base_url=sandbox.unify_base_url) as unify:
            try:
                unify.enroll(sequence_id, people[0], mailbox_emails=[mailbox])
                problems.append("a second enrollment was accepted")
            except AlreadyEnrolledError as conflict:
                out.print(
                    f"  AlreadyEnrolledError handled: active enrollment {conflict.active_enrollment_id}"
                    f" in sequence {conflict.active_sequence_id}",
                    markup=False,
                    soft_wrap=True,
                )
        cli("unify", "list", "--person", people[0])

        csv_path = workdir / "unify-people.csv"
        write_people_csv(csv_path, people[1 : 1 + BULK_ROWS])
        sandbox.set_faults(FaultConfig(**DEMO_FAULTS))  # type: ignore[arg-type]
        out.print(f"\n[bold]Faults on:[/] {DEMO_FAULTS}")
        code = cli(
            "bulk-enroll", "unify", str(csv_path), "--sequence", sequence_id,
            "--mailbox", mailbox, "--rate-limit", "2000/s",
        )  # fmt: skip
        sandbox.set_faults(FaultConfig())
        faults = dict(sandbox.stats.unify.faults)
        out.print(f"Faults injected by the sandbox (each retried by the client): {faults}")
        if code != 0:
            problems.append(f"bulk-enroll exited {code}")
        active = state.active_enrollment_count(sequence_id)
        duplicates = state.duplicate_active_enrollments()
        out.print(
            f"Sandbox check: {active} active enrollments in the sequence "
            f"(expected {BULK_ROWS + 1}), {len(duplicates)} duplicates"
        )
        if active != BULK_ROWS + 1 or duplicates:
            problems.append("bulk-enroll did not enroll every row exactly once")
        if sum(faults.values()) == 0:
            problems.append("no fault was injected, so retries were not shown")

        record = state.active_enrollment_of(people[0])
        if record is None or cli("unify", "cancel", record.id) != 0:
            problems.append("unify cancel failed")
        elif state.active_enrollment_of(people[0]) is not None:
            problems.append("the canceled enrollment is still active")
    return problems


def boast_demo(sandbox: object, workdir: Path) -> list[str]:
    """The Boast walk-through (OAuth tokens minted by the sandbox, as an authorization would)."""
    from ..boast import BoastClient
    from ..sandbox import FaultConfig, Sandbox

    assert isinstance(sandbox, Sandbox)
    out = console()
    state = sandbox.boast
    account = state.account_ids[0]
    sequence_id = next(
        s["id"]
        for s in state.active_sequences(account)
        if state.active_enrollment_count(s["id"]) == 0
    )
    contacts = [c["id"] for c in state.contacts[account][:2940]]
    pair = state.issue_token()
    problems: list[str] = []
    out.print(Rule("Boast"))
    env = {
        "BOAST_ACCOUNT_ID": account, "BOAST_ACCESS_TOKEN": pair.access_token,
        "BOAST_REFRESH_TOKEN": pair.refresh_token, "BOAST_CLIENT_ID": state.client_id,
        "BOAST_CLIENT_SECRET": state.client_secret, "BOAST_BASE_URL": sandbox.boast_base_url,
        "BOAST_AUTH_BASE_URL": sandbox.boast_auth_base_url,
        # Rotated demo tokens go to the temporary directory, not the user's token file.
        "HOME": str(workdir),
    }  # fmt: skip
    with environment(env):
        cli("boast", "sequences", "--limit", "3")
        if cli("boast", "enroll", contacts[0], sequence_id) != 0:
            problems.append("boast enroll failed")
        out.print("\n[bold]Enrolling the same contact again, in Python:[/]")
        with BoastClient(
            account_id=account, access_token=pair.access_token,
            base_url=sandbox.boast_base_url, auth_base_url=sandbox.boast_auth_base_url,
        ) as boast:  # fmt: skip
            try:
                boast.enroll(contacts[0], sequence_id)
                problems.append("a second Boast enrollment was accepted")
            except AlreadyEnrolledError as conflict:
                out.print(
                    f"  AlreadyEnrolledError handled: active enrollment {conflict.active_enrollment_id}",
                    markup=False, soft_wrap=True,
                )  # fmt: skip
        cli("boast", "list", "--contact", contacts[0])

        csv_path = workdir / "boast-contacts.csv"
        with csv_path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["contact_id"])
            writer.writerows([c] for c in contacts[1 : 1 + BULK_ROWS])
        before = dict(sandbox.stats.boast.faults)
        sandbox.set_faults(FaultConfig(**DEMO_FAULTS))  # type: ignore[arg-type]
        out.print(f"\n[bold]Faults on:[/] {DEMO_FAULTS}")
        code = cli(
            "bulk-enroll",
            "boast",
            str(csv_path),
            "--sequence",
            sequence_id,
            "--rate-limit",
            "2000/s",
        )
        sandbox.set_faults(FaultConfig())
        faults = {k: v - before.get(k, 0) for k, v in sandbox.stats.boast.faults.items()}
        out.print(f"Faults injected by the sandbox (each retried by the client): {faults}")
        if code != 0:
            problems.append(f"boast bulk-enroll exited {code}")
        active = state.active_enrollment_count(sequence_id)
        duplicates = state.duplicate_active_enrollments()
        out.print(
            f"Sandbox check: {active} active enrollments in the sequence "
            f"(expected {BULK_ROWS + 1}), {len(duplicates)} duplicates"
        )
        if active != BULK_ROWS + 1 or duplicates:
            problems.append("boast bulk-enroll did not enroll every row exactly once")

        record = state.active_enrollment(contacts[0], sequence_id)
        if record is None or cli("boast", "remove", record.id) != 0:
            problems.append("boast remove failed")
        elif state.active_enrollment(contacts[0], sequence_id) is not None:
            problems.append("the removed enrollment is still active")
    return problems


def run_demo() -> int:
    from ..sandbox import Sandbox, SandboxConfig

    started = time.monotonic()
    out = console()
    with (
        tempfile.TemporaryDirectory(prefix="sequence-clients-demo-") as tmp,
        Sandbox(SandboxConfig(seed=0)) as sandbox,
    ):
        out.print(f"[bold]Sandbox[/] running in this process at {sandbox.base_url}")
        problems = unify_demo(sandbox, Path(tmp))
        if sandbox.app.boast is not None:  # a build without the Boast fake shows Unify only
            problems += boast_demo(sandbox, Path(tmp))
    out.print(Rule())
    elapsed = time.monotonic() - started
    if problems:
        for problem in problems:
            out.print(f"[red]FAILED:[/] {problem}")
        return 1
    out.print(f"[green]Demo finished: every check passed in {elapsed:.1f} s.[/]")
    return 0
