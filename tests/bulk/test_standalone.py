"""The bulk engine stands without the CLI: a service installed without the `cli` extra imports
it and runs a campaign, and it loads neither typer, rich nor any module of
`sequence_clients.cli`."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

CLI_EXTRA = ("typer", "rich", "click")

# Hides the cli extra as if it were not installed (httpx imports click and rich when they are).
SCRIPT = textwrap.dedent(
    """
    import asyncio, json, sys, tempfile
    from pathlib import Path

    class NotInstalled:
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in {extra!r}:
                raise ModuleNotFoundError(name, name=name)

    sys.meta_path.insert(0, NotInstalled())
    from sequence_clients.bulk import Journal, Row, run_bulk_enroll

    async def enroll(row, resume):
        return "e-" + row.key

    with tempfile.TemporaryDirectory() as tmp:
        journal = Journal(Path(tmp) / "j.sqlite", "unify", "s")
        rows = [Row(2, "11111111-1111-4111-8111-111111111111")]
        report = asyncio.run(run_bulk_enroll(rows, enroll, journal))
        journal.close()
    print(json.dumps({{"counts": dict(report.counts), "modules": sorted(sys.modules)}}))
    """
).format(extra=CLI_EXTRA)


def test_the_engine_runs_without_the_cli_extra_and_loads_no_cli_module() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["counts"] == {"enrolled": 1}
    modules = result["modules"]
    assert "sequence_clients.bulk.engine" in modules
    assert not [m for m in modules if m.partition(".")[0] in CLI_EXTRA]
    assert not [
        m for m in modules if m == "sequence_clients.cli" or m.startswith("sequence_clients.cli.")
    ]
