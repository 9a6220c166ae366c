"""The `sequence-clients` command line (needs the `cli` extra: typer, rich).

The bulk engine (`bulk`, `journal`, `rows`, `report`, `vendors`) has no CLI dependencies,
so benchmarks and services can import it; only `main()` loads typer.
"""

from __future__ import annotations

import sys

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


def main() -> None:
    try:
        from .app import app

        app(prog_name="sequence-clients")
    except ModuleNotFoundError as error:
        line = needs_extra(error)
        if line is None:
            raise
        print(f"sequence-clients {line}", file=sys.stderr)
        sys.exit(2)
