"""bulk-enroll's CPU per row against the competent peer's (bench/peer_aiohttp.py), whole processes.

Each run is a process of its own against a sandbox process of its own, with no rate limit, no
latency and no faults, 16 requests in flight: `sequence-clients bulk-enroll` (through
bench/_cli_probe.py, which only reads its resource use) and the plain-aiohttp peer. Rounds
alternate which goes first; the figures are medians over rounds. Then one bulk-enroll run at
--rows-at-scale rows gives its CPU per row after imports.

Targets: bulk-enroll ÷ peer <= 2 (CPU per row, whole processes, imports included);
bulk-enroll <= 0.8 ms per row at 10,000 rows (after its imports, as bench/overhead.py counts it).
Every run must enroll every row.

    .venv/bin/python bench/bulk_cpu.py [--rows 6000] [--rounds 3] [--rows-at-scale 10000]
        [--before TREE]

`--before TREE` also runs bulk-enroll from another source tree (e.g. a `git archive` of main)
in every round, with this venv's dependencies: before and after from one run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _harness import machine, run_bulk_cli, sandbox_process, write_csv

PEER = Path(__file__).with_name("peer_aiohttp.py")
CONCURRENCY = 16
TARGET_VS_PEER = 2.0
TARGET_MS_PER_ROW = 0.8


def engine_run(rows: int, folder: Path, tree: Path | None = None) -> tuple[float, float]:
    """bulk-enroll's (CPU s in all, CPU s after imports) for `rows` rows (from `tree`'s code)."""
    with sandbox_process(folder, people=rows) as sandbox:
        csv_path = write_csv(folder / "people.csv", sandbox.people)
        extra = ["--rate-limit", "1000000/s", "--concurrency", str(CONCURRENCY)]
        saved = os.environ.get("PYTHONPATH")
        if tree is not None:
            os.environ["PYTHONPATH"] = str(tree.resolve() / "wrapper")
        try:
            run = run_bulk_cli(sandbox, csv_path, extra=extra, count_statuses=False)
        finally:
            os.environ.pop("PYTHONPATH", None)
            if saved is not None:
                os.environ["PYTHONPATH"] = saved
    if not run.probe or run.counts["enrolled"] != rows:
        raise RuntimeError(f"bulk-enroll exited {run.exit_code}: {run.counts}\n{run.stderr}")
    return run.probe["cpu_s"], run.probe["cpu_s"] - run.probe["cpu_after_import_s"]


def peer_run(rows: int, folder: Path) -> tuple[float, float]:
    """The peer's (CPU s in all, CPU s after imports) for `rows` rows."""
    with sandbox_process(folder, people=rows) as sandbox:
        csv_path = write_csv(folder / "people.csv", sandbox.people)
        out = folder / "peer.json"
        done = subprocess.run(
            [sys.executable, str(PEER), str(out), str(csv_path), "--base-url", sandbox.base_url,
             "--sequence", sandbox.sequence_id, "--mailbox", sandbox.mailbox,
             "--concurrency", str(CONCURRENCY)],
            env=os.environ | {"UNIFY_API_KEY": sandbox.api_key},
            capture_output=True, text=True, check=False,
        )  # fmt: skip
    if done.returncode:
        raise RuntimeError(f"the peer exited {done.returncode}:\n{done.stderr}")
    result = json.loads(out.read_text())
    if result["outcomes"].get("enrolled") != rows:
        raise RuntimeError(f"the peer enrolled {result['outcomes']} of {rows}")
    return result["cpu_s"], result["cpu_s"] - result["cpu_after_import_s"]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=6000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rows-at-scale", type=int, default=10_000, help="0 skips it")
    parser.add_argument("--before", type=Path, help="a source tree to compare with")
    args = parser.parse_args()
    # Measured processes find their bytecode cached, as an installed package has it.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    print(f"machine: {machine()}")
    print(
        f"{args.rows} rows, {CONCURRENCY} in flight, no limit, no latency, no faults;"
        f" {args.rounds} rounds, each run a process with its own sandbox process"
    )
    engine: list[tuple[float, float]] = []
    peer: list[tuple[float, float]] = []
    before: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory(prefix="bench-bulk-cpu-") as tmp:
        for round_ in range(args.rounds):
            runs = [("engine", engine_run, engine), ("peer", peer_run, peer)]
            for name, run, into in runs if round_ % 2 == 0 else runs[::-1]:
                into.append(run(args.rows, Path(tmp) / f"{name}-{round_}"))
            if args.before:
                folder = Path(tmp) / f"before-{round_}"
                before.append(engine_run(args.rows, folder, args.before))
        at_scale = (
            engine_run(args.rows_at_scale, Path(tmp) / "scale") if args.rows_at_scale else None
        )

    def per_row(samples: list[tuple[float, float]], which: int) -> float:
        return statistics.median(sample[which] for sample in samples) / args.rows * 1000

    print(f"\n  {'CPU ms per row':<16} {'in all':>8} {'after imports':>14}")
    rows = [("bulk-enroll", engine), ("aiohttp peer", peer)]
    if before:
        rows.append(("before", before))
    for name, samples in rows:
        print(f"  {name:<16} {per_row(samples, 0):>8.3f} {per_row(samples, 1):>14.3f}")
    ratio = statistics.median(e[0] / p[0] for e, p in zip(engine, peer, strict=True))
    after = statistics.median(e[1] / p[1] for e, p in zip(engine, peer, strict=True))
    print(f"  bulk-enroll ÷ peer: {ratio:.2f} in all, {after:.2f} after imports")
    if before:
        was = statistics.median(b[0] / p[0] for b, p in zip(before, peer, strict=True))
        print(f"  before ÷ peer: {was:.2f} in all")
    checks = {f"bulk-enroll ÷ peer <= {TARGET_VS_PEER} ({ratio:.2f})": ratio <= TARGET_VS_PEER}
    if at_scale is not None:
        ms = at_scale[1] / args.rows_at_scale * 1000
        print(f"  bulk-enroll at {args.rows_at_scale} rows: {ms:.3f} ms per row after imports")
        checks[f"{args.rows_at_scale} rows <= {TARGET_MS_PER_ROW} ms/row ({ms:.3f})"] = (
            ms <= TARGET_MS_PER_ROW
        )
    missed = [name for name, ok in checks.items() if not ok]
    print("targets: all met" if not missed else f"targets missed: {'; '.join(missed)}")
    return 0 if not missed else 1


if __name__ == "__main__":
    sys.exit(main())
