"""Cost of a bulk run as the file grows: wall time, CPU, peak memory and journal size vs rows.

For each size, a fresh sandbox process (no rate limit, no latency, no faults; enough seeded
people) and the real `sequence-clients bulk-enroll` in a fresh subprocess, its client-side
limiter lifted (`--rate-limit 1000000/s`). The CLI process reports its own peak RSS (VmHWM)
and CPU time (bench/_cli_probe.py); the CPU spent on imports is subtracted for the per-row
figure, and the peak RSS after the imports is shown, so the fixed start-up cost does not hide
the slope.

Linear cost shows as a flat CPU µs/row; flat memory as a peak RSS that does not follow rows.
Wall time here is bound by the sandbox as much as by the client (both share this machine's
cores), so the CPU column is the client's own cost.

    .venv/bin/python bench/scale.py [--sizes 1000,10000,100000] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from _harness import file_bytes, machine, run_bulk_cli, sandbox_process, write_csv

TARGET_PEAK_MB = 150.0
TARGET_PEAK_ROWS = 100_000  # the size the memory target is stated for
MAX_COST_RATIO = 1.5  # CPU per row, largest size vs smallest: "linear" within this
MAX_MEMORY_GROWTH_MB = 20.0  # peak RSS, largest size vs smallest: "flat" within this


@dataclass
class Point:
    rows: int
    elapsed: float
    wall: float
    cpu: float  # the CLI process's CPU seconds after its imports
    peak_mb: float
    import_mb: float
    journal_bytes: int
    report_bytes: int
    enrolled: int
    failed: int
    created: int  # enrollments the server created
    duplicates: int  # duplicate active enrollments in the server's state


def measure(rows: int, args: argparse.Namespace, workdir: Path) -> Point:
    with sandbox_process(workdir / f"rows-{rows}", people=rows, seed=args.seed) as sandbox:
        csv_path = write_csv(workdir / f"rows-{rows}" / "people.csv", sandbox.people)
        extra = ["--rate-limit", "1000000/s", "--concurrency", str(args.concurrency)]
        run = run_bulk_cli(sandbox, csv_path, extra=extra)
        server = sandbox.server_stats()
    if not run.report:
        raise RuntimeError(f"{rows} rows: the CLI exited {run.exit_code}:\n{run.stderr}")
    probe = run.probe
    counts = run.counts
    return Point(
        rows=rows,
        elapsed=run.elapsed,
        wall=run.wall,
        cpu=probe["cpu_s"] - probe["cpu_after_import_s"],
        peak_mb=probe["peak_rss_kb"] / 1024,
        import_mb=probe["peak_rss_after_import_kb"] / 1024,
        journal_bytes=file_bytes(Path(run.report["journal"])),
        report_bytes=Path(run.report["report"]).stat().st_size,
        enrolled=counts["enrolled"],
        failed=counts["failed"] + counts["in_flight"] + counts["invalid"],
        created=int(server["total_created"]),
        duplicates=int(server["duplicate_active_enrollments"]),
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--sizes",
        default="1000,10000,100000",
        help="comma-separated row counts (100,000 rows take minutes on a busy 2-core machine)",
    )
    parser.add_argument("--concurrency", type=int, default=16, help="bulk-enroll --concurrency")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, help="keep CSVs, journals, reports here")
    args = parser.parse_args()
    sizes = sorted({int(size) for size in args.sizes.split(",") if size.strip()})

    print(f"machine: {machine()}")
    print(f"no rate limit, no latency, no faults; concurrency {args.concurrency}\n")
    head = (
        f"{'rows':>7} {'run s':>7} {'proc s':>7} {'rows/s':>7} {'wall µs/row':>11}"
        f" {'CPU µs/row':>10} {'peak MB':>7} {'import MB':>9} {'journal MB':>10}"
        f" {'B/row':>6} {'report MB':>9} {'enrolled':>8} {'failed':>6} {'dup':>4}"
    )
    print(head)
    print("-" * len(head))
    points: list[Point] = []
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        for rows in sizes:
            p = measure(rows, args, args.workdir or Path(tmp))
            points.append(p)
            print(
                f"{p.rows:>7} {p.elapsed:>7.1f} {p.wall:>7.1f} {p.rows / p.elapsed:>7.0f}"
                f" {p.elapsed / p.rows * 1e6:>11.0f} {p.cpu / p.rows * 1e6:>10.0f}"
                f" {p.peak_mb:>7.1f} {p.import_mb:>9.1f} {p.journal_bytes / 2**20:>10.2f}"
                f" {p.journal_bytes / p.rows:>6.0f} {p.report_bytes / 2**20:>9.2f}"
                f" {p.enrolled:>8} {p.failed:>6} {p.duplicates:>4}",
                flush=True,
            )

    small, large = points[0], points[-1]
    cost_ratio = (large.cpu / large.rows) / (small.cpu / small.rows)
    growth = large.peak_mb - small.peak_mb
    print(
        f"\nCPU per row, {large.rows} vs {small.rows} rows: x{cost_ratio:.2f}"
        f" (linear within x{MAX_COST_RATIO}); peak RSS {small.peak_mb:.0f} → {large.peak_mb:.0f} MB"
        f" ({growth:+.1f} MB for x{large.rows / small.rows:.0f} rows)"
    )
    checks = {
        f"every row enrolled once (sizes {', '.join(str(p.rows) for p in points)})": all(
            p.enrolled == p.rows == p.created and not p.failed and not p.duplicates for p in points
        ),
        f"cost linear (x{cost_ratio:.2f} <= x{MAX_COST_RATIO})": cost_ratio <= MAX_COST_RATIO,
        f"memory flat ({growth:+.1f} MB <= {MAX_MEMORY_GROWTH_MB:.0f} MB)": (
            growth <= MAX_MEMORY_GROWTH_MB
        ),
    }
    if large.rows >= TARGET_PEAK_ROWS:
        checks[f"peak memory of {large.rows} rows < {TARGET_PEAK_MB:.0f} MB"] = (
            large.peak_mb < TARGET_PEAK_MB
        )
    else:
        print(f"peak-memory target (< {TARGET_PEAK_MB:.0f} MB at {TARGET_PEAK_ROWS} rows):", end="")
        print(f" not measured, largest run {large.rows} rows")
    missed = [name for name, ok in checks.items() if not ok]
    print("targets: all met" if not missed else f"targets missed: {'; '.join(missed)}")
    return 0 if not missed else 1


if __name__ == "__main__":
    sys.exit(main())
