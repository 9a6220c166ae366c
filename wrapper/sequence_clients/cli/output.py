"""Output for people (rich tables) and scripts (--json), and errors as one line + exit code."""

from __future__ import annotations

import csv
import datetime as dt
import enum
import json
import sqlite3
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Protocol

import typer

from .config import ConfigError

# rich loads with the first table or console: a command's --help, --json and CSV output never
# need it (bench/startup.py measures the start).
if TYPE_CHECKING:
    from rich.console import Console

# Exit codes (the README lists them): 1 = the vendor refused or a row failed; 2 = bad input,
# configuration or preflight, nothing sent (as click uses 2); 3 = bulk-enroll stopped by its
# circuit breaker; 130 = interrupted (128 + SIGINT, as shells report it).
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_STOPPED = 3
EXIT_INTERRUPTED = 130

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


class OutputFormat(enum.StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


OutputOption = Annotated[
    OutputFormat | None,
    typer.Option("--output", "-o", help="table (default), json, or csv (for Excel)."),
]


def output_format(output: OutputFormat | None, as_json: bool) -> OutputFormat:
    """--output wins; --json is kept as a short form of --output json."""
    if output is not None:
        return output
    return OutputFormat.json if as_json else OutputFormat.table


def print_csv(columns: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    from ..bulk.report import safe_cell  # the one formula guard of every CSV the tool writes

    writer = csv.writer(sys.stdout, lineterminator="\r\n")  # RFC 4180, as Excel writes
    writer.writerow([safe_cell(name) for name in columns])
    for row in rows:
        writer.writerow([safe_cell("" if cell is None else str(cell)) for cell in row])


BaseUrl = Annotated[
    str | None, typer.Option("--base-url", help="API base URL (default: the vendor's).")
]
ConfigFile = Annotated[
    Path | None,
    typer.Option(
        "--config", help="TOML config file (default: ~/.config/sequence-clients/config.toml)."
    ),
]


def console() -> Console:
    from rich.console import Console

    # Built on use: a Console made at import would hold on to the sys.stdout of that moment.
    return Console(highlight=False)


def err_console() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def fail(message: str, code: int = EXIT_FAILED) -> typer.Exit:
    err_console().print(message, markup=False, soft_wrap=True)
    return typer.Exit(code)


@contextmanager
def handled_errors() -> Iterator[None]:
    """Configuration problems and every wrapper error end as one message, never a traceback."""
    # Imported when a command runs: `--help` needs neither httpx (errors) nor the bulk engine.
    from ..bulk.engine import one_line
    from ..errors import AuthenticationError, InvalidRequestError, SequenceClientError

    try:
        yield
    except ConfigError as error:
        raise fail(str(error), EXIT_USAGE) from None
    except InvalidRequestError as error:  # bad input: refused before anything was sent
        raise fail(f"error: {one_line(error)}", EXIT_USAGE) from None
    except AuthenticationError as error:
        raise fail(f"error: {one_line(error)}\n(check the credentials)") from None
    except SequenceClientError as error:
        raise fail(f"error: {one_line(error)}") from None
    except (OSError, sqlite3.Error) as error:  # unreadable CSV, unwritable journal or report…
        raise fail(f"error: {error}") from None


class Model(Protocol):
    """A generated model (attrs class with `to_dict`)."""

    def to_dict(self) -> dict[str, Any]: ...


def to_jsonable(model: Model) -> dict[str, Any]:
    return model.to_dict()


def print_json(data: object) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for name in columns:
        # Ids must stay copy-pasteable: whole on one line, never cut with an ellipsis.
        is_id = name == "id"
        table.add_column(name, overflow="fold", no_wrap=is_id, min_width=36 if is_id else None)
    for row in rows:
        # Vendor text such as "404 [not_found]" is not rich markup: escaped, it shows as sent.
        table.add_row(*(escape("" if cell is None else str(cell)) for cell in row))
    console().print(table)


def when(moment: object) -> str:
    """A timestamp short enough for a table cell."""
    if isinstance(moment, dt.datetime | dt.date):
        return moment.strftime("%Y-%m-%d %H:%M")
    return str(moment)


def print_record(title: str, fields: Sequence[tuple[str, object]]) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for name, value in fields:
        table.add_row(escape(name), escape("" if value is None else str(value)))
    console().print(table)
