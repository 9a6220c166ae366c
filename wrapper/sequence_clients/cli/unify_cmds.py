"""`sequence-clients unify ...`: one command per enrollment operation of the Unify client."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .config import unify_settings
from .output import (
    BaseUrl,
    ConfigFile,
    JsonFlag,
    Model,
    OutputFormat,
    OutputOption,
    handled_errors,
    output_format,
    print_csv,
    print_json,
    print_record,
    print_table,
    to_jsonable,
    when,
)

if TYPE_CHECKING:
    from ..generated.unify.models import Enrollment
    from ..unify import UnifyClient

app = typer.Typer(
    help="Unify Sequences: enroll, inspect and manage enrollments.",
    no_args_is_help=True,
    rich_markup_mode=None,  # plain help, as the root's (cli/app.py)
)

Id = Annotated[str, typer.Argument(help="Enrollment id (UUID).", show_default=False)]


def client(config: Path | None, base_url: str | None) -> UnifyClient:
    # Imported here: `--help` of any command needs only the flags above.
    from ..unify import UNIFY_BASE_URL, UnifyClient

    settings = unify_settings(config, base_url)
    return UnifyClient(settings.api_key, base_url=settings.base_url or UNIFY_BASE_URL)


def enrollment_row(e: Enrollment) -> list[object]:
    return [
        e.id,
        e.sequence.name,
        e.person.email,
        e.mailbox.email,
        e.status,
        e.is_paused,
        e.created_at,
    ]


ENROLLMENT_COLUMNS = ["id", "sequence", "person", "mailbox", "status", "paused", "created"]


def show_enrollment(e: Enrollment, as_json: bool, title: str = "Enrollment") -> None:
    if as_json:
        print_json(to_jsonable(e))
        return
    print_record(
        title,
        [
            ("id", e.id), ("status", e.status), ("paused", e.is_paused),
            ("canceled", e.is_canceled), ("sequence", f"{e.sequence.name} ({e.sequence.id})"),
            ("person", f"{e.person.email} ({e.person.id})"), ("mailbox", e.mailbox.email),
            ("created", e.created_at), ("updated", e.updated_at),
        ],
    )  # fmt: skip


@app.command()
def enroll(
    sequence_id: Annotated[str, typer.Argument(help="Sequence id.", show_default=False)],
    person_id: Annotated[str, typer.Argument(help="Person id.", show_default=False)],
    mailbox: Annotated[
        list[str], typer.Option("--mailbox", "-m", help="Sending mailbox email (1 to 10).")
    ],
    return_existing: Annotated[
        bool,
        typer.Option(help="If already active in this sequence, show that enrollment (exit 0)."),
    ] = False,
    as_json: JsonFlag = False,
    base_url: BaseUrl = None,
    config: ConfigFile = None,
) -> None:
    """Enroll one person in a sequence."""
    with handled_errors(), client(config, base_url) as unify:
        created = unify.enroll(
            sequence_id,
            person_id,
            mailbox_emails=mailbox,
            on_conflict="return_existing" if return_existing else "raise",
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
    with handled_errors(), client(config, base_url) as unify:
        show_enrollment(unify.get_enrollment(enrollment_id), as_json)


@app.command("list")
def list_(
    sequence: Annotated[str | None, typer.Option(help="Only this sequence id.")] = None,
    person: Annotated[str | None, typer.Option(help="Only this person id.")] = None,
    status: Annotated[
        list[str] | None, typer.Option(help="IN_PROGRESS, FINISHED, … (repeatable).")
    ] = None,
    updated_after: Annotated[
        dt.datetime | None, typer.Option(help="Only enrollments updated after (UTC if no zone).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="Show at most this many.")] = 50,
    as_json: JsonFlag = False,
    output: OutputOption = None,
    base_url: BaseUrl = None,
    config: ConfigFile = None,
) -> None:
    """List enrollments, newest pages fetched only as needed."""
    if updated_after is not None and updated_after.tzinfo is None:
        updated_after = updated_after.replace(tzinfo=dt.UTC)
    with handled_errors(), client(config, base_url) as unify:
        found = []
        pager = unify.list_enrollments(
            sequence_id=sequence, person_id=person, status=status, updated_after=updated_after,
            page_size=min(limit, 100),
        )  # fmt: skip
        for enrollment in pager:
            found.append(enrollment)
            if len(found) >= limit:
                break
    show_rows(
        output_format(output, as_json), f"Enrollments ({len(found)})", ENROLLMENT_COLUMNS,
        [enrollment_row(e) for e in found], [to_jsonable(e) for e in found],
    )  # fmt: skip


def _change(
    action: str, enrollment_id: str, as_json: bool, base_url: str | None, config: Path | None
) -> None:
    with handled_errors(), client(config, base_url) as unify:
        changes: dict[str, Callable[[str], Model]] = {
            "cancel": unify.cancel_enrollment,
            "pause": unify.pause_enrollment,
            "resume": unify.resume_enrollment,
        }
        result = changes[action](enrollment_id)
    if as_json:
        print_json(to_jsonable(result))
    else:
        print_record(f"{action.capitalize()}: done", sorted(to_jsonable(result).items()))


@app.command()
def cancel(
    enrollment_id: Id,
    as_json: JsonFlag = False,
    base_url: BaseUrl = None,
    config: ConfigFile = None,
) -> None:
    """Cancel (remove) an enrollment."""
    _change("cancel", enrollment_id, as_json, base_url, config)


@app.command()
def pause(
    enrollment_id: Id,
    as_json: JsonFlag = False,
    base_url: BaseUrl = None,
    config: ConfigFile = None,
) -> None:
    """Pause an enrollment."""
    _change("pause", enrollment_id, as_json, base_url, config)


@app.command()
def resume(
    enrollment_id: Id,
    as_json: JsonFlag = False,
    base_url: BaseUrl = None,
    config: ConfigFile = None,
) -> None:
    """Resume a paused enrollment."""
    _change("resume", enrollment_id, as_json, base_url, config)


@app.command()
def sequences(
    limit: Annotated[int, typer.Option(min=1, help="Show at most this many.")] = 100,
    as_json: JsonFlag = False,
    output: OutputOption = None,
    base_url: BaseUrl = None,
    config: ConfigFile = None,
) -> None:
    """List sequences."""
    with handled_errors(), client(config, base_url) as unify:
        found = []
        for sequence in unify.list_sequences(page_size=min(limit, 100)):
            found.append(sequence)
            if len(found) >= limit:
                break
    rows = [[s.id, s.name, s.is_paused, s.owner.email, when(s.created_at)] for s in found]
    show_rows(
        output_format(output, as_json), f"Sequences ({len(found)})",
        ["id", "name", "paused", "owner", "created"], rows, [to_jsonable(s) for s in found],
    )  # fmt: skip


def show_rows(
    shown: OutputFormat,
    title: str,
    columns: list[str],
    rows: list[list[object]],
    as_dicts: list[dict[str, Any]],
) -> None:
    """A list as a table, JSON (the vendor's fields) or CSV (the table's columns, for Excel)."""
    if shown == OutputFormat.json:
        print_json(as_dicts)
    elif shown == OutputFormat.csv:
        print_csv(columns, rows)
    else:
        print_table(title, columns, rows)


SequenceId = Annotated[str, typer.Argument(help="Sequence id (UUID).", show_default=False)]


@app.command("pause-sequence")
def pause_sequence(
    sequence_id: SequenceId,
    as_json: JsonFlag = False,
    base_url: BaseUrl = None,
    config: ConfigFile = None,
) -> None:
    """Pause a whole sequence: every enrollment in it stops until it is resumed."""
    with handled_errors(), client(config, base_url) as unify:
        result = unify.pause_sequence(sequence_id)
    if as_json:
        print_json(to_jsonable(result))
    else:
        print_record("Sequence paused", sorted(to_jsonable(result).items()))


@app.command("resume-sequence")
def resume_sequence(
    sequence_id: SequenceId,
    as_json: JsonFlag = False,
    base_url: BaseUrl = None,
    config: ConfigFile = None,
) -> None:
    """Resume a paused sequence: its enrollments go on where they stopped."""
    with handled_errors(), client(config, base_url) as unify:
        sequence = unify.resume_sequence(sequence_id)
    if as_json:
        print_json(to_jsonable(sequence))
    else:
        print_record(
            "Sequence resumed",
            [("id", sequence.id), ("name", sequence.name), ("paused", sequence.is_paused)],
        )
