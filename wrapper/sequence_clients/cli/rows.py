"""Stream a bulk-enroll CSV into rows, checking each one; bad rows are reported, never fatal.

Columns are found by header name, so extra columns (names, notes…) are fine and order does
not matter. Line numbers are the physical line of the row in the file, header = line 1.
"""

from __future__ import annotations

import csv
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from .. import _validate
from ..errors import InvalidRequestError


@dataclass(frozen=True)
class Row:
    """One row to enroll. `key` is the person (Unify) or contact (Boast) id, canonical form."""

    line: int
    key: str
    mailboxes: tuple[str, ...] = ()


@dataclass(frozen=True)
class BadRow:
    line: int
    raw_key: str
    reason: str


@dataclass(frozen=True)
class RowSpec:
    """What a vendor needs from each row."""

    key_column: str
    mailbox_column: str | None = None  # optional per-row override of the --mailbox defaults
    needs_mailbox: bool = False


UNIFY_ROWS = RowSpec(key_column="person_id", mailbox_column="mailbox_email", needs_mailbox=True)
BOAST_ROWS = RowSpec(key_column="contact_id")


class CsvHeaderError(ValueError):
    """The file cannot be processed at all (no header, or the id column is missing)."""


def count_data_lines(path: Path) -> int | None:
    """Number of records after the header, for the progress bar's total (one cheap pass);
    None when the file is too broken to count (the run itself reports why, row by row)."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            return max(0, sum(1 for _ in csv.reader(handle)) - 1)
    except (csv.Error, UnicodeDecodeError):
        return None


def check_header(path: Path, spec: RowSpec) -> list[str]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        header = next(csv.reader(handle), None)
    if not header:
        raise CsvHeaderError(f"{path}: empty file, expected a header with {spec.key_column!r}")
    names = [name.strip() for name in header]
    if spec.key_column not in names:
        raise CsvHeaderError(f"{path}: no {spec.key_column!r} column (header: {', '.join(names)})")
    return names


def read_rows(
    path: Path, spec: RowSpec, default_mailboxes: Sequence[str] = ()
) -> Iterator[Row | BadRow]:
    """Yield every record as a Row or a BadRow, streaming (constant memory)."""
    names = check_header(path, spec)
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle, fieldnames=names)
        next(reader)  # the header, already checked
        while True:
            before = reader.line_num
            try:
                record = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                yield BadRow(reader.line_num, "", f"unreadable CSV: {error}")
                if reader.line_num == before:
                    return  # the reader cannot move past it
                continue
            yield parse_record(reader.line_num, record, spec, default_mailboxes)


def parse_record(
    line: int, record: dict[str, str | None], spec: RowSpec, default_mailboxes: Sequence[str]
) -> Row | BadRow:
    raw = record.get(spec.key_column)
    if raw is None:  # DictReader fills columns missing from a short row with None
        return BadRow(line, "", f"missing column {spec.key_column!r}")
    raw = raw.strip()
    if not raw:
        return BadRow(line, raw, f"{spec.key_column} is empty")
    try:
        key = str(uuid.UUID(raw))
    except ValueError:
        return BadRow(line, raw, f"{spec.key_column} is not a UUID: {raw[:60]!r}")
    mailboxes = tuple(default_mailboxes)
    if spec.mailbox_column is not None:
        own = (record.get(spec.mailbox_column) or "").strip()
        if own:
            try:
                _validate.as_email(own, spec.mailbox_column)
            except InvalidRequestError:
                return BadRow(line, raw, f"{spec.mailbox_column} is not an email: {own[:60]!r}")
            mailboxes = (own,)
    if spec.needs_mailbox and not mailboxes:
        return BadRow(
            line, raw, f"no mailbox: give --mailbox or fill the {spec.mailbox_column} column"
        )
    return Row(line, key, mailboxes)
