"""Import and CLI start, as ratios to their floor, measured side by side in fresh processes.

  from sequence_clients import UnifyClient        ÷  import httpx             target <= 1.3
    (in this venv, and as a service installs it: without rich, click and typer, which httpx
    imports whenever they are installed)
  sequence-clients --version                      ÷  python -c "import typer"  target <= 1.5
  sequence-clients unify get --help               ÷  python -c "import typer"  target <= 2.0

Every command runs in a new interpreter (the console script for the CLI, as a user runs it),
with bytecode cached as an install has it; each round runs all of them in a shuffled order,
so a busy machine weighs on all alike. Each ratio is the median over rounds of that round's
ratio; wall time is what is compared (the user waits for it), the CPU time is printed too.

    .venv/bin/python bench/startup.py [--rounds 21] [--before TREE]

`--before TREE` adds this package's commands run from another source tree (e.g. a `git archive`
of main), with this venv's dependencies, interleaved in the same rounds: before and after from
one run.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _harness import machine

SCRIPT = str(Path(sys.executable).with_name("sequence-clients"))
# A service installs the package without the [cli] extra; this venv has it, and httpx imports
# rich and click whenever they are installed. Hiding them measures the service's case too.
AS_A_SERVICE = """
import sys
class _NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in ("rich", "click", "typer"):
            raise ModuleNotFoundError(name)
sys.meta_path.insert(0, _NotInstalled())
"""
COMMANDS = {
    "bare": [sys.executable, "-c", "pass"],
    "import httpx": [sys.executable, "-c", "import httpx"],
    "import UnifyClient": [sys.executable, "-c", "from sequence_clients import UnifyClient"],
    "service: import httpx": [sys.executable, "-c", AS_A_SERVICE + "import httpx"],
    "service: import UnifyClient": [
        sys.executable,
        "-c",
        AS_A_SERVICE + "from sequence_clients import UnifyClient",
    ],
    "import typer": [sys.executable, "-c", "import typer"],
    "--version": [SCRIPT, "--version"],
    "unify get --help": [SCRIPT, "unify", "get", "--help"],
}
# (measured, floor, target ratio)
TARGETS = (
    ("import UnifyClient", "import httpx", 1.3),
    ("service: import UnifyClient", "service: import httpx", 1.3),
    ("--version", "import typer", 1.5),
    ("unify get --help", "import typer", 2.0),
)


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds (user + system) of one run of `command`."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise RuntimeError(f"{command} exited {process.returncode}")
    return wall, usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--before", type=Path, help="a source tree to compare with")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["COLUMNS"] = "100"
    envs = dict.fromkeys(COMMANDS, env)
    if args.before:
        before = env | {"PYTHONPATH": str(args.before.resolve() / "wrapper")}
        for name in ("import UnifyClient", "--version", "unify get --help"):
            COMMANDS[f"before: {name}"] = COMMANDS[name]
            envs[f"before: {name}"] = before
    print(f"machine: {machine()}")
    print(f"{args.rounds} rounds, every command in a fresh process, shuffled within a round")
    for name, command in COMMANDS.items():  # untimed: bytecode caches written
        timed(command, envs[name])
    wall: dict[str, list[float]] = {name: [] for name in COMMANDS}
    cpu: dict[str, list[float]] = {name: [] for name in COMMANDS}
    rng = random.Random(0)
    for _ in range(args.rounds):
        names = list(COMMANDS)
        rng.shuffle(names)
        for name in names:
            seconds, used = timed(COMMANDS[name], envs[name])
            wall[name].append(seconds)
            cpu[name].append(used)

    print(f"\n  {'command':<28} {'wall ms':>8} {'CPU ms':>8}")
    for name in COMMANDS:
        print(
            f"  {name:<28} {statistics.median(wall[name]) * 1e3:>8.0f}"
            f" {statistics.median(cpu[name]) * 1e3:>8.0f}"
        )
    print()
    checks: dict[str, bool] = {}
    for measured, floor, target in TARGETS:
        ratio = statistics.median(a / b for a, b in zip(wall[measured], wall[floor], strict=True))
        cpu_ratio = statistics.median(a / b for a, b in zip(cpu[measured], cpu[floor], strict=True))
        print(f"  {measured} ÷ {floor}: {ratio:.2f} wall, {cpu_ratio:.2f} CPU (target <= {target})")
        checks[f"{measured} ÷ {floor} <= {target} ({ratio:.2f})"] = ratio <= target
        if f"before: {measured}" in wall:
            was = statistics.median(
                a / b for a, b in zip(wall[f"before: {measured}"], wall[floor], strict=True)
            )
            print(f"    before: {was:.2f} wall")
    missed = [name for name, ok in checks.items() if not ok]
    print("targets: all met" if not missed else f"targets missed: {'; '.join(missed)}")
    return 0 if not missed else 1


if __name__ == "__main__":
    sys.exit(main())
