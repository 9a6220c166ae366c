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
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from rich.rule import Rule

from ..errors import AlreadyEnrolledError
from ..sandbox.core import FAULT_KINDS, FaultConfig  # config types only: no server dependencies
from ..unify import UnifyClient
from .output import console

if TYPE_CHECKING:
    import typer

    from ..sandbox import Sandbox

BULK_ROWS = 500
DEMO_FAULTS = FaultConfig(server_error=0.03, reset_after_commit=0.01, rate_limit_burst=0.01)


# Runs one `sequence-clients` command in-process, echoing it first; returns its exit code.
Cli = Callable[..., int]


def in_process(app: typer.Typer) -> Cli:
    """`app` is handed in by the `demo` command (this module never imports app.py, which
    imports it)."""

    def cli(*args: str) -> int:
        console().print(f"\n[bold cyan]$ sequence-clients {shlex.join(args)}[/]")
        code = app(list(args), standalone_mode=False, prog_name="sequence-clients")
        return int(code or 0)

    return cli


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


def write_ids_csv(path: Path, column: str, ids: Sequence[str]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([column])
        writer.writerows([one] for one in ids)


def bulk_enroll_with_faults(
    cli: Cli, sandbox: Sandbox, vendor: str, csv_path: Path, sequence_id: str, *extra: str
) -> list[str]:
    """`bulk-enroll` with the sandbox injecting faults, then the sandbox's own count: every row
    enrolled exactly once. Returns the failed checks."""
    out = console()
    state = sandbox.unify if vendor == "unify" else sandbox.boast
    stats = sandbox.stats.unify if vendor == "unify" else sandbox.stats.boast
    before = dict(stats.faults)
    sandbox.set_faults(DEMO_FAULTS)
    rates = {kind: getattr(DEMO_FAULTS, kind) for kind in FAULT_KINDS if getattr(DEMO_FAULTS, kind)}
    out.print(f"\n[bold]Faults on:[/] {rates}")
    code = cli(
        "bulk-enroll", vendor, str(csv_path), "--sequence", sequence_id, *extra,
        "--rate-limit", "2000/s",
    )  # fmt: skip
    sandbox.set_faults(FaultConfig())
    faults = {kind: n - before.get(kind, 0) for kind, n in stats.faults.items()}
    out.print(f"Faults injected by the sandbox (each retried by the client): {faults}")
    problems = [f"{vendor} bulk-enroll exited {code}"] if code != 0 else []
    active = state.active_enrollment_count(sequence_id)
    duplicates = state.duplicate_active_enrollments()
    out.print(
        f"Sandbox check: {active} active enrollments in the sequence "
        f"(expected {BULK_ROWS + 1}), {len(duplicates)} duplicates"
    )
    if active != BULK_ROWS + 1 or duplicates:
        problems.append(f"{vendor} bulk-enroll did not enroll every row exactly once")
    if sum(faults.values()) == 0:
        problems.append("no fault was injected, so retries were not shown")
    return problems


def unify_demo(cli: Cli, sandbox: Sandbox, workdir: Path) -> list[str]:
    """The Unify walk-through; returns the failed checks (empty when all is well)."""
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
        write_ids_csv(csv_path, "person_id", people[1 : 1 + BULK_ROWS])
        problems += bulk_enroll_with_faults(
            cli, sandbox, "unify", csv_path, sequence_id, "--mailbox", mailbox
        )

        record = state.active_enrollment_of(people[0])
        if record is None or cli("unify", "cancel", record.id) != 0:
            problems.append("unify cancel failed")
        elif state.active_enrollment_of(people[0]) is not None:
            problems.append("the canceled enrollment is still active")
    return problems


def boast_demo(cli: Cli, sandbox: Sandbox, workdir: Path) -> list[str]:
    """The Boast walk-through (OAuth tokens minted by the sandbox, as an authorization would)."""
    from ..boast import BoastClient

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
        write_ids_csv(csv_path, "contact_id", contacts[1 : 1 + BULK_ROWS])
        problems += bulk_enroll_with_faults(cli, sandbox, "boast", csv_path, sequence_id)

        record = state.active_enrollment(contacts[0], sequence_id)
        if record is None or cli("boast", "remove", record.id) != 0:
            problems.append("boast remove failed")
        elif state.active_enrollment(contacts[0], sequence_id) is not None:
            problems.append("the removed enrollment is still active")
    return problems


def run_demo(app: typer.Typer) -> int:
    from ..sandbox import Sandbox, SandboxConfig

    cli = in_process(app)
    started = time.monotonic()
    out = console()
    with (
        tempfile.TemporaryDirectory(prefix="sequence-clients-demo-") as tmp,
        Sandbox(SandboxConfig(seed=0)) as sandbox,
    ):
        out.print(f"[bold]Sandbox[/] running in this process at {sandbox.base_url}")
        problems = unify_demo(cli, sandbox, Path(tmp)) + boast_demo(cli, sandbox, Path(tmp))
    out.print(Rule())
    elapsed = time.monotonic() - started
    if problems:
        for problem in problems:
            out.print(f"[red]FAILED:[/] {problem}")
        return 1
    out.print(f"[green]Demo finished: every check passed in {elapsed:.1f} s.[/]")
    return 0
