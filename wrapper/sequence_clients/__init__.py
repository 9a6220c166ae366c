"""Typed, retrying clients for the Unify Sequences and Boast sequence-enrollment APIs.

from sequence_clients import UnifyClient, AsyncUnifyClient, BoastClient, AsyncBoastClient, errors

Beyond the named methods, any generated operation runs through the same request path:
`client.call(<module>.operation(...))`, and `client.paginate(...)` for a list operation, with the
modules under `sequence_clients.generated.unify.api` and `sequence_clients.generated.boast.api`.
"""

from . import errors
from ._pagination import AsyncPager, Page, SyncPager
from ._plan import RetryPolicy
from ._ratelimit import RateLimit
from .boast import AsyncBoastClient, BoastClient
from .oauth import (
    OAuthToken,
    SharedTokenStore,
    TokenStore,
    aexchange_code,
    authorization_url,
    exchange_code,
)
from .token_stores import FileTokenStore, RedisTokenStore
from .unify import AsyncUnifyClient, UnifyClient

__version__: str  # read on first use (PEP 562): importlib.metadata costs a third of our import


def __getattr__(name: str) -> str:
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("sequence-clients")
    except PackageNotFoundError:  # imported from a source tree that was never installed
        found = "0+unknown"
    globals()["__version__"] = found
    return found


__all__ = [
    "AsyncBoastClient",
    "AsyncPager",
    "AsyncUnifyClient",
    "BoastClient",
    "FileTokenStore",
    "OAuthToken",
    "Page",
    "RateLimit",
    "RedisTokenStore",
    "RetryPolicy",
    "SharedTokenStore",
    "SyncPager",
    "TokenStore",
    "UnifyClient",
    "__version__",
    "aexchange_code",
    "authorization_url",
    "errors",
    "exchange_code",
]
