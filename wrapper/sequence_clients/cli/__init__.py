"""The `sequence-clients` command line (needs the `cli` extra: typer, rich).

The bulk engine (`bulk`, `journal`, `rows`, `ratelimit`, `vendors`) has no CLI dependencies,
so benchmarks and services can import it; only `main()` loads typer.
"""

from __future__ import annotations

import sys


def main() -> None:
    try:
        from .app import app
    except ModuleNotFoundError as error:
        if error.name not in ("typer", "rich", "click"):
            raise
        print(
            f"sequence-clients needs the cli extra ({error.name} is missing): "
            "pip install 'sequence-clients[cli]'",
            file=sys.stderr,
        )
        sys.exit(2)
    app(prog_name="sequence-clients")
