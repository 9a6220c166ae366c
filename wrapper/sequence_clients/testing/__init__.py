"""Test your own service against the sandbox: `pip install 'sequence-clients[testing]'`.

    from sequence_clients.testing import set_testing, vcr_config, SequenceSandbox

- `set_testing(True)` makes every back-off, Retry-After and rate-limit wait instant and counted
  (`counted_waits()`); a context manager too.
- The pytest plugin (loaded by the entry point) gives each test a seeded sandbox and clients:
  `unify_sandbox`, `boast_sandbox`, `unify_client`, `async_unify_client`, `boast_client`,
  `async_boast_client`, `served_sandbox`, `instant_waits` (see `sequence_clients.testing.plugin`).
- `SequenceSandbox` / `sequence_sandbox()` is the same outside pytest.
- `vcr_config()` records a service's own cassettes through this project's scrubber.

The sandbox classes need the `testing` extra (starlette, uvicorn); they are imported on first
use, so `set_testing` and `vcr_config` work without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._instant import InstantClock, TestingSwitch, counted_waits, is_testing, set_testing
from .scrub import Scrubber, register_matchers, vcr_config

if TYPE_CHECKING:
    from ..sandbox.script import Fault, LoggedRequest
    from ._kit import (
        BoastSandbox,
        MemoryTokenStore,
        SequenceSandbox,
        ServedSandbox,
        UnifySandbox,
        sequence_sandbox,
    )

__all__ = [
    "BoastSandbox",
    "Fault",
    "InstantClock",
    "LoggedRequest",
    "MemoryTokenStore",
    "Scrubber",
    "SequenceSandbox",
    "ServedSandbox",
    "TestingSwitch",
    "UnifySandbox",
    "counted_waits",
    "is_testing",
    "register_matchers",
    "sequence_sandbox",
    "set_testing",
    "vcr_config",
]
_KIT = {
    "BoastSandbox", "MemoryTokenStore", "SequenceSandbox", "ServedSandbox", "UnifySandbox",
    "sequence_sandbox",
}  # fmt: skip
_SCRIPT = {"Fault", "LoggedRequest"}
_SERVER = {"starlette", "uvicorn", "httptools"}


def __getattr__(name: str) -> Any:
    if name in _KIT:
        try:
            from . import _kit
        except ModuleNotFoundError as missing:
            if (missing.name or "").partition(".")[0] not in _SERVER:
                raise
            raise ModuleNotFoundError(
                f"sequence_clients.testing.{name} needs the testing extra ({missing.name} is "
                "missing): pip install 'sequence-clients[testing]'",
                name=missing.name,
            ) from None
        return getattr(_kit, name)
    if name in _SCRIPT:
        from ..sandbox import script

        return getattr(script, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
