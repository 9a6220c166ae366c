"""`python -m sequence_clients.sandbox`: serve both fakes until Ctrl-C.

`main(argv)` is also what the `sequence-clients sandbox` CLI command calls.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import sys

from .core import FAULT_KINDS, STATS_PATH, FaultConfig, SandboxConfig
from .limits import VENDOR, RateLimit, VendorDefault

# CLI spellings of the fault kinds (several aliases, since people type what they remember).
FAULT_ALIASES = {
    "5xx": "server_error",
    "server-error": "server_error",
    "429-burst": "rate_limit_burst",
    "burst": "rate_limit_burst",
    "rate-limit-burst": "rate_limit_burst",
    "reset": "reset_before",
    "reset-before": "reset_before",
    "reset-after-commit": "reset_after_commit",
    "slow": "slow",
    "html-502": "html_502",
    "html": "html_502",
    "truncated": "truncated_json",
    "truncated-json": "truncated_json",
}
_UNITS = {"": 1.0, "s": 1.0, "ms": 0.001, "m": 60.0, "min": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """'20ms' -> 0.02, '1.5s' or '1.5' -> 1.5, '2m' -> 120."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(ms|s|min|m|h)?\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (try 20ms, 1.5s)")
    return float(match.group(1)) * _UNITS[match.group(2) or ""]


def parse_rate_limit(text: str) -> RateLimit | VendorDefault | None:
    """'vendor' (the published limits), 'off', or a fixed window: '100/5s', '100000/5m'."""
    word = text.strip().lower()
    if word == VENDOR:
        return VENDOR
    if word in ("off", "none", "0"):
        return None
    try:
        return RateLimit.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{exc}, 'vendor' or 'off'") from None


def parse_share(text: str) -> float:
    """'0.25' -> 0.25, a share of jobs within 0..1."""
    try:
        share = float(text)
    except ValueError:
        share = -1.0
    if not 0.0 <= share <= 1.0:
        raise argparse.ArgumentTypeError(f"not a share within 0..1: {text!r}")
    return share


def parse_faults(text: str) -> FaultConfig:
    """'5xx=0.05,reset-after-commit=0.02,slow-seconds=2,burst-length=5'."""
    rates: dict[str, float] = {}
    extra: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = item.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"fault {item!r} needs =RATE")
        key = name.strip().lower().replace("_", "-")
        try:
            number = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"fault {item!r}: {value!r} is no number") from None
        if key in ("slow-seconds", "burst-length"):
            extra[key] = number
        elif key in FAULT_ALIASES or key.replace("-", "_") in FAULT_KINDS:
            rates[FAULT_ALIASES.get(key, key.replace("-", "_"))] = number
        else:
            known = ", ".join(sorted(FAULT_ALIASES))
            raise argparse.ArgumentTypeError(f"unknown fault {name!r}; known: {known}")
    try:
        return FaultConfig(
            slow_seconds=extra.get("slow-seconds", 3.0),
            burst_length=int(extra.get("burst-length", 3)),
            **rates,  # type: ignore[arg-type]  # keys are FAULT_KINDS, all floats
        )
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sequence-clients sandbox",
        description="Serve local fakes of the Unify and Boast APIs on one port.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=0, help="same seed, same data and faults")
    parser.add_argument(
        "--rate-limit",
        type=parse_rate_limit,
        default=VENDOR,
        metavar="vendor|off|N/WINDOW",
        help="per-key fixed window; default: each vendor's published limits "
        "(Unify 100000/5m and Bulk API quotas, Boast none)",
    )
    parser.add_argument("--latency", type=parse_duration, default=0.0, metavar="20ms")
    parser.add_argument(
        "--faults", type=parse_faults, default=FaultConfig(), metavar="KIND=RATE,..."
    )
    parser.add_argument("--token-ttl", type=parse_duration, default=7200.0, metavar="7200s")
    parser.add_argument("--job-ttl", type=parse_duration, default=86400.0, metavar="86400s")
    parser.add_argument(
        "--job-seconds",
        type=parse_duration,
        default=3.0,
        metavar="3s",
        help="how long a Unify query job runs",
    )
    parser.add_argument(
        "--job-failure-rate",
        type=parse_share,
        default=0.0,
        metavar="0..1",
        help="share of Unify query jobs that end FAILED",
    )
    parser.add_argument(
        "--people", type=int, default=3000, help="Unify people and Boast contacts to seed"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    config = SandboxConfig(
        seed=args.seed,
        rate_limit=args.rate_limit,
        latency=args.latency,
        faults=args.faults,
        token_ttl=args.token_ttl,
        job_ttl=args.job_ttl,
        job_seconds=args.job_seconds,
        job_failure_rate=args.job_failure_rate,
        people=args.people,
    )
    # Imported here so `--help` and argument errors work without the server extra.
    from .server import SandboxApp, bind, serve

    app = SandboxApp(config)
    try:
        sock = bind(args.host, args.port)
    except OSError as exc:
        print(f"cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    base = f"http://{args.host}:{sock.getsockname()[1]}"
    # These credentials exist only inside this sandbox process, so printing them is safe.
    lines = [
        f"Unify base URL:       {base}/unify",
        f"Unify API key:        {app.unify.api_keys[0]}",
        f"Boast base URL:       {base}/boast/v1",
        f"Boast OAuth base URL: {base}/boast",
        f"Boast client id:      {app.boast.client_id}",
        f"Boast client secret:  {app.boast.client_secret}",
        f"Inspect (traffic, duplicates): curl {base}{STATS_PATH}",
        f"Try: curl -H 'x-api-key: {app.unify.api_keys[0]}' {base}/unify/sequences/v1/sequences",
    ]
    print("\n".join(lines), flush=True)
    # uvicorn re-raises the SIGINT it handled after a clean shutdown; that is a normal stop.
    with contextlib.suppress(KeyboardInterrupt):
        serve(config, sock=sock, app=app)
    return 0


if __name__ == "__main__":
    sys.exit(main())
