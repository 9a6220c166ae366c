"""The root `sequence-clients` command: vendor groups, bulk-enroll, sandbox and demo.

Every command but the root's own loads when it runs (`_LazyRoot`): `--version` and `--help`
import typer and this module only, and `unify get` imports the Unify commands, not Boast's nor
the bulk engine. The one-line help the root lists for a lazy command is kept here
(tests/startup checks it matches the command's own).
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

if TYPE_CHECKING:  # typer's own click: vendored in typer >= 0.24, the click package before
    from typer import _click as click

# name -> (module under sequence_clients.cli, its attribute, the root's one-line help for it).
# A typer.Typer becomes a group; a function becomes a command.
_LAZY: dict[str, tuple[str, str, str]] = {
    "unify": (
        "unify_cmds",
        "app",
        "Unify Sequences: enroll, inspect and manage enrollments.",
    ),
    "bulk-enroll": (
        "bulk_cmd",
        "bulk_enroll",
        "Enroll every row of a CSV; resumable: re-run the same command after any interruption.",
    ),
    "bulk-report": (
        "bulk_cmd",
        "bulk_report",
        "Write the report and FILE.failed.csv of a campaign from its journal (for a run killed "
        "with `kill -9`; any other ending writes them itself). Sends nothing.",
    ),
    "bulk-undo": (
        "campaign_cmds",
        "bulk_undo",
        "Cancel (Unify) or remove (Boast) every enrollment this campaign's runs created, and only "
        "those: people already enrolled beforehand, skipped or failed rows are left alone.",
    ),
    "bulk-pause": (
        "campaign_cmds",
        "bulk_pause",
        "Pause every enrollment this campaign created (Unify). Run it again after any "
        "interruption: pausing twice changes nothing. To pause the whole sequence instead, for "
        "everyone in it: `sequence-clients unify pause-sequence ID`.",
    ),
    "bulk-resume": (
        "campaign_cmds",
        "bulk_resume",
        "Resume every enrollment this campaign created and `bulk-pause` paused (Unify).",
    ),
    "boast": (
        "boast_cmds",
        "app",
        "Boast: enroll contacts in sequences, inspect and remove enrollments.",
    ),
}


def _has_boast() -> bool:
    """Whether this build has the Boast client (found, not imported)."""
    needed = ("sequence_clients.boast", "sequence_clients.cli.boast_cmds")
    return all(importlib.util.find_spec(name) is not None for name in needed)


def load_command(name: str) -> click.Command:
    """The real command `name`: its module imported, turned into a click command."""
    module, attribute, _ = _LAZY[name]
    target = getattr(importlib.import_module(f".{module}", __package__), attribute)
    if isinstance(target, typer.Typer):
        command = typer.main.get_command(target)
    else:
        single = typer.Typer(rich_markup_mode=None)  # plain help, as the root's
        single.command(name)(target)
        command = typer.main.get_command(single)
    command.name = name
    return command


class _NotLoaded(TyperCommand):
    """Stands in the root's list for a command not imported yet: its name and one-line help."""


class _LazyRoot(TyperGroup):
    """The root group, whose vendor and bulk commands are imported only when run.

    Listing them (the root's --help) shows each one's placeholder; running one, completing
    it, or asking for its own help loads the real command in its place."""

    _listing = False

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        eager = dict(self.commands)
        self.commands.clear()  # the lazy commands first, in the order of _LAZY
        for name, (_, _, line) in _LAZY.items():
            if name != "boast" or _has_boast():
                self.commands[name] = _NotLoaded(name=name, help=line)
        self.commands.update(eager)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if isinstance(command, _NotLoaded) and not self._listing:
            command = self.commands[cmd_name] = load_command(cmd_name)
        return command

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


app = typer.Typer(
    name="sequence-clients",
    # Help and usage errors in click's plain layout, as gh and stripe print theirs (each typer
    # app of the CLI says so): typer's rich layout imports rich.markdown (markdown_it) and
    # rich.traceback (pygments) whenever it renders, which made `unify get --help` 2.8x as slow
    # as importing typer (bench/startup.py), against 1.4x plain.
    rich_markup_mode=None,
    help="Enroll people in Unify and Boast sequences, one at a time or from a CSV.",
    no_args_is_help=True,
    # Locals in a traceback could show an API key or token: never print them.
    pretty_exceptions_show_locals=False,
    cls=_LazyRoot,
)


def _print_version(wanted: bool) -> None:
    if wanted:
        from .. import installed_version

        typer.echo(f"sequence-clients {installed_version()}")
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
