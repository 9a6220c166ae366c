"""The `sequence-clients` command line (needs the `cli` extra: typer, rich).

The commands only: the bulk engine they drive is `sequence_clients.bulk`, which has no CLI
dependencies (benchmarks and services import it). Only `main()` loads typer.
"""

from __future__ import annotations

import sys

from .._extras import needs_extra


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
