"""Argument checks made before anything is sent, so bad input fails fast with a clear message."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence

from .errors import InvalidRequestError

# Deliberately simple: one @, no spaces, a dot in the domain. The vendor does the real check.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
MAX_MAILBOXES = 10


def as_uuid(value: uuid.UUID | str, field: str) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise InvalidRequestError(f"{field} must be a UUID, got {value!r}") from None


def as_email(value: str, field: str) -> str:
    if not isinstance(value, str) or not _EMAIL.match(value):
        raise InvalidRequestError(f"{field} must be an email address, got {value!r}")
    return value


def mailbox_emails(values: Sequence[str]) -> list[str]:
    if isinstance(values, str):
        values = [values]
    if not 1 <= len(values) <= MAX_MAILBOXES:
        raise InvalidRequestError(
            f"mailbox_emails takes 1 to {MAX_MAILBOXES} addresses, got {len(values)}"
        )
    return [as_email(value, "mailbox_emails") for value in values]
