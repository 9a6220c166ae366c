"""The README's CLI walk-through works as written against `sequence-clients sandbox`: the block's
first line starts the sandbox (on a free port here), its banner's export lines are pasted into a
shell, and every other line of the block runs there and succeeds."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
CLI = [sys.executable, "-m", "sequence_clients.cli"]


def cli_walkthrough() -> list[str]:
    section = README.read_text().split("\n## CLI\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block is not None, "the CLI section has no sh block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_readme_cli_walkthrough_runs_against_the_sandbox(tmp_path: Path) -> None:
    start, *commands = cli_walkthrough()
    words = shlex.split(start, comments=True)
    assert words[:2] == ["sequence-clients", "sandbox"]
    sandbox = subprocess.Popen(
        [*CLI, *words[1:], "--port", "0"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert sandbox.stdout is not None
        banner = []
        for line in sandbox.stdout:
            banner.append(line)
            if line.startswith("Inspect"):
                break
        exports = [line for line in banner if line.startswith("export ")]
        assert len(exports) >= 6, "".join(banner)
        script = "\n".join(
            [
                "set -e",
                f'sequence-clients() {{ {shlex.join(CLI)} "$@"; }}',
                *exports,
                *commands,
            ]
        )
        # Nothing of the developer's shell: only what the README and the banner give.
        env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "COLUMNS": "200"}
        if "PYTHONPATH" in os.environ:
            env["PYTHONPATH"] = os.environ["PYTHONPATH"]
        result = subprocess.run(
            ["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
            timeout=180,
        )  # fmt: skip
    finally:
        sandbox.send_signal(signal.SIGINT)
        sandbox.communicate(timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "sequence-clients " in result.stdout  # --version
    assert "Enrollments (1)" in result.stdout  # the one enrolled person, listed
    assert "Bulk enroll: 500 rows" in result.stdout
    assert (tmp_path / "campaign.report.csv").exists()
