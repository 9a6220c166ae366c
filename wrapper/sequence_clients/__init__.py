"""Typed, retrying clients for the Unify Sequences and Boast sequence-enrollment APIs.

from sequence_clients import UnifyClient, AsyncUnifyClient, BoastClient, AsyncBoastClient, errors

Beyond the named methods, any generated operation runs through the same request path:
`client.call(<module>.operation(...))`, and `client.paginate(...)` for a list operation, with the
modules under `sequence_clients.generated.unify.api` and `sequence_clients.generated.boast.api`.
"""

from importlib.metadata import PackageNotFoundError, version

from . import errors
from ._pagination import AsyncPager, Page, SyncPager
from ._plan import RetryPolicy
from ._ratelimit import RateLimit
from .boast import AsyncBoastClient, BoastClient
from .oauth import OAuthToken, TokenStore, aexchange_code, authorization_url, exchange_code
from .unify import AsyncUnifyClient, UnifyClient

try:
    __version__ = version("sequence-clients")
except PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "AsyncBoastClient",
    "AsyncPager",
    "AsyncUnifyClient",
    "BoastClient",
    "OAuthToken",
    "Page",
    "RateLimit",
    "RetryPolicy",
    "SyncPager",
    "TokenStore",
    "UnifyClient",
    "__version__",
    "aexchange_code",
    "authorization_url",
    "errors",
    "exchange_code",
]
