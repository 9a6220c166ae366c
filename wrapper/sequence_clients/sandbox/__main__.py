"""`python -m sequence_clients.sandbox`: serve both fakes until Ctrl-C.

`main(argv)` is also what the `sequence-clients sandbox` CLI command calls.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import re
import sys
import textwrap
from typing import TYPE_CHECKING

from .core import FAULT_KINDS, STATS_PATH, FaultConfig, SandboxConfig
from .limits import VENDOR, RateLimit, VendorDefault

if TYPE_CHECKING:
    from .server import SandboxApp

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


class PlainHelp(argparse.Action):
    """`--help` laid out as the other sequence-clients commands' (click's plain layout)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        rows = []
        for action in parser._actions:  # argparse's own list of options, in order
            metavar = action.metavar or (action.dest.upper() if action.nargs != 0 else "")
            if isinstance(metavar, tuple):
                metavar = " ".join(metavar)
            default = action.default
            shown = f"  [default: {default}]" if isinstance(default, int | float | str) else ""
            names = f"{', '.join(action.option_strings)} {metavar}".strip()
            rows.append((names, ((action.help or "") + shown).strip()))
        width = max(len(names) for names, _ in rows) + 4
        lines = [f"Usage: {parser.prog} [OPTIONS]", "", f"  {parser.description}", "", "Options:"]
        for names, helped in rows:
            wrapped = textwrap.wrap(helped, 78 - width) or [""]
            lines.append(f"  {names:<{width - 2}}{wrapped[0]}".rstrip())
            lines += [" " * width + more for more in wrapped[1:]]
        print("\n".join(lines))
        parser.exit()


def parse_port(text: str) -> int:
    """A TCP port, 0..65535 (0: any free one)."""
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"not a port: {text!r} (0..65535; 0 picks a free one)")
    return port


def parse_sample(values: list[str] | None, parser: argparse.ArgumentParser) -> tuple[int, str]:
    if values is None:
        return 0, ""
    count, path = values
    if not count.isdigit() or int(count) < 1:
        parser.error(f"--sample-csv: N must be a positive number of rows, got {count!r}")
    return int(count), path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sequence-clients sandbox",
        description="Serve local fakes of the Unify and Boast APIs on one port.",
        add_help=False,
    )
    parser.add_argument(
        "-h", "--help", action=PlainHelp, nargs=0, help="Show this message and exit."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=parse_port, default=8000, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=0, help="same seed, same data and faults")
    parser.add_argument(
        "--rate-limit",
        type=parse_rate_limit,
        default=VENDOR,
        metavar="vendor|off|N/WINDOW",
        help="per-key fixed window; default: each vendor's published limits "
        "(Unify 100000/5m and Bulk API quotas, Boast none)",
    )
    parser.add_argument(
        "--latency", type=parse_duration, default=0.0, metavar="20ms",
        help="added to every answer",
    )  # fmt: skip
    parser.add_argument(
        "--faults", type=parse_faults, default=FaultConfig(), metavar="KIND=RATE,...",
        help=f"share of requests that fail, per kind ({', '.join(FAULT_KINDS)}), e.g. 5xx=0.05",
    )  # fmt: skip
    parser.add_argument(
        "--token-ttl", type=parse_duration, default=7200.0, metavar="7200s",
        help="lifetime of a Boast access token",
    )  # fmt: skip
    parser.add_argument(
        "--job-ttl", type=parse_duration, default=86400.0, metavar="86400s",
        help="how long a Unify query job's results are kept",
    )  # fmt: skip
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
    parser.add_argument(
        "--sample-csv",
        nargs=2,
        metavar=("N", "PATH"),
        help="write a bulk-enroll campaign file of N enrollable Unify people to PATH",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    sample_rows, sample_path = parse_sample(args.sample_csv, parser)
    config = SandboxConfig(
        seed=args.seed,
        rate_limit=args.rate_limit,
        latency=args.latency,
        faults=args.faults,
        token_ttl=args.token_ttl,
        job_ttl=args.job_ttl,
        job_seconds=args.job_seconds,
        job_failure_rate=args.job_failure_rate,
        # Room for the sample file beyond the banner's people and the seeded history.
        people=max(args.people, sample_rows + 100),
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
    print(banner(app, base, sample_rows, sample_path), flush=True)
    # uvicorn re-raises the SIGINT it handled after a clean shutdown; that is a normal stop.
    with contextlib.suppress(KeyboardInterrupt):
        serve(config, sock=sock, app=app)
    return 0


def banner(app: SandboxApp, base: str, sample_rows: int, sample_path: str) -> str:
    """Paste-ready exports for both vendors and ids that can be enrolled; writes the sample
    campaign file when asked."""
    unify, boast = app.unify, app.boast
    free = [p for p in unify.people if unify.active_enrollment_of(p["id"]) is None]
    free_people = [p["id"] for p in free]
    unify_sequence = next(
        s["id"] for s in unify.live_sequences() if unify.active_enrollment_count(s["id"]) == 0
    )
    account = boast.account_ids[0]
    boast_sequence = boast.active_sequences(account)[0]["id"]
    free_contacts = [
        c["id"]
        for c in boast.contacts[account]
        if boast.active_enrollment_count(boast_sequence, c["id"]) == 0
    ]
    token = boast.issue_token()
    lines = [
        f"Sandbox: Unify and Boast fakes at {base} (Ctrl-C stops). Paste into a shell:",
        "",
        "# Unify",
        f"export UNIFY_BASE_URL={base}/unify UNIFY_API_KEY={unify.api_keys[0]}",
        f"export UNIFY_MAILBOX={unify.mailboxes[0]['email']} UNIFY_SEQUENCE={unify_sequence}",
        f"export UNIFY_PERSON={free_people[0]}   # also free to enroll: "
        + " ".join(free_people[1:3]),
        "# Boast (a ready token; or drop the token exports and run `sequence-clients boast login`)",
        # The fake serves Boast's host root (API and OAuth paths alike) under /boast.
        f"export BOAST_BASE_URL={base}/boast BOAST_AUTH_BASE_URL={base}/boast",
        f"export BOAST_CLIENT_ID={boast.client_id} BOAST_CLIENT_SECRET={boast.client_secret}",
        f"export BOAST_ACCOUNT_ID={account}",
        f"export BOAST_ACCESS_TOKEN={token.access_token} BOAST_REFRESH_TOKEN={token.refresh_token}",
        f"export BOAST_SEQUENCE={boast_sequence} BOAST_CONTACT={free_contacts[0]}"
        "   # also free to enroll: " + " ".join(free_contacts[1:3]),
        "# In Python, UnifyClient() and BoastClient() read these UNIFY_*/BOAST_* variables.",
        "",
        'Try: sequence-clients unify enroll "$UNIFY_SEQUENCE" "$UNIFY_PERSON" --mailbox "$UNIFY_MAILBOX"',
        '     sequence-clients boast enroll "$BOAST_CONTACT" "$BOAST_SEQUENCE"',
    ]
    if sample_rows:
        chosen = free[3 : 3 + sample_rows]
        with open(sample_path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["person_id", "email"])
            writer.writerows([p["id"], p["email"]] for p in chosen)
        lines.append(
            f"     sequence-clients bulk-enroll unify {sample_path} "
            '--sequence "$UNIFY_SEQUENCE" --mailbox "$UNIFY_MAILBOX"'
            f"   ({len(chosen)} people)"
        )
    lines.append(f"Inspect (traffic, duplicates): curl {base}{STATS_PATH}")
    return "\n".join(lines)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except ModuleNotFoundError as missing:
        from .._extras import needs_extra  # the one line naming the extra to install

        line = needs_extra(missing)
        if line is None:
            raise
        print(f"python -m sequence_clients.sandbox {line}", file=sys.stderr)
        sys.exit(2)
