"""Typed, retrying clients for the Unify Sequences and Boast sequence-enrollment APIs.

from sequence_clients import UnifyClient, AsyncUnifyClient, BoastClient, AsyncBoastClient, errors
"""

from . import errors
from ._pagination import AsyncPager, Page, SyncPager
from ._plan import RetryPolicy
from .boast import AsyncBoastClient, BoastClient
from .oauth import OAuthToken, TokenStore, aexchange_code, authorization_url, exchange_code
from .unify import AsyncUnifyClient, UnifyClient

__all__ = [
    "AsyncBoastClient",
    "AsyncPager",
    "AsyncUnifyClient",
    "BoastClient",
    "OAuthToken",
    "Page",
    "RetryPolicy",
    "SyncPager",
    "TokenStore",
    "UnifyClient",
    "aexchange_code",
    "authorization_url",
    "errors",
    "exchange_code",
]
