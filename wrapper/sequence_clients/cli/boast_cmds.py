"""`sequence-clients boast ...`: one command per operation of the Boast client."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import islice
from pathlib import Path
from typing import Annotated, Any

import typer

from ..boast import BOAST_BASE_URL, BoastClient
from ..oauth import BOAST_AUTH_BASE_URL
from .config import boast_settings
from .output import (
    BaseUrl,
    ConfigFile,
    JsonFlag,
    handled_errors,
    print_json,
    print_record,
    print_table,
    to_jsonable,
    when,
)
from .tokens import DEFAULT_TOKEN_FILE, FileTokenStore, starting_token

app = typer.Typer(
    help="Boast: enroll contacts in sequences, inspect and remove enrollments.",
    no_args_is_help=True,
)

Id = Annotated[str, typer.Argument(help="Enrollment id (UUID).", show_default=False)]
Limit = Annotated[int, typer.Option(min=1, help="Show at most this many.")]
ENROLLMENT_COLUMNS = ["id", "contact_id", "sequence_id", "status", "created"]


def boast_kwargs(config: Path | None, base_url: str | None) -> dict[str, Any]:
    """BoastClient arguments from flags, environment and config (shared with bulk-enroll)."""
    settings = boast_settings(config, base_url)
    token = starting_token(settings, DEFAULT_TOKEN_FILE)
    return {
        "account_id": settings.account_id,
        "access_token": token.access_token,
        "refresh_token": token.refresh_token,
        "expires_at": token.expires_at,
        "client_id": settings.client_id,
        "client_secret": settings.client_secret,
        "token_store": FileTokenStore(DEFAULT_TOKEN_FILE, token.refresh_token),
        "base_url": settings.base_url or BOAST_BASE_URL,
        "auth_base_url": settings.auth_base_url or BOAST_AUTH_BASE_URL,
    }


def client(config: Path | None, base_url: str | None) -> BoastClient:
    return BoastClient(**boast_kwargs(config, base_url))


def enrollment_row(e: Any) -> list[Any]:
    return [e.id, e.contact_id, e.sequence_id, e.status, when(e.created_at)]


def show_enrollment(e: Any, as_json: bool, title: str = "Enrollment") -> None:
    if as_json:
        print_json(to_jsonable(e))
    else:
        print_record(title, list(zip(ENROLLMENT_COLUMNS, enrollment_row(e), strict=True)))


def show_list(
    title: str, items: Iterable[Any], limit: int, as_json: bool, columns: list[str]
) -> None:
    found = list(islice(items, limit))
    if as_json:
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
        )


@app.command()
def accounts(
    limit: Limit = 100,
    as_json: JsonFlag = False,
    base_url: BaseUrl = None,
    config: ConfigFile = None,
) -> None:
    """List the accounts the token can reach."""
    with handled_errors(), client(config, base_url) as boast:
        show_list("Accounts", boast.list_accounts(), limit, as_json, ["id", "name", "created_at"])


@app.command()
def sequences(
    limit: Limit = 100,
    as_json: JsonFlag = False,
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
        )


@app.command()
def contacts(
    limit: Limit = 50,
    as_json: JsonFlag = False,
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
        )
