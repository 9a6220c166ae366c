"""Argument checks made before anything is sent, so bad input fails fast with a clear message.

Every check matches the whole value (`fullmatch`: a `$` would let `'a@b.example\\n'`, read line by
line from a file, through) and refuses a wrong type with InvalidRequestError, never TypeError.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, TypeVar

from .errors import InvalidRequestError, bounded

if TYPE_CHECKING:
    import uuid

# Deliberately simple: one @, no spaces, a dot in the domain. The vendor does the real check.
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
MAX_MAILBOXES = 10
E = TypeVar("E", bound=enum.Enum)


def _shown(value: object) -> str:
    return bounded(repr(value), 100)


def as_uuid(value: uuid.UUID | str, field: str) -> uuid.UUID:
    import uuid  # with the first check: it imports platform, a tenth of a service's cold import

    if isinstance(value, uuid.UUID):
        return value
    # Only text: str() of an int or of bytes could happen to spell a UUID nobody meant.
    if isinstance(value, str):
        try:
            return uuid.UUID(value)
        except ValueError:
            pass
    raise InvalidRequestError(f"{field} must be a UUID, got {_shown(value)}")


def as_email(value: str, field: str) -> str:
    if not isinstance(value, str) or not _EMAIL.fullmatch(value):
        raise InvalidRequestError(f"{field} must be an email address, got {_shown(value)}")
    return value


def mailbox_emails(values: Sequence[str] | str) -> list[str]:
    """The addresses, each checked, once each: a repeat differing only in case is the same
    mailbox (providers match addresses case-insensitively), and the first spelling is kept."""
    if isinstance(values, str):
        values = [values]
    # The documented type is a list: any other iterable (a generator, a dict's keys, a set in
    # no order) is more likely a mistake than a request, and a typed error says so at once.
    if not isinstance(values, list | tuple):
        raise InvalidRequestError(
            f"mailbox_emails must be a list of email addresses, got {type(values).__name__}"
        )
    unique: dict[str, str] = {}
    for value in values:
        address = as_email(value, "mailbox_emails")
        unique.setdefault(address.casefold(), address)
    if not 1 <= len(unique) <= MAX_MAILBOXES:
        repeats = (
            f" once repeats are removed ({len(values)} given)" if len(values) > len(unique) else ""
        )
        raise InvalidRequestError(
            f"mailbox_emails takes 1 to {MAX_MAILBOXES} addresses, got {len(unique)}{repeats}"
        )
    return list(unique.values())


def members(values: Iterable[object], kind: type[E], label: str) -> list[E]:
    """Each value as a member of the enum `kind`: InvalidRequestError listing its values if one
    is not (or `values` is no iterable)."""
    try:
        return [kind(value) for value in values]
    except (TypeError, ValueError):
        valid = ", ".join(str(member.value) for member in kind)
        raise InvalidRequestError(f"{label} must be among {valid}; got {values!r}") from None
