"""Reading a campaign file the way people have it, in process: what `bulk-enroll` accepts, the
rows it makes of each record, and the one message that says what is wrong with a file it cannot
use. (tests/cli/test_cli_trust.py runs the same promises end to end as a subprocess.)"""

from __future__ import annotations

import codecs
import uuid
from pathlib import Path

import pytest

from sequence_clients.bulk.rows import (
    BOAST_ROWS,
    NO_MAILBOX,
    UNIFY_ROWS,
    BadRow,
    CsvFile,
    CsvInputError,
    Row,
    open_csv,
)

PERSON = "0b9e6f8e-3c1a-4d7e-9a57-2f4b8c6d1e01"
OTHER = "5d2c8a4e-7b61-4f0a-8e3d-9c1b2a3f4e02"
MAILBOX = "ops@example.com"


def write(tmp_path: Path, text: str | bytes, name: str = "people.csv") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8", newline="")
    return path


def rows_of(path: Path, mailboxes: tuple[str, ...] = (MAILBOX,)) -> list[Row | BadRow]:
    return list(open_csv(path, UNIFY_ROWS).rows(mailboxes))


def refusal(path: Path, encoding: str | None = None) -> str:
    """Why the file is refused. Its wording is in the golden table (tests/golden/messages.py,
    csv-*); the tests here check what it names: the file, the line, the columns."""
    with pytest.raises(CsvInputError) as raised:
        open_csv(path, UNIFY_ROWS, encoding)
    return str(raised.value)


# --- the header ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["person_id", "Person ID", "PERSON_ID", "person-id", "  person id ", "Unify Person ID"]
)
def test_the_key_column_is_found_however_the_header_spells_it(tmp_path: Path, name: str) -> None:
    path = write(tmp_path, f"first_name,{name}\nAda,{PERSON}\n")
    checked = open_csv(path, UNIFY_ROWS)
    assert checked.key_index == 1
    assert rows_of(path) == [Row(2, PERSON, (MAILBOX,), False)]


@pytest.mark.parametrize("name", ["mailbox_email", "Mailbox", "Sender Email", "sender"])
def test_the_mailbox_column_is_found_by_its_aliases(tmp_path: Path, name: str) -> None:
    path = write(tmp_path, f"person_id,{name}\n{PERSON},rep@example.com\n")
    assert rows_of(path) == [Row(2, PERSON, ("rep@example.com",), True)]


def test_without_the_key_column_the_message_shows_the_header_and_the_accepted_names(
    tmp_path: Path,
) -> None:
    message = refusal(write(tmp_path, f"email, id\nada@example.com,{PERSON}\n"))
    assert message.startswith(f"{tmp_path / 'people.csv'}: ")
    assert "'person_id'" in message and "email, id" in message
    assert all(name in message for name in UNIFY_ROWS.key_aliases)  # the accepted names


def test_two_columns_that_could_both_be_the_key_are_refused(tmp_path: Path) -> None:
    message = refusal(write(tmp_path, f"person_id,Person ID\n{PERSON},{OTHER}\n"))
    assert "'person_id', 'Person ID'" in message


def test_two_mailbox_columns_are_refused_too(tmp_path: Path) -> None:
    path = write(tmp_path, f"person_id,mailbox,sender\n{PERSON},a@x.io,b@x.io\n")
    message = refusal(path)
    assert message.startswith(f"{path}: ") and "mailbox_email" in message
    assert "'mailbox', 'sender'" in message


@pytest.mark.parametrize(
    ("header", "data", "delimiter"),
    [
        ("person_id;mailbox_email", f"{PERSON};{MAILBOX}", ";"),
        ("person_id\tmailbox_email", f"{PERSON}\t{MAILBOX}", "\t"),
        ("person_id,mailbox_email", f"{PERSON},{MAILBOX}", ","),
        # A delimiter inside quotes does not count.
        ('"Last; First; Middle",person_id', f'"Lovelace; Ada; King",{PERSON}', ","),
        ('"Last, First, Middle";person_id', f'"Lovelace, Ada, King";{PERSON}', ";"),
    ],
)
def test_the_delimiter_is_the_one_the_header_uses(
    tmp_path: Path, header: str, data: str, delimiter: str
) -> None:
    checked = open_csv(write(tmp_path, f"{header}\n{data}\n"), UNIFY_ROWS)
    assert checked.delimiter == delimiter
    [row] = checked.rows(("default@example.com",))
    assert isinstance(row, Row) and row.key == PERSON
    assert row.mailboxes == ((MAILBOX,) if "mail" in header else ("default@example.com",))


def test_a_one_column_file_is_read_as_comma_separated(tmp_path: Path) -> None:
    path = write(tmp_path, f"person_id\n{PERSON}\n")
    checked = open_csv(path, UNIFY_ROWS)
    assert checked.delimiter == "," and checked.header == ["person_id"]
    assert rows_of(path) == [Row(2, PERSON, (MAILBOX,), False)]


def test_header_names_are_kept_without_surrounding_spaces(tmp_path: Path) -> None:
    checked = open_csv(write(tmp_path, f" person_id , note \n{PERSON},x\n"), UNIFY_ROWS)
    assert checked.header == ["person_id", "note"]


# --- empty files ---------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "\n\n", "  \n\t\n"])
def test_an_empty_file_says_what_header_it_needs(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    message = refusal(path)
    assert message.startswith(f"{path}: ") and "empty" in message and "person_id" in message


@pytest.mark.parametrize("text", ["person_id\n", "person_id\n\n  \n", "\nperson_id,mailbox\n,\n"])
def test_a_header_without_rows_has_nothing_to_enroll(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    message = refusal(path)
    assert message.startswith(f"{path}: ") and "(line 1)" in message and "empty" not in message


def test_the_data_rows_are_counted_before_anything_is_sent(tmp_path: Path) -> None:
    path = write(tmp_path, f"person_id\n{PERSON}\n\nnot-a-uuid\n{OTHER}\n")
    assert open_csv(path, UNIFY_ROWS).data_rows == 3


def test_a_field_past_the_csv_limit_is_refused_as_unreadable(tmp_path: Path) -> None:
    path = write(tmp_path, f'person_id,note\n{PERSON},"{"x" * 200_000}"\n')
    message = refusal(path)
    assert message.startswith(f"{path}: ") and "field larger" in message  # csv's own words


# --- how the files made from it are written ----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "bom", "newline"),
    [
        pytest.param(f"person_id\n{PERSON}\n", False, "\n", id="lf"),
        pytest.param(f"person_id\r\n{PERSON}\r\n", False, "\r\n", id="crlf"),
        pytest.param(f"\ufeffperson_id\r\n{PERSON}\r\n", True, "\r\n", id="excel"),
        pytest.param(f"\r\nperson_id\r\n{PERSON}\r\n", False, "\r\n", id="blank-first"),
        pytest.param(f"person_id\n{PERSON}\r\n", False, "\n", id="mixed"),  # the header's
    ],
)
def test_the_reports_keep_the_files_byte_order_mark_and_line_ending(
    tmp_path: Path, text: str, bom: bool, newline: str
) -> None:
    checked = open_csv(write(tmp_path, text), UNIFY_ROWS)
    assert (checked.bom, checked.newline) == (bom, newline)
    assert checked.output_encoding == ("utf-8-sig" if bom else "utf-8")


def test_the_columns_that_say_who_a_row_is_are_kept_for_the_reports(tmp_path: Path) -> None:
    path = write(tmp_path, f"First Name,person_id,notes,Work Email,mailbox,Company\n{PERSON}\n")
    checked = open_csv(path, UNIFY_ROWS)
    assert checked.identity == (("First Name", 0), ("Work Email", 3), ("Company", 5))
    assert open_csv(write(tmp_path, f"person_id\n{PERSON}\n"), UNIFY_ROWS).identity == ()


# --- encodings -----------------------------------------------------------------------------


def test_a_utf8_bom_is_not_part_of_the_first_header_name(tmp_path: Path) -> None:
    path = write(tmp_path, codecs.BOM_UTF8 + f"person_id,name\r\n{PERSON},Zoë\r\n".encode())
    checked = open_csv(path, UNIFY_ROWS)
    assert checked.header == ["person_id", "name"] and checked.encoding == "utf-8-sig"
    assert rows_of(path) == [Row(2, PERSON, (MAILBOX,), False)]


def test_a_latin1_byte_is_refused_naming_its_line_byte_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, f"person_id,name\n{PERSON},Zoe\n{OTHER},Zo\xeb\n".encode("latin-1"))
    message = refusal(path)
    column = len(f"{OTHER},Zo") + 1
    assert message.startswith(f"{path} line 3: ")
    assert "0xeb" in message and f"column {column})" in message
    assert "--encoding cp1252" in message and "--encoding latin-1" in message


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_a_utf16_file_is_named_as_such(tmp_path: Path, codec: str) -> None:
    bom = codecs.BOM_UTF16_LE if codec.endswith("le") else codecs.BOM_UTF16_BE
    path = write(tmp_path, bom + f"person_id\n{PERSON}\n".encode(codec))
    message = refusal(path)
    assert message.startswith(f"{path} line 1: ") and message.endswith("--encoding utf-16")


def test_a_utf16_file_reads_with_its_encoding_given(tmp_path: Path) -> None:
    path = write(tmp_path, f"person_id\n{PERSON}\n".encode("utf-16"))
    checked = open_csv(path, UNIFY_ROWS, "utf-16")
    assert checked.encoding == "utf-16"
    assert list(checked.rows((MAILBOX,))) == [Row(2, PERSON, (MAILBOX,), False)]


def test_a_latin1_file_reads_with_its_encoding_given(tmp_path: Path) -> None:
    path = write(tmp_path, f"name,person_id\nZo\xeb,{PERSON}\n".encode("latin-1"))
    checked = open_csv(path, UNIFY_ROWS, "latin-1")
    assert checked.encoding == "latin-1"
    assert list(checked.rows((MAILBOX,))) == [Row(2, PERSON, (MAILBOX,), False)]


def test_a_given_encoding_that_does_not_fit_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, f"person_id,name\n{PERSON},Ada\n{OTHER},Zoë\n")
    message = refusal(path, "ascii")
    assert message.startswith(f"{path} line 3: ") and "ascii" in message
    assert message.endswith("--encoding")


def test_an_unknown_encoding_is_refused_before_the_file_is_read(tmp_path: Path) -> None:
    path = write(tmp_path, f"person_id\n{PERSON}\n")
    message = refusal(path, "klingon-8")
    assert message.startswith("--encoding: ") and "'klingon-8'" in message


# --- records and rows ----------------------------------------------------------------------


def test_blank_lines_are_skipped_and_lines_keep_their_physical_numbers(tmp_path: Path) -> None:
    text = f'\nperson_id,note\n\n{PERSON},"two\nlines"\n   \n{OTHER},x\n'
    assert rows_of(write(tmp_path, text)) == [
        Row(4, PERSON, (MAILBOX,), False),
        Row(7, OTHER, (MAILBOX,), False),
    ]


def test_ids_are_read_in_their_canonical_form(tmp_path: Path) -> None:
    spellings = [PERSON.upper(), "{" + PERSON + "}", PERSON.replace("-", ""), f"  {PERSON} "]
    path = write(tmp_path, "person_id\n" + "\n".join(spellings) + "\n")
    assert [row.key for row in rows_of(path) if isinstance(row, Row)] == [PERSON] * 4


def test_each_bad_row_says_why_and_keeps_what_the_file_had(tmp_path: Path) -> None:
    long_junk = "z" * 80
    text = (
        "person_id,mailbox_email\n"
        "\n"
        f"{PERSON},not-an-email\n"
        ",a@example.com\n"
        "  ,\n"
        "nope,\n"
        f"{long_junk}\n"
        f"{OTHER},{'m' * 70}\n"
    )
    got = rows_of(write(tmp_path, text))
    assert got == [
        BadRow(3, PERSON, "mailbox_email is not an email: 'not-an-email'"),
        BadRow(4, "", "person_id is empty"),
        BadRow(6, "nope", "person_id is not a UUID: 'nope'"),
        BadRow(7, long_junk, f"person_id is not a UUID: {long_junk[:60]!r}"),
        BadRow(8, OTHER, f"mailbox_email is not an email: {'m' * 60!r}"),
    ]


def test_a_row_shorter_than_the_key_column_is_bad(tmp_path: Path) -> None:
    path = write(tmp_path, f"name,person_id\nAda,{PERSON}\nBob\n")
    assert rows_of(path)[1] == BadRow(3, "", "missing column 'person_id'")


def test_a_row_mailbox_wins_over_the_defaults_and_an_empty_cell_takes_them(tmp_path: Path) -> None:
    path = write(tmp_path, f"person_id,mailbox\n{PERSON}, rep@example.com \n{OTHER},\n")
    assert rows_of(path, ("a@example.com", "b@example.com")) == [
        Row(2, PERSON, ("rep@example.com",), True),
        Row(3, OTHER, ("a@example.com", "b@example.com"), False),
    ]


def test_a_row_shorter_than_the_mailbox_column_takes_the_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, f"person_id,note,mailbox\n{PERSON},x\n")
    assert rows_of(path) == [Row(2, PERSON, (MAILBOX,), False)]


def test_unify_rows_need_a_mailbox_from_the_row_or_the_option(tmp_path: Path) -> None:
    path = write(tmp_path, f"person_id,mailbox\n{PERSON},\n{OTHER},rep@example.com\n")
    assert rows_of(path, ()) == [
        BadRow(
            2, PERSON, "no mailbox: give --mailbox or fill the mailbox_email column", NO_MAILBOX
        ),
        Row(3, OTHER, ("rep@example.com",), True),
    ]


def test_boast_rows_need_no_mailbox(tmp_path: Path) -> None:
    contact = str(uuid.uuid4())
    path = write(tmp_path, f"Contact ID,mailbox\n{contact},rep@example.com\n")
    checked = open_csv(path, BOAST_ROWS)
    assert checked.mailbox_index is None  # Boast sends from the sequence's own mailboxes
    assert list(checked.rows()) == [Row(2, contact, (), False)]


def test_the_checked_file_streams_again_from_the_start(tmp_path: Path) -> None:
    checked: CsvFile = open_csv(write(tmp_path, f"person_id\n{PERSON}\n{OTHER}\n"), UNIFY_ROWS)
    first = [row.line for row in checked.rows((MAILBOX,))]
    assert first == [row.line for row in checked.rows((MAILBOX,))] == [2, 3]


def test_a_boast_file_with_an_unnamed_column_reads_every_row(tmp_path: Path) -> None:
    """A trailing delimiter in the header makes a column without a name: not a mailbox."""
    contact = str(uuid.uuid4())
    path = write(tmp_path, f"contact_id,\n{contact},call back on Monday\n")
    assert list(open_csv(path, BOAST_ROWS).rows()) == [Row(2, contact, (), False)]


def test_a_bad_id_spanning_lines_is_quoted_as_the_file_has_it(tmp_path: Path) -> None:
    spanning = f"{PERSON}\r\nx"
    path = write(tmp_path, f'person_id\r\n"{spanning}"\r\n{OTHER}\r\n')
    assert rows_of(path) == [
        BadRow(2, spanning, f"person_id is not a UUID: {spanning!r}"),
        Row(4, OTHER, (MAILBOX,), False),
    ]


def test_a_file_cut_inside_a_character_is_refused_with_its_encoding_given(tmp_path: Path) -> None:
    path = write(tmp_path, f"person_id\n{PERSON}\n{OTHER}\xc3".encode("latin-1"))
    message = refusal(path, "utf-8")
    assert message.startswith(f"{path} line 3: ") and "utf-8" in message
