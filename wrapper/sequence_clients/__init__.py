"""Typed, retrying clients for the Unify Sequences and Boast sequence-enrollment APIs.

from sequence_clients import UnifyClient, AsyncUnifyClient, BoastClient, AsyncBoastClient, errors

Beyond the named methods, any generated operation runs through the same request path:
`client.call(<module>.operation(...))`, and `client.paginate(...)` for a list operation, with the
modules under `sequence_clients.generated.unify.api` and `sequence_clients.generated.boast.api`.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from . import errors
    from ._aiohttp import AioHttpClient as AioHttpClient
    from ._client import ClientOptions
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

__version__: str  # read on first use (installed_version)

# Every export loads on first use (PEP 562): `from sequence_clients import UnifyClient` imports
# Unify's code only (never Boast's generated client or OAuth, nor aiohttp), and the CLI, a
# subpackage, starts without importing any client at all.
_LAZY = {
    "errors": "errors",
    "ClientOptions": "_client",
    "AsyncPager": "_pagination",
    "Page": "_pagination",
    "SyncPager": "_pagination",
    "RetryPolicy": "_plan",
    "RateLimit": "_ratelimit",
    "AsyncUnifyClient": "unify",
    "UnifyClient": "unify",
    "AsyncBoastClient": "boast",
    "BoastClient": "boast",
    "OAuthToken": "oauth",
    "TokenStore": "oauth",
    "SharedTokenStore": "oauth",
    "FileTokenStore": "token_stores",
    "RedisTokenStore": "token_stores",
    "aexchange_code": "oauth",
    "authorization_url": "oauth",
    "exchange_code": "oauth",
    "AioHttpClient": "_aiohttp",
}


def __getattr__(name: str) -> object:
    if name == "__version__":
        return _version()
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    try:
        loaded = import_module(f".{module}", __name__)
    except ModuleNotFoundError as missing:
        if module != "_aiohttp":
            raise
        raise ImportError(
            f"{name} needs the aiohttp extra ({missing.name} is missing): "
            "pip install 'sequence-clients[aiohttp]'"
        ) from missing
    found = loaded if module == name else getattr(loaded, name)
    globals()[name] = found
    return found


def _version() -> str:
    found = installed_version()
    globals()["__version__"] = found
    return found


def installed_version() -> str:
    """This package's version: from the module the build writes, else the installed metadata
    (importlib.metadata costs more than the rest of `sequence-clients --version`)."""
    try:
        from ._version import __version__ as written  # type: ignore[import-not-found, unused-ignore]
    except ImportError:  # a source tree built before the version hook, or never installed
        pass
    else:
        return str(written)
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sequence-clients")
    except PackageNotFoundError:  # imported from a source tree that was never installed
        return "0+unknown"


# AioHttpClient is left out of __all__: it needs the aiohttp extra, and `import *` must work
# without it.
__all__ = [
    "AsyncBoastClient",
    "AsyncPager",
    "AsyncUnifyClient",
    "BoastClient",
    "ClientOptions",
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
