"""Read a bulk-enroll CSV the way people have it; check the whole file before anything is sent.

`open_csv` reads the file once up front: the encoding (UTF-8 with or without a BOM, or the one
given), the delimiter (sniffed from the header: `,` `;` or tab), the columns (by header name,
ignoring case, spaces, hyphens and underscores, with a few aliases) and at least one data row.
Anything wrong there is a `CsvInputError` naming the line and the fix. Then `CsvFile.rows()`
streams every record as a Row or a BadRow; bad rows are reported, never fatal.

Line numbers are physical lines of the file, header = line 1; a record spanning several lines
(a quoted newline) is numbered by its first line. Blank and whitespace-only lines are skipped.
"""

from __future__ import annotations

import codecs
import csv
import re
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .. import _validate
from ..errors import InvalidRequestError

DELIMITERS = (",", ";", "\t")
SAVE_AS_UTF8 = (
    'save it as "CSV UTF-8" (Excel: File > Save As > CSV UTF-8; Google Sheets exports UTF-8)'
)


@dataclass(frozen=True)
class Row:
    """One row to enroll. `key` is the person (Unify) or contact (Boast) id, canonical form."""

    line: int
    key: str
    mailboxes: tuple[str, ...] = ()
    own_mailbox: bool = False  # from the row's mailbox column, not the --mailbox defaults


NO_MAILBOX = "no_mailbox"


@dataclass(frozen=True)
class BadRow:
    line: int
    raw_key: str
    reason: str
    code: str = "invalid"  # NO_MAILBOX: the whole run lacks a setting, not this row a fix


@dataclass(frozen=True)
class Record:
    """One record as it is in the file: its first line and its fields."""

    line: int
    fields: list[str]


@dataclass(frozen=True)
class RowSpec:
    """What a vendor needs from each row, and the header names accepted for each column."""

    key_column: str
    key_aliases: frozenset[str]
    mailbox_column: str | None = None  # optional per-row override of the --mailbox defaults
    mailbox_aliases: frozenset[str] = field(default_factory=frozenset)
    needs_mailbox: bool = False


def header_key(name: str) -> str:
    """'Person ID', 'PERSON_ID', 'person-id' -> 'personid'."""
    return re.sub(r"[\s_\-]+", "", name.strip().lower())


UNIFY_ROWS = RowSpec(
    key_column="person_id",
    key_aliases=frozenset({"personid", "person", "unifypersonid"}),
    mailbox_column="mailbox_email",
    mailbox_aliases=frozenset({"mailboxemail", "mailbox", "senderemail", "sender"}),
    needs_mailbox=True,
)
BOAST_ROWS = RowSpec(
    key_column="contact_id", key_aliases=frozenset({"contactid", "contact", "boastcontactid"})
)


class CsvInputError(ValueError):
    """The file cannot be used at all; the message names the line and says how to fix it."""


@dataclass(frozen=True)
class CsvFile:
    """A checked campaign file: how to read it and where its columns are."""

    path: Path
    encoding: str
    delimiter: str
    header: list[str]
    key_index: int
    mailbox_index: int | None
    data_rows: int
    spec: RowSpec
    # How the file is written, so that the files made from it open the same way in Excel.
    bom: bool = False
    newline: str = "\n"
    # (header, index) of the columns that say who a row is (name, email, company), for reports.
    identity: tuple[tuple[str, int], ...] = ()

    @property
    def output_encoding(self) -> str:
        """The encoding of the files written from this one: the source's, BOM included."""
        if self.bom:
            return "utf-8-sig"
        return "utf-8" if self.encoding == "utf-8-sig" else self.encoding

    def records(self) -> Iterator[Record]:
        """Every non-blank record after the header, numbered by its first line."""
        return _records(self.path, self.encoding, self.delimiter)

    def rows(self, default_mailboxes: Sequence[str] = ()) -> Iterator[Row | BadRow]:
        for record in self.records():
            yield self.parse(record, default_mailboxes)

    def parse(self, record: Record, default_mailboxes: Sequence[str] = ()) -> Row | BadRow:
        spec, line, fields = self.spec, record.line, record.fields
        if len(fields) <= self.key_index:
            return BadRow(line, "", f"missing column {spec.key_column!r}")
        raw = fields[self.key_index].strip()
        if not raw:
            return BadRow(line, raw, f"{spec.key_column} is empty")
        try:
            key = str(uuid.UUID(raw))
        except ValueError:
            return BadRow(line, raw, f"{spec.key_column} is not a UUID: {raw[:60]!r}")
        mailboxes, own_mailbox = tuple(default_mailboxes), False
        if self.mailbox_index is not None and len(fields) > self.mailbox_index:
            own = fields[self.mailbox_index].strip()
            if own:
                try:
                    _validate.as_email(own, str(spec.mailbox_column))
                except InvalidRequestError:
                    return BadRow(line, raw, f"{spec.mailbox_column} is not an email: {own[:60]!r}")
                mailboxes, own_mailbox = (own,), True
        if spec.needs_mailbox and not mailboxes:
            return BadRow(
                line,
                raw,
                f"no mailbox: give --mailbox or fill the {spec.mailbox_column} column",
                NO_MAILBOX,
            )
        return Row(line, key, mailboxes, own_mailbox)


def open_csv(path: Path, spec: RowSpec, encoding: str | None = None) -> CsvFile:
    """Check the whole file (see the module docstring); raises CsvInputError."""
    chosen = _check_encoding(path, encoding)
    with path.open(newline="", encoding=chosen) as handle:
        header_text = next((text for text in handle if text.strip()), None)
    if header_text is None:
        raise CsvInputError(f"{path}: the file is empty; expected a header with {spec.key_column}")
    delimiter = sniff_delimiter(header_text)
    header = next(csv.reader([header_text], delimiter=delimiter))
    names = [name.strip() for name in header]
    key_index = _column(path, names, spec.key_column, spec.key_aliases, required=True)
    assert key_index is not None
    mailbox_index = (
        _column(path, names, spec.mailbox_column, spec.mailbox_aliases, required=False)
        if spec.mailbox_column
        else None
    )
    try:
        count = sum(1 for _ in _records(path, chosen, delimiter))
    except csv.Error as error:
        raise CsvInputError(f"{path}: not readable as CSV: {error}") from None
    if count == 0:
        raise CsvInputError(f"{path}: no data rows after the header (line 1); nothing to enroll")
    bom, newline = _layout(path)
    taken = {key_index, mailbox_index}
    identity = tuple(
        (name, i)
        for i, name in enumerate(names)
        if header_key(name) in IDENTITY_COLUMNS and i not in taken
    )
    return CsvFile(
        path, chosen, delimiter, names, key_index, mailbox_index, count, spec,
        bom=bom, newline=newline, identity=identity,
    )  # fmt: skip


# Columns that tell a person which row is which (CRM exports: First Name, Email, Company…).
IDENTITY_COLUMNS = frozenset(
    {"name", "fullname", "firstname", "lastname", "email", "emailaddress", "workemail",
     "company", "companyname", "organization", "organisation", "account", "accountname"}
)  # fmt: skip


def _layout(path: Path) -> tuple[bool, str]:
    """(starts with a UTF-8 BOM, the first line's ending) of a file."""
    with path.open("rb") as handle:
        start = handle.read(64 * 1024)
    end = start.find(b"\n")
    crlf = end > 0 and start[end - 1 : end] == b"\r"
    return start.startswith(codecs.BOM_UTF8), "\r\n" if crlf else "\n"


def _records(path: Path, encoding: str, delimiter: str) -> Iterator[Record]:
    with path.open(newline="", encoding=encoding) as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        seen_header = False
        while True:
            first_line = reader.line_num + 1
            try:
                fields = next(reader)
            except StopIteration:
                return
            if not any(value.strip() for value in fields):
                continue
            if not seen_header:
                seen_header = True
                continue
            yield Record(first_line, fields)


def sniff_delimiter(header_line: str) -> str:
    """The one of `,` `;` tab that the header line uses most (outside quotes); `,` if none."""
    unquoted = re.sub(r'"[^"]*"', "", header_line)
    # `,` comes first, so it wins a tie, and a header without any delimiter.
    return max(DELIMITERS, key=unquoted.count)


def _column(
    path: Path, names: list[str], column: str, aliases: frozenset[str], *, required: bool
) -> int | None:
    wanted = {header_key(column)} | aliases
    found = [i for i, name in enumerate(names) if header_key(name) in wanted]
    if len(found) > 1:
        twice = ", ".join(repr(names[i]) for i in found)
        raise CsvInputError(f"{path}: several columns could be {column}: {twice}; keep one")
    if found:
        return found[0]
    if not required:
        return None
    accepted = ", ".join(sorted({column, *aliases}))
    raise CsvInputError(
        f"{path}: no {column!r} column (header: {', '.join(names)}); "
        f"accepted names, ignoring case, spaces and underscores: {accepted}"
    )


def _check_encoding(path: Path, encoding: str | None) -> str:
    """The encoding to read the file with, once every line has been decoded with it."""
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise CsvInputError(f"--encoding: unknown encoding {encoding!r}") from None
        # Bytes a line at a time through an incremental decoder: a text-mode file decodes a
        # whole buffer at once, and its error would always name line 1.
        decoder = codecs.getincrementaldecoder(encoding)()
        with path.open("rb") as handle:
            lines_read = 0
            try:
                for raw in handle:
                    lines_read += decoder.decode(raw).count("\n")
                decoder.decode(b"", final=True)
            except UnicodeDecodeError as error:
                raise CsvInputError(
                    f"{path} line {lines_read + 1}: not {encoding} ({error.reason}); "
                    f"{SAVE_AS_UTF8}, or pass the file's real --encoding"
                ) from None
        return encoding
    with path.open("rb") as handle:
        start = handle.read(4)
        if start[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
            raise CsvInputError(
                f"{path} line 1: this is a UTF-16 file; {SAVE_AS_UTF8}, or pass --encoding utf-16"
            )
        handle.seek(0)
        # Line by line: a newline byte never occurs inside a UTF-8 multi-byte character.
        for number, raw in enumerate(handle, 1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as error:
                byte = raw[error.start : error.start + 1].hex()
                raise CsvInputError(
                    f"{path} line {number}: not UTF-8 (byte 0x{byte} at column "
                    f"{error.start + 1}); {SAVE_AS_UTF8}, or read it as it is with "
                    "--encoding cp1252 (Windows/Excel) or --encoding latin-1"
                ) from None
    return "utf-8-sig"  # the BOM, when there is one, is not part of the first header name
