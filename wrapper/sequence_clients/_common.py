"""What both vendor adapters (`unify`, `boast`) share: argument types, their checks, TypeVars.

Each adapter declares its sync client by hand; the async twin is derived from it by
`scripts/twins.py` (the block at the end of each adapter), so helpers here are written once for
both vendors and both twins.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, TypeAlias, TypeVar

from . import _validate
from .errors import InvalidRequestError

if TYPE_CHECKING:
    import uuid  # loaded with the first id checked (see _validate.as_uuid)

OnConflict = Literal["raise", "return_existing"]
UuidLike: TypeAlias = "uuid.UUID | str"
T = TypeVar("T")
PageT = TypeVar("PageT")
ItemT = TypeVar("ItemT")


def _id(value: UuidLike, name: str) -> uuid.UUID:
    return _validate.as_uuid(value, name)


def check_on_conflict(on_conflict: OnConflict) -> OnConflict:
    """`on_conflict` as given, once checked: typed callers cannot pass anything else, others can."""
    if on_conflict not in ("raise", "return_existing"):
        raise InvalidRequestError(
            f"on_conflict must be 'raise' or 'return_existing', got {on_conflict!r}"
        )
    return on_conflict


def id_filters(**ids: UuidLike | None) -> dict[str, uuid.UUID]:
    """The list filters given (not None), each checked as a UUID under its own name."""
    return {name: _id(value, name) for name, value in ids.items() if value is not None}
