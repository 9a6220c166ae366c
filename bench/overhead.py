"""Per-call cost of the wrapper against the same request made more barely, side by side.

Three ways to make one request, against the in-process sandbox (no latency, no faults):
  httpx      a bare httpx.Client building the URL and headers by hand, JSON-decoding the body;
  generated  the generated function (`sync_detailed`), which also parses the model;
  wrapper    UnifyClient (validation, retry plan, typed-error hook, model parsing).
Calls are interleaved (each round runs the three in a shuffled order), so drift in the machine
or the sandbox hits all three alike. Enrollments are cancelled between rounds, untimed, so a
person can be enrolled again.

Also: import time of `sequence_clients` in a fresh interpreter, and this run's peak memory.

    .venv/bin/python bench/overhead.py [--calls 2000]
"""

from __future__ import annotations

import argparse
import itertools
import random
import resource
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable

import httpx

from sequence_clients import UnifyClient
from sequence_clients.generated.unify import Client
from sequence_clients.generated.unify.api.sequence_enrollments import (
    create_sequence_enrollment,
    get_sequence_enrollment,
)
from sequence_clients.generated.unify.models import CreateEnrollmentRequest
from sequence_clients.sandbox import Sandbox, SandboxConfig, unify_state

TARGET_VS_GENERATED = 1.15
TARGET_VS_HTTPX = 1.25
TARGET_IMPORT_MS = 300.0
ENROLLMENTS = "/sequences/v1/enrollments"
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
WITHOUT_CLI_EXTRA = """
import sys
class _NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in ("rich", "click", "typer"):
            raise ModuleNotFoundError(name)
sys.meta_path.insert(0, _NotInstalled())
"""


def import_time_ms(prelude: str = "", runs: int = 9) -> float:
    """Median wall time of `import sequence_clients` beyond a bare interpreter start."""

    def run(code: str) -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", prelude + code], check=True)
        return time.perf_counter() - start

    bare = statistics.median(run("pass") for _ in range(runs))
    loaded = statistics.median(run("import sequence_clients") for _ in range(runs))
    return (loaded - bare) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()

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
    import_ms = import_time_ms(WITHOUT_CLI_EXTRA)
    import_with_cli_ms = import_time_ms()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"\nimport sequence_clients: {import_ms:.0f} ms as a service installs it"
        f" (target < {TARGET_IMPORT_MS:.0f} ms); {import_with_cli_ms:.0f} ms with the [cli] extra"
        " installed (httpx then imports rich and click)"
    )
    print(f"peak memory of this run (client + in-process sandbox): {peak_mb:.0f} MB")
    print(f"duplicate active enrollments: {len(duplicates)}")

    missed = [
        name
        for name, ok in {
            "get vs generated": get_ratios["vs_generated"] <= TARGET_VS_GENERATED,
            "get vs httpx": get_ratios["vs_httpx"] <= TARGET_VS_HTTPX,
            "enroll vs generated": enroll_ratios["vs_generated"] <= TARGET_VS_GENERATED,
            "enroll vs httpx": enroll_ratios["vs_httpx"] <= TARGET_VS_HTTPX,
            "import time": import_ms < TARGET_IMPORT_MS,
            "no duplicates": not duplicates,
        }.items()
        if not ok
    ]
    print("targets: all met" if not missed else f"targets missed: {', '.join(missed)}")
    return 0 if not missed else 1


if __name__ == "__main__":
    sys.exit(main())
