"""Re-record the cassettes under tests/cassettes.

    python scripts/record.py sandbox        # `make record`: every cassette, from the seeded sandbox
    python scripts/record.py live unify     # `make record-live VENDOR=unify`: the real vendor

Live recording sends real requests with real credentials (it enrolls and cancels test people),
so it refuses to run in CI or without every credential it needs, and says which is missing.
Boast rotates the refresh token on every refresh: set BOAST_REFRESH_TOKEN_FILE to a path to
receive the newest one (the one in the environment is spent after the first test).
Scrubbing (sequence_clients/testing/scrub.py) runs while recording, so secrets never reach the cassette files.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTEST = [sys.executable, "-m", "pytest"]
LIVE_ENV = "SEQUENCE_CLIENTS_LIVE"  # read by tests/replay/replay_support.py
REQUIRED = {
    "unify": (
        "UNIFY_API_KEY",
        # Records the tests may enroll and cancel: a sequence nobody is active in, a second
        # sequence, four comma-separated person ids free to enroll, and a connected mailbox.
        "UNIFY_SEQUENCE_ID",
        "UNIFY_OTHER_SEQUENCE_ID",
        "UNIFY_PERSON_IDS",
        "UNIFY_MAILBOX_EMAIL",
    ),
    "boast": (
        "BOAST_CLIENT_ID",
        "BOAST_CLIENT_SECRET",
        "BOAST_REFRESH_TOKEN",
        "BOAST_ACCOUNT_ID",
        # Records the tests may enroll and remove: four comma-separated contact ids with no
        # enrollment, and two active sequences.
        "BOAST_CONTACT_IDS",
        "BOAST_SEQUENCE_ID",
        "BOAST_OTHER_SEQUENCE_ID",
    ),
}


def refusal(vendor: str | None, env: dict[str, str]) -> str | None:
    """Why a live recording must not run, or None when it may."""
    if env.get("CI"):
        return "refusing to record against a real vendor in CI (CI is set)"
    if vendor not in REQUIRED:
        return f"VENDOR must be one of {', '.join(REQUIRED)}, got {vendor!r}"
    missing = [name for name in REQUIRED[vendor] if not env.get(name)]
    if missing:
        return f"missing credentials for {vendor}: set {', '.join(missing)}"
    return None


def check_cassettes() -> int:
    """Secret scan and spec check of what was just recorded (skipped while recording)."""
    command = [*PYTEST, "tests/replay/test_cassette_hygiene.py", "--record-mode=none", "-q"]
    return subprocess.call(command, cwd=ROOT)


def record_sandbox(extra: list[str]) -> int:
    command = [
        *PYTEST,
        "tests/replay",
        "--record-mode=rewrite",
        "--allowed-hosts=127.0.0.1,localhost",
        "-q",
        "-rfE",  # the hygiene checks skip while recording; list failures only
        *extra,
    ]
    env = {k: v for k, v in os.environ.items() if k != LIVE_ENV}
    return subprocess.call(command, cwd=ROOT, env=env) or check_cassettes()


def record_live(vendor: str | None, extra: list[str]) -> int:
    reason = refusal(vendor, dict(os.environ))
    if reason is not None:
        print(f"record-live: {reason}", file=sys.stderr)
        return 2
    modules = sorted(
        str(p.relative_to(ROOT)) for p in (ROOT / "tests/replay").glob(f"test_{vendor}_*.py")
    )
    command = [*PYTEST, *modules, "--record-mode=rewrite", "-q", "-rfE", *extra]
    env = {**os.environ, LIVE_ENV: str(vendor)}
    return subprocess.call(command, cwd=ROOT, env=env) or check_cassettes()


def main(argv: list[str]) -> int:
    if argv[:1] == ["sandbox"]:
        return record_sandbox(argv[1:])
    if argv[:1] == ["live"]:
        vendor = argv[1] if len(argv) > 1 else None
        return record_live(vendor, argv[2:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
