"""Which extra brings a missing module: the one line the CLI and `python -m
sequence_clients.sandbox` print instead of a traceback when an extra is not installed.

A module of its own, below both, so the sandbox does not import the CLI package to say it.
"""

from __future__ import annotations

# Modules of an extra -> the extra that brings them.
EXTRAS = {
    "typer": "cli", "rich": "cli", "click": "cli",
    # The sandbox behind `demo` and `sandbox` comes with the testing kit.
    "uvicorn": "testing", "starlette": "testing", "httptools": "testing",
}  # fmt: skip


def needs_extra(error: ModuleNotFoundError) -> str | None:
    """The one line to print when `error` is a missing extra, else None (a real bug)."""
    extra = EXTRAS.get((error.name or "").partition(".")[0])
    if extra is None:
        return None
    return f"needs the {extra} extra ({error.name} is missing): pip install 'sequence-clients[{extra}]'"
