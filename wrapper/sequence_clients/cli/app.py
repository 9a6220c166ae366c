"""The root `sequence-clients` command: vendor groups, bulk-enroll, sandbox and demo."""

from __future__ import annotations

import importlib.metadata
import importlib.util
from typing import Annotated

import typer

from . import unify_cmds
from .bulk_cmd import bulk_enroll, bulk_report
from .campaign_cmds import bulk_pause, bulk_resume, bulk_undo

app = typer.Typer(
    name="sequence-clients",
    help="Enroll people in Unify and Boast sequences, one at a time or from a CSV.",
    no_args_is_help=True,
    # Locals in a traceback could show an API key or token: never print them.
    pretty_exceptions_show_locals=False,
)
app.add_typer(unify_cmds.app, name="unify")
app.command("bulk-enroll")(bulk_enroll)
app.command("bulk-report")(bulk_report)
app.command("bulk-undo")(bulk_undo)
app.command("bulk-pause")(bulk_pause)
app.command("bulk-resume")(bulk_resume)


def _print_version(wanted: bool) -> None:
    if wanted:
        typer.echo(f"sequence-clients {importlib.metadata.version('sequence-clients')}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Enroll people in Unify and Boast sequences, one at a time or from a CSV."""


def _add_boast() -> None:
    """Boast commands, when this build has the Boast client."""
    needed = ("sequence_clients.boast", "sequence_clients.cli.boast_cmds")
    if any(importlib.util.find_spec(name) is None for name in needed):
        return
    boast_cmds = importlib.import_module(".boast_cmds", __package__)
    app.add_typer(boast_cmds.app, name="boast")


_add_boast()


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def sandbox(ctx: typer.Context) -> None:
    """Serve the local Unify and Boast fakes (see `sequence-clients sandbox --help`)."""
    from ..sandbox.__main__ import main as sandbox_main

    raise typer.Exit(sandbox_main(list(ctx.args)))


@app.command()
def demo() -> None:
    """Walk through every feature against an in-process sandbox; no credentials needed."""
    from .demo import run_demo

    raise typer.Exit(run_demo(app))
