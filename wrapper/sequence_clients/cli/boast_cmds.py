"""`sequence-clients boast ...`: one command per operation of the Boast client."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from .config import BOAST_HELP, DEFAULT_CONFIG, ConfigError, boast_settings, has_token
from .login import LoginError
from .output import (
    BaseUrl,
    ConfigFile,
    JsonFlag,
    Model,
    OutputFormat,
    OutputOption,
    fail,
    handled_errors,
    output_format,
    print_csv,
    print_json,
    print_record,
    print_table,
    to_jsonable,
    when,
)
from .tokens import DEFAULT_TOKEN_FILE, starting_token, token_store

if TYPE_CHECKING:
    from ..boast import BoastClient
    from ..bulk.vendors import BoastKwargs
    from ..generated.boast.models import SequenceEnrollment

app = typer.Typer(
    help="Boast: enroll contacts in sequences, inspect and remove enrollments.",
    no_args_is_help=True,
    rich_markup_mode=None,  # plain help, as the root's (cli/app.py)
)

Id = Annotated[str, typer.Argument(help="Enrollment id (UUID).", show_default=False)]
Limit = Annotated[int, typer.Option(min=1, help="Show at most this many.")]
ENROLLMENT_COLUMNS = ["id", "contact_id", "sequence_id", "status", "created"]


def boast_kwargs(config: Path | None, base_url: str | None) -> BoastKwargs:
    """BoastClient arguments from flags, environment and config (shared with bulk-enroll)."""
    # Imported here: `--help` of any command needs only the flags.
    from ..boast import BOAST_BASE_URL
    from ..oauth import BOAST_AUTH_BASE_URL

    settings = boast_settings(config, base_url)
    if not has_token(settings) and not DEFAULT_TOKEN_FILE.expanduser().exists():
        raise ConfigError(BOAST_HELP.format(config=config or DEFAULT_CONFIG))
    store = token_store(DEFAULT_TOKEN_FILE)
    token = starting_token(settings, store)
    # Refreshing needs the client credentials; without them the access token serves until it
    # expires, and the 401 then says to check the credentials (or `boast login` again).
    can_refresh = bool(token.refresh_token and settings.client_id and settings.client_secret)
    return {
        "account_id": settings.account_id,
        "access_token": token.access_token,
        "refresh_token": token.refresh_token if can_refresh else None,
        "expires_at": token.expires_at,
        "client_id": settings.client_id if can_refresh else None,
        "client_secret": settings.client_secret if can_refresh else None,
        "token_store": store if can_refresh else None,
        "base_url": settings.base_url or BOAST_BASE_URL,
        "auth_base_url": settings.auth_base_url or BOAST_AUTH_BASE_URL,
    }


def client(config: Path | None, base_url: str | None) -> BoastClient:
    from ..boast import BoastClient

    return BoastClient(**boast_kwargs(config, base_url))


def enrollment_row(e: SequenceEnrollment) -> list[object]:
    return [e.id, e.contact_id, e.sequence_id, e.status, when(e.created_at)]


def show_enrollment(e: SequenceEnrollment, as_json: bool, title: str = "Enrollment") -> None:
    if as_json:
        print_json(to_jsonable(e))
    else:
        print_record(title, list(zip(ENROLLMENT_COLUMNS, enrollment_row(e), strict=True)))


def show_list(
    title: str,
    items: Iterable[Model],
    limit: int,
    as_json: bool,
    columns: list[str],
    output: OutputFormat | None = None,
) -> None:
    found = list(islice(items, limit))
    shown = output_format(output, as_json)
    if shown == OutputFormat.json:
        print_json([to_jsonable(item) for item in found])
        return
    rows = [
        [
            when(getattr(x, c)) if c in ("created_at", "updated_at") else getattr(x, c)
            for c in columns
        ]
        for x in found
    ]
    headers = [c.removesuffix("_at").replace("_id", "") or c for c in columns]
    if shown == OutputFormat.csv:
        print_csv(columns, rows)
        return
    print_table(f"{title} ({len(found)})", headers, rows)


@app.command()
def enroll(
    contact_id: Annotated[str, typer.Argument(help="Contact id.", show_default=False)],
    sequence_id: Annotated[str, typer.Argument(help="Sequence id.", show_default=False)],
    return_existing: Annotated[
        bool,
        typer.Option(help="If already active in this sequence, show that enrollment (exit 0)."),
    ] = False,
    as_json: JsonFlag = False,
    base_url: BaseUrl = None,
    config: ConfigFile = None,
) -> None:
    """Enroll one contact in a sequence."""
    with handled_errors(), client(config, base_url) as boast:
        created = boast.enroll(
            contact_id, sequence_id, on_conflict="return_existing" if return_existing else "raise"
        )
        show_enrollment(created, as_json)


@app.command()
def get(
    enrollment_id: Id,
    as_json: JsonFlag = False,
    base_url: BaseUrl = None,
    config: ConfigFile = None,
) -> None:
    """Show one enrollment."""
    with handled_errors(), client(config, base_url) as boast:
        show_enrollment(boast.get_enrollment(enrollment_id), as_json)


@app.command()
def remove(
    enrollment_id: Id,
    as_json: JsonFlag = False,
    base_url: BaseUrl = None,
    config: ConfigFile = None,
) -> None:
    """Remove a contact from a sequence (the enrollment's status becomes "removed")."""
    with handled_errors(), client(config, base_url) as boast:
        show_enrollment(boast.remove_enrollment(enrollment_id), as_json, "Removed")


@app.command("list")
def list_(
    contact: Annotated[str | None, typer.Option(help="Only this contact id.")] = None,
    sequence: Annotated[str | None, typer.Option(help="Only this sequence id.")] = None,
    status: Annotated[str | None, typer.Option(help="active, completed, removed, …")] = None,
    limit: Limit = 50,
    as_json: JsonFlag = False,
    output: OutputOption = None,
    base_url: BaseUrl = None,
    config: ConfigFile = None,
) -> None:
    """List the account's enrollments, pages fetched only as needed."""
    with handled_errors(), client(config, base_url) as boast:
        pager = boast.list_enrollments(contact_id=contact, sequence_id=sequence, status=status)
        show_list(
            "Enrollments",
            pager,
            limit,
            as_json,
            ["id", "contact_id", "sequence_id", "status", "created_at"],
            output=output,
        )


@app.command()
def accounts(
    limit: Limit = 100,
    as_json: JsonFlag = False,
    output: OutputOption = None,
    base_url: BaseUrl = None,
    config: ConfigFile = None,
) -> None:
    """List the accounts the token can reach."""
    with handled_errors(), client(config, base_url) as boast:
        show_list(
            "Accounts",
            boast.list_accounts(),
            limit,
            as_json,
            ["id", "name", "created_at"],
            output=output,
        )


@app.command()
def sequences(
    limit: Limit = 100,
    as_json: JsonFlag = False,
    output: OutputOption = None,
    base_url: BaseUrl = None,
    config: ConfigFile = None,
) -> None:
    """List the account's sequences."""
    with handled_errors(), client(config, base_url) as boast:
        show_list(
            "Sequences",
            boast.list_sequences(),
            limit,
            as_json,
            ["id", "name", "status", "created_at"],
            output=output,
        )


@app.command()
def contacts(
    limit: Limit = 50,
    as_json: JsonFlag = False,
    output: OutputOption = None,
    base_url: BaseUrl = None,
    config: ConfigFile = None,
) -> None:
    """List the account's contacts."""
    with handled_errors(), client(config, base_url) as boast:
        show_list(
            "Contacts",
            boast.list_contacts(),
            limit,
            as_json,
            ["id", "email", "first_name", "last_name"],
            output=output,
        )


@app.command()
def login(
    client_id: Annotated[
        str | None, typer.Option(help="OAuth client id (default: BOAST_CLIENT_ID).")
    ] = None,
    client_secret: Annotated[
        str | None, typer.Option(help="OAuth client secret (default: BOAST_CLIENT_SECRET).")
    ] = None,
    port: Annotated[
        int,
        typer.Option(
            min=0,
            max=65535,
            help="Loopback port for the redirect, as registered with Boast (0: any free port).",
        ),
    ] = 0,
    open_browser: Annotated[
        bool | None,
        typer.Option(
            "--open/--no-open", help="Open the URL in a browser (default: ask on a terminal)."
        ),
    ] = None,
    timeout: Annotated[float, typer.Option(min=1, help="Seconds to wait for the redirect.")] = 300,
    base_url: BaseUrl = None,
    config: ConfigFile = None,
) -> None:
    """Sign in to Boast in a browser and save the token the other commands use."""
    from .login import login as run_login

    with handled_errors():
        settings = boast_settings(config, base_url)
        client_id = client_id or settings.client_id
        client_secret = client_secret or settings.client_secret
        if not (client_id and client_secret):
            raise ConfigError(
                "boast login needs the app's client id and secret: --client-id and "
                "--client-secret, or BOAST_CLIENT_ID and BOAST_CLIENT_SECRET"
            )
        if open_browser is None:
            open_browser = sys.stdin.isatty() and typer.confirm(
                "Open the sign-in page in a browser?", default=True, err=True
            )
        try:
            run_login(
                client_id=client_id, client_secret=client_secret,
                auth_base_url=settings.auth_base_url, token_file=DEFAULT_TOKEN_FILE,
                port=port, open_browser=open_browser, timeout=timeout,
                say=lambda line: typer.echo(line, err=True),
            )  # fmt: skip
        except LoginError as error:
            raise fail(f"error: {error}") from None
    where = DEFAULT_TOKEN_FILE.expanduser()
    typer.echo(f"Signed in; the token is saved in {where} (mode 0600).", err=True)
    if not settings.account_id:
        typer.echo(
            "Then: export BOAST_ACCOUNT_ID=... (see `sequence-clients boast accounts`)", err=True
        )
