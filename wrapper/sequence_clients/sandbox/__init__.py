"""Local stateful fakes of the Unify and Boast APIs, for tests, demos and benchmarks.

The server needs the `sandbox` extra (starlette, uvicorn). It is imported lazily, so the
configuration types and `python -m sequence_clients.sandbox --help` work without it, and
`import sequence_clients` never imports this package at all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .core import Exchange, FaultConfig, FaultStats, SandboxConfig

if TYPE_CHECKING:
    from .server import Sandbox, SandboxStats, serve

__all__ = [
    "Exchange",
    "FaultConfig",
    "FaultStats",
    "Sandbox",
    "SandboxConfig",
    "SandboxStats",
    "serve",
]
_SERVER_NAMES = {"Sandbox", "SandboxStats", "serve"}


def __getattr__(name: str) -> Any:
    if name in _SERVER_NAMES:
        from . import server

        return getattr(server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
