"""Run the `sequence-clients` CLI as the console script does, and say what it cost.

    python bench/_cli_probe.py OUT.json bulk-enroll unify FILE.csv --sequence ... --json

The CLI code runs unchanged (`sequence_clients.cli.main`, the console script's entry point).
The probe only adds logging handlers, so the benchmark can see what the user's run did:
  - the wrapper's retry log (logger `sequence_clients`), counted by reason;
  - httpx's one line per response (logger `httpx`), counted by status: the 429s and 5xx
    the client saw. Connection resets have no response line; they show as retry reasons.
    Turned off by BENCH_PROBE_STATUSES=0, for a measure of CPU.
At exit it writes OUT.json: exit code, those counts, peak RSS, and peak RSS and CPU time after
the imports (so a caller can tell the per-row cost from the fixed start-up cost).

Peak RSS is VmHWM from /proc/self/status, this process's own high-water mark. Not ru_maxrss:
Linux carries the parent's high-water mark over fork and exec into the child's ru_maxrss, so a
benchmark holding 100,000 ids would be charged to the CLI it starts.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import sys
import time
from collections import Counter


class _Count(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.retries: Counter[str] = Counter()
        self.statuses: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        if record.name == "httpx":
            # 'HTTP Request: %s %s "%s %d %s"': the status is the fourth argument; reading it
            # from args avoids formatting ten thousand messages.
            args = record.args if isinstance(record.args, tuple) else ()
            if len(args) == 5:
                self.statuses[str(args[3])] += 1
        elif record.getMessage().startswith("retrying"):
            self.retries[str(getattr(record, "reason", "?"))] += 1


def _peak_rss_kb() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # not Linux: best available


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    out_path, argv = sys.argv[1], sys.argv[2:]
    started = time.perf_counter()
    import sequence_clients.cli.app  # noqa: F401  # the modules main() loads, imported up front
    from sequence_clients.cli import main as cli_main

    after_import = {
        "peak_rss_after_import_kb": _peak_rss_kb(),
        "cpu_after_import_s": _cpu_seconds(),
        "import_s": time.perf_counter() - started,
    }
    counter = _Count()
    # BENCH_PROBE_STATUSES=0 (bench/bulk_cpu.py): no httpx line per response, so the CPU measured
    # is the user's run's, not a log record per request on top of it.
    counted = ["sequence_clients"]
    if os.environ.get("BENCH_PROBE_STATUSES", "1") != "0":
        counted.append("httpx")
    for name in counted:
        logger = logging.getLogger(name)
        logger.addHandler(counter)
        logger.setLevel(logging.INFO)
        logger.propagate = False  # keep the INFO lines off stderr (no root handler prints them)
    sys.argv = ["sequence-clients", *argv]
    code: int = 0
    try:
        cli_main()
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    finally:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        with open(out_path, "w", encoding="utf-8") as handle:
            json.dump(
                {
                    "exit_code": code,
                    "retries": dict(counter.retries),
                    "statuses": dict(counter.statuses),
                    "peak_rss_kb": _peak_rss_kb(),
                    "cpu_s": usage.ru_utime + usage.ru_stime,
                    **after_import,
                },
                handle,
            )
    return code


if __name__ == "__main__":
    sys.exit(main())
