"""What both vendor adapters (`unify`, `boast`) share: argument types, their checks, TypeVars.

Each adapter declares its sync client by hand; the async twin is derived from it by
`scripts/twins.py` (the block at the end of each adapter), so helpers here are written once for
both vendors and both twins.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, Literal, TypeVar

from . import _validate
from ._client import ClientOptions
from .errors import InvalidRequestError

OnConflict = Literal["raise", "return_existing"]
UuidLike = uuid.UUID | str
T = TypeVar("T")
PageT = TypeVar("PageT")
ItemT = TypeVar("ItemT")

# The options every client's base takes; the rest of a constructor's arguments are the vendor's.
_BASE_SETTINGS = tuple(ClientOptions.__annotations__)


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


def given_options(client: object, options: Mapping[str, Any], accepted: type) -> dict[str, Any]:
    """A constructor's `**options`, once each name is one its TypedDict (`accepted`) declares:
    TypeError otherwise, as for any unknown keyword, since `**options` itself takes anything."""
    for name in sorted(options.keys() - accepted.__annotations__.keys())[:1]:
        raise TypeError(f"{type(client).__name__}() got an unexpected keyword argument {name!r}")
    return dict(options)


def base_settings(init_kwargs: Mapping[str, Any], **overrides: Any) -> dict[str, Any]:
    """The base client's settings out of a vendor constructor's arguments (`init_kwargs`,
    which `with_options` re-applies), with the vendor's normalised values in `overrides`; the
    base's defaults stand for those not given."""
    return {
        **{name: init_kwargs[name] for name in _BASE_SETTINGS if name in init_kwargs},
        **overrides,
        "init_kwargs": dict(init_kwargs),
    }
