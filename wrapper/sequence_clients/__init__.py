"""Typed, retrying clients for the Unify Sequences and Boast sequence-enrollment APIs.

from sequence_clients import UnifyClient, AsyncUnifyClient, BoastClient, AsyncBoastClient, errors
"""

from . import errors
from ._pagination import AsyncPager, Page, SyncPager
from ._plan import RetryPolicy
from .unify import AsyncUnifyClient, UnifyClient

__all__ = [
    "AsyncPager",
    "AsyncUnifyClient",
    "Page",
    "RetryPolicy",
    "SyncPager",
    "UnifyClient",
    "errors",
]
