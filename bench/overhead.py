"""Per-call cost of the wrapper against the same request made more barely, side by side.

Three ways to make one request, against the in-process sandbox (no latency, no faults):
  httpx      a bare httpx.Client building the URL and headers by hand, JSON-decoding the body;
  generated  the generated function (`sync_detailed`), which also parses the model;
  wrapper    UnifyClient (validation, retry plan, typed-error hook, model parsing).
Calls are interleaved (each round runs the three in a shuffled order), so drift in the machine
or the sandbox hits all three alike. Enrollments are cancelled between rounds, untimed, so a
person can be enrolled again.

Also: import time of `sequence_clients` as a ratio to `import httpx`, both measured in fresh
interpreters in the same run, interleaved (the ratio survives a busy machine better than
milliseconds do), with where it goes (`python -X importtime`, the package's direct imports);
the bulk CLI's CPU per row at 10,000 rows against a sandbox process without limit or latency,
with where it goes (cProfile of a smaller run, by module); and this run's peak memory.

    .venv/bin/python bench/overhead.py [--calls 2000] [--cli-rows 10000] [--profile-rows 2000]
                                       [--without-otel] [--cpu-calls 1000] [--cpu-only]

`--cpu-calls`: also the CPU (process time, not wall) per call of the wrapper and the generated
function through an httpx.MockTransport — no server, no socket: only the client's own work,
the figure that survives a busy machine. `--cpu-only` prints just that, quickly; with
`PYTHONPATH=<another checkout>/wrapper` it measures that checkout's package (side by side).

`--without-otel` measures as a service without the [otel] extra (the dev venv has the SDK):
`import opentelemetry` fails here and in the import-time interpreters, as when not installed.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import pstats
import random
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Before the package is imported: it looks for opentelemetry once, at import.
WITHOUT_OTEL = 'import sys; sys.modules["opentelemetry"] = None\n'
if "--without-otel" in sys.argv:
    sys.modules["opentelemetry"] = None  # type: ignore[assignment]

import httpx  # noqa: E402
from _harness import PROBE, machine, run_bulk_cli, sandbox_process, write_csv  # noqa: E402

from sequence_clients import UnifyClient  # noqa: E402
from sequence_clients.generated.unify import Client  # noqa: E402
from sequence_clients.generated.unify.api.sequence_enrollments import (  # noqa: E402
    create_sequence_enrollment,
    get_sequence_enrollment,
)
from sequence_clients.generated.unify.models import CreateEnrollmentRequest  # noqa: E402
from sequence_clients.sandbox import Sandbox, SandboxConfig, unify_state  # noqa: E402

TARGET_VS_GENERATED = 1.15
TARGET_VS_HTTPX = 1.25
TARGET_IMPORT_MS = 300.0
TARGET_IMPORT_RATIO = 1.3  # from sequence_clients import UnifyClient ÷ import httpx
TARGET_CLI_MS_PER_ROW = 0.8  # bulk-enroll CPU per row at 10,000 rows, imports excluded
CLI_CONCURRENCY = 16
# What a user's first line does; `import sequence_clients` alone loads nothing (PEP 562).
IMPORT = "from sequence_clients import UnifyClient"
ENROLLMENTS = "/sequences/v1/enrollments"
NOW = "2026-11-24T10:00:00Z"
Call = Callable[[], object]


def timed_rounds(
    variants: dict[str, Call], calls: int, between: Callable[[], None]
) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    rng = random.Random(0)
    for _ in range(calls):
        rng.shuffle(names)
        for name in names:
            start = time.perf_counter()
            variants[name]()
            samples[name].append(time.perf_counter() - start)
            between()
    return samples


def cpu_per_call(calls: int, repeats: int = 7) -> dict[str, float]:
    """CPU µs per get_enrollment through a MockTransport: the least of `repeats` batches (the
    batch least disturbed by other processes), wrapper and generated interleaved per batch."""
    body = {
        "id": str(uuid.UUID(int=1)), "created_at": NOW, "updated_at": NOW,
        "sequence": {"id": str(uuid.UUID(int=2)), "name": "s", "is_paused": False},
        "person": {"id": str(uuid.UUID(int=3)), "email": "p@x.com", "first_name": None,
                   "last_name": None, "linkedin_url": None},
        "mailbox": {"id": str(uuid.UUID(int=4)), "email": "m@x.com", "display_name": None,
                    "is_paused": False, "is_unauthorized": False},
        "enrolled_by_play": None, "reply_email_message": None, "status": "IN_PROGRESS",
        "is_blocked": False, "is_bounced": False, "is_canceled": False, "is_excluded": False,
        "is_opted_out": False, "is_paused": False, "is_replied": False, "started_at": None,
        "ended_at": None,
    }  # fmt: skip
    content = json.dumps(body).encode()

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=content, headers={"content-type": "application/json"})

    base, key, found = (
        "https://api.unify.example",
        "sk_bench_0123456789abcdef0123",
        uuid.UUID(int=1),
    )
    mock = httpx.MockTransport(answer)
    wrapper = UnifyClient(key, base_url=base, httpx_client=httpx.Client(transport=mock))
    generated = Client(base_url=base, headers={"x-api-key": key}, httpx_args={"transport": mock})
    variants: dict[str, Call] = {
        "wrapper": lambda: wrapper.get_enrollment(found),
        "generated": lambda: get_sequence_enrollment.sync_detailed(found, client=generated).parsed,
    }
    best = {name: float("inf") for name in variants}
    for run in variants.values():  # warm: first-call imports and caches
        run()
    for _ in range(repeats):
        for name, run in variants.items():
            started = time.process_time()
            for _ in range(calls):
                run()
            best[name] = min(best[name], (time.process_time() - started) / calls * 1e6)
    wrapper.close()
    return best


def report_cpu(calls: int) -> float:
    import sequence_clients

    best = cpu_per_call(calls)
    ratio = best["wrapper"] / best["generated"]
    print(
        f"\nCPU per get_enrollment, mock transport (least of 7 batches of {calls}),"
        f" package {Path(sequence_clients.__file__).parent}:"
    )
    print(f"  wrapper {best['wrapper']:.1f} µs, generated {best['generated']:.1f} µs:"
          f" wrapper/generated = {ratio:.3f}, the wrapper's own {best['wrapper'] - best['generated']:.1f} µs")  # fmt: skip
    return ratio


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


def report(title: str, samples: dict[str, list[float]]) -> dict[str, float]:
    medians = {name: statistics.median(values) for name, values in samples.items()}
    print(f"\n{title} ({len(samples['wrapper'])} calls each)")
    print(f"  {'':<10} {'median µs':>10} {'p99 µs':>10}")
    for name, values in samples.items():
        print(f"  {name:<10} {medians[name] * 1e6:>10.0f} {p99(values) * 1e6:>10.0f}")
    ratios = {
        "vs_generated": medians["wrapper"] / medians["generated"],
        "vs_httpx": medians["wrapper"] / medians["httpx"],
    }
    print(
        f"  wrapper/generated = {ratios['vs_generated']:.3f} (target <= {TARGET_VS_GENERATED})"
        f"   wrapper/httpx = {ratios['vs_httpx']:.3f} (target <= {TARGET_VS_HTTPX})"
    )
    return ratios


# A service installs `sequence-clients` without the [cli] extra; this venv has it, and httpx
# imports rich and click whenever they are installed. Hiding them measures the service's case.
WITHOUT_CLI_EXTRA = (
    (WITHOUT_OTEL if "--without-otel" in sys.argv else "")
    + """
import sys
class _NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in ("rich", "click", "typer"):
            raise ModuleNotFoundError(name)
sys.meta_path.insert(0, _NotInstalled())
"""
)


def import_time_ms(prelude: str = "", runs: int = 9) -> float:
    """Median wall time of IMPORT beyond a bare interpreter start."""

    def run(code: str) -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", prelude + code], check=True)
        return time.perf_counter() - start

    bare = statistics.median(run("pass") for _ in range(runs))
    loaded = statistics.median(run(IMPORT) for _ in range(runs))
    return (loaded - bare) * 1000


def import_ratio(runs: int = 15) -> tuple[float, float]:
    """Median ms of `import httpx` and of IMPORT beyond a bare interpreter,
    as a service installs the package, each round running the three in a shuffled order."""
    codes = {"bare": "pass", "httpx": "import httpx", "ours": IMPORT}
    samples: dict[str, list[float]] = {name: [] for name in codes}
    rng = random.Random(1)
    names = list(codes)
    for _ in range(runs):
        rng.shuffle(names)
        for name in names:
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", WITHOUT_CLI_EXTRA + codes[name]], check=True)
            samples[name].append(time.perf_counter() - start)
    bare = statistics.median(samples["bare"])
    return (
        (statistics.median(samples["httpx"]) - bare) * 1000,
        (statistics.median(samples["ours"]) - bare) * 1000,
    )


def import_breakdown(top: int = 8) -> list[tuple[str, float]]:
    """What IMPORT loads, by cumulative ms (`-X importtime`; the first to import a shared
    dependency, httpx say, is charged for it)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", WITHOUT_CLI_EXTRA + IMPORT],
        capture_output=True,
        text=True,
        check=True,
    )
    # The package itself loads nothing (PEP 562); its __getattr__ then imports
    # sequence_clients.unify, whose imports -X importtime prints at the top level, before it.
    children: list[tuple[str, float]] = []
    started = False
    for line in done.stderr.splitlines()[1:]:
        _, _, rest = line.partition("|")
        cumulative, _, name = rest.partition("|")
        depth = (len(name) - len(name.lstrip()) - 1) // 2
        if depth != 0:
            continue
        if name.strip() == "sequence_clients":
            started = True
        elif name.strip() == "sequence_clients.unify":
            own = int(cumulative) / 1000 - sum(ms for _, ms in children)
            children.append(("sequence_clients.unify (its own)", max(own, 0.0)))
            break
        elif started:
            children.append((name.strip(), int(cumulative) / 1000))
    return sorted(children, key=lambda item: -item[1])[:top]


def cli_cpu_per_row(rows: int, workdir: Path) -> float:
    """CPU ms per row of `bulk-enroll` after its imports: no limit, no latency, no faults."""
    with sandbox_process(workdir / f"cli-{rows}", people=rows) as sandbox:
        csv_path = write_csv(workdir / f"cli-{rows}" / "people.csv", sandbox.people)
        extra = ["--rate-limit", "1000000/s", "--concurrency", str(CLI_CONCURRENCY)]
        run = run_bulk_cli(sandbox, csv_path, extra=extra)
    if not run.probe or run.counts["enrolled"] != rows:
        raise RuntimeError(f"bulk-enroll exited {run.exit_code}: {run.counts}\n{run.stderr}")
    return (run.probe["cpu_s"] - run.probe["cpu_after_import_s"]) / rows * 1000


def cli_profile(rows: int, workdir: Path, top: int = 12) -> list[tuple[str, float]]:
    """Where bulk-enroll's time goes: cProfile's own time per module, as shares."""
    folder = workdir / f"profile-{rows}"
    with sandbox_process(folder, people=rows) as sandbox:
        csv_path = write_csv(folder / "people.csv", sandbox.people)
        argv = [
            "bulk-enroll", "unify", str(csv_path), "--sequence", sandbox.sequence_id,
            "--mailbox", sandbox.mailbox, "--base-url", sandbox.base_url, "--json",
            "--rate-limit", "1000000/s", "--concurrency", str(CLI_CONCURRENCY),
        ]  # fmt: skip
        profile = folder / "cli.prof"
        subprocess.run(
            [sys.executable, "-m", "cProfile", "-o", str(profile), str(PROBE),
             str(folder / "probe.json"), *argv],
            env=os.environ | {"UNIFY_API_KEY": sandbox.api_key},
            capture_output=True,
            check=True,
        )  # fmt: skip
    stats: Any = pstats.Stats(str(profile)).stats  # {(file, line, func): (cc, nc, tt, ct, callers)}
    by_module: defaultdict[str, float] = defaultdict(float)
    for (filename, _, function), (_, _, own, _, _) in stats.items():
        by_module[_module_of(filename, function)] += own
    total = sum(by_module.values()) or 1.0
    ranked = sorted(by_module.items(), key=lambda item: -item[1])[:top]
    return [(name, seconds / total) for name, seconds in ranked]


def _module_of(filename: str, function: str) -> str:
    if filename == "~":  # a C function: "<method 'execute' of 'sqlite3.Cursor' objects>"
        match = re.search(r"of '(\w+)|built-in method (\w+)", function)
        owner = (match.group(1) or match.group(2)) if match else "other"
        return f"C: {owner.lstrip('_')}"
    path = Path(filename)
    parts = path.with_suffix("").parts
    for anchor in ("site-packages", "wrapper"):
        if anchor in parts:
            tail = parts[parts.index(anchor) + 1 :]
            # The CLI's and the bulk engine's modules one by one (sequence_clients.bulk.journal).
            split = tail[1:2] in (("cli",), ("bulk",))
            depth = 1 if anchor == "site-packages" else 3 if split else 2
            return ".".join(tail[:depth])
    if "python3.11" in parts:
        tail = parts[parts.index("python3.11") + 1 :]
        return "stdlib: " + tail[0]
    return path.name


def main() -> int:
    # Measured processes find their bytecode cached, as an installed package has it.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--cli-rows", type=int, default=10_000, help="0 skips the CLI figures")
    parser.add_argument("--profile-rows", type=int, default=2_000, help="0 skips the profile")
    parser.add_argument(
        "--without-otel", action="store_true", help="as if opentelemetry were not installed"
    )
    parser.add_argument(
        "--cpu-calls", type=int, default=1000, help="calls per CPU batch; 0 skips the CPU figure"
    )
    parser.add_argument("--cpu-only", action="store_true", help="only the CPU per call figure")
    args = parser.parse_args()
    print(f"machine: {machine()}, load average {os.getloadavg()[0]:.1f}")
    print(f"opentelemetry: {'hidden (--without-otel)' if args.without_otel else 'as installed'}")
    if args.cpu_only:
        report_cpu(args.cpu_calls or 1000)
        return 0

    with Sandbox(SandboxConfig(seed=1)) as sandbox:
        state = sandbox.unify
        sequence_id = next(
            s["id"] for s in state.live_sequences() if state.active_enrollment_count(s["id"]) == 0
        )
        mailbox = state.mailboxes[0]["email"]
        free = [p["id"] for p in state.people[: -unify_state.N_SEEDED_ENROLLMENTS]]
        headers = {"x-api-key": sandbox.unify_api_key}
        base = sandbox.unify_base_url

        raw = httpx.Client(base_url=base, headers=headers, timeout=30)
        generated = Client(base_url=base, headers=headers, timeout=httpx.Timeout(30))
        wrapper = UnifyClient(sandbox.unify_api_key, base_url=base)
        # The one read in every get round stays enrolled, so the enroll rounds cycle over the
        # others (each cancelled right after, so the cycle can come round again).
        existing = wrapper.enroll(sequence_id, free[0], mailbox_emails=[mailbox])
        people = itertools.cycle(free[1:])
        created: list[str] = []

        def raw_get() -> object:
            response = raw.get(f"{ENROLLMENTS}/{existing.id}")
            response.raise_for_status()
            return response.json()

        gets = timed_rounds(
            {
                "httpx": raw_get,
                "generated": lambda: (
                    get_sequence_enrollment.sync_detailed(existing.id, client=generated).parsed
                ),
                "wrapper": lambda: wrapper.get_enrollment(existing.id),
            },
            args.calls,
            between=lambda: None,
        )

        def raw_enroll() -> object:
            body = {
                "sequence_id": sequence_id,
                "person_id": next(people),
                "mailbox_emails": [mailbox],
            }
            response = raw.post(ENROLLMENTS, json=body)
            response.raise_for_status()
            created.append(response.json()["id"])
            return created[-1]

        def generated_enroll() -> object:
            body = CreateEnrollmentRequest(
                sequence_id=uuid.UUID(sequence_id),
                person_id=uuid.UUID(next(people)),
                mailbox_emails=[mailbox],
            )
            parsed = create_sequence_enrollment.sync_detailed(client=generated, body=body).parsed
            created.append(str(parsed.id))  # type: ignore[union-attr]
            return parsed

        def wrapper_enroll() -> object:
            enrollment = wrapper.enroll(sequence_id, next(people), mailbox_emails=[mailbox])
            created.append(str(enrollment.id))
            return enrollment

        def cancel_created() -> None:
            while created:
                raw.delete(f"{ENROLLMENTS}/{created.pop()}").raise_for_status()

        enrolls = timed_rounds(
            {"httpx": raw_enroll, "generated": generated_enroll, "wrapper": wrapper_enroll},
            args.calls,
            between=cancel_created,
        )
        duplicates = state.duplicate_active_enrollments()
        for client in (raw, generated.get_httpx_client(), wrapper):
            client.close()

    get_ratios = report("get_enrollment", gets)
    enroll_ratios = report("enroll", enrolls)
    if args.cpu_calls:
        report_cpu(args.cpu_calls)
    import_ms = import_time_ms(WITHOUT_CLI_EXTRA)
    import_with_cli_ms = import_time_ms()
    httpx_ms, ours_ms = import_ratio()
    import_ratio_value = ours_ms / httpx_ms
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"\n{IMPORT}: {import_ms:.0f} ms as a service installs it"
        f" (target < {TARGET_IMPORT_MS:.0f} ms); {import_with_cli_ms:.0f} ms with the [cli] extra"
        " installed (httpx then imports rich and click)"
    )
    print(
        f"import ratio, same run: {IMPORT} {ours_ms:.0f} ms ÷ import httpx"
        f" {httpx_ms:.0f} ms = {import_ratio_value:.2f} (target <= {TARGET_IMPORT_RATIO})"
    )
    print("  where it goes (-X importtime, direct imports of the package, cumulative ms):")
    for name, ms in import_breakdown():
        print(f"    {ms:>7.1f}  {name}")
    print(f"peak memory of this run (client + in-process sandbox): {peak_mb:.0f} MB")
    cli_ms = None
    with tempfile.TemporaryDirectory(prefix="bench-overhead-") as tmp:
        if args.cli_rows:
            cli_ms = cli_cpu_per_row(args.cli_rows, Path(tmp))
            print(
                f"bulk-enroll CPU per row at {args.cli_rows} rows (concurrency"
                f" {CLI_CONCURRENCY}, imports excluded): {cli_ms:.3f} ms"
                f" (target <= {TARGET_CLI_MS_PER_ROW})"
            )
        if args.profile_rows:
            print(f"  where it goes (cProfile, {args.profile_rows} rows, own time by module):")
            for name, share in cli_profile(args.profile_rows, Path(tmp)):
                print(f"    {share:>6.1%}  {name}")
    print(f"duplicate active enrollments: {len(duplicates)}")

    missed = [
        name
        for name, ok in {
            "get vs generated": get_ratios["vs_generated"] <= TARGET_VS_GENERATED,
            "get vs httpx": get_ratios["vs_httpx"] <= TARGET_VS_HTTPX,
            "enroll vs generated": enroll_ratios["vs_generated"] <= TARGET_VS_GENERATED,
            "enroll vs httpx": enroll_ratios["vs_httpx"] <= TARGET_VS_HTTPX,
            "import time": import_ms < TARGET_IMPORT_MS,
            "import ratio to httpx": import_ratio_value <= TARGET_IMPORT_RATIO,
            "bulk CLI CPU per row": cli_ms is None or cli_ms <= TARGET_CLI_MS_PER_ROW,
            "no duplicates": not duplicates,
        }.items()
        if not ok
    ]
    print("targets: all met" if not missed else f"targets missed: {', '.join(missed)}")
    return 0 if not missed else 1


if __name__ == "__main__":
    sys.exit(main())
