"""`python -m sequence_clients.sandbox` as a real process: serves, answers curl, stops on Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def read_banner(process: subprocess.Popen[str], timeout: float = 15.0) -> dict[str, str]:
    """The variables of the banner's `export NAME=value` lines, and its closing `Inspect` line."""
    assert process.stdout is not None
    fields: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        if line.startswith("export "):
            words = line.split("#")[0].split()[1:]
            fields |= dict(word.split("=", 1) for word in words)
        elif line.startswith("Inspect"):
            fields["Inspect"] = line.partition(":")[2].strip()
            return fields
    raise AssertionError(f"no banner; got {fields}, exit code {process.poll()}")


@pytest.fixture
def sandbox_process() -> Iterator[tuple[subprocess.Popen[str], int]]:
    port = free_port()
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "sequence_clients.sandbox"),
            *("--port", str(port), "--seed", "5", "--people", "3100"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield process, port
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def test_process_serves_and_stops_cleanly_on_ctrl_c(
    sandbox_process: tuple[subprocess.Popen[str], int],
) -> None:
    process, port = sandbox_process
    banner = read_banner(process)
    base = f"http://127.0.0.1:{port}"
    assert banner["UNIFY_BASE_URL"] == f"{base}/unify"
    key = banner["UNIFY_API_KEY"]
    # The README's curl request, done with httpx.
    response = httpx.get(f"{base}/unify/sequences/v1/sequences", headers={"x-api-key": key})
    assert response.status_code == 200
    assert len(response.json()["sequences"]) >= 5
    assert httpx.get(f"{base}/unify/sequences/v1/sequences").status_code == 401
    # What a benchmark reads from outside the process.
    stats = httpx.get(banner["Inspect"].removeprefix("curl ")).json()
    assert stats["unify"]["requests"] == 2 and stats["boast"]["requests"] == 0
    assert stats["unify"]["duplicate_active_enrollments"] == 0
    assert stats["unify"]["total_created"] == 0

    started = time.monotonic()
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=5) == 0
    assert time.monotonic() - started < 5
    assert process.stderr is not None
    assert "Traceback" not in process.stderr.read()


def test_bad_arguments_exit_with_usage_error() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sequence_clients.sandbox", "--faults", "meteor=0.5"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "unknown fault" in result.stderr


def test_cli_value_parsers() -> None:
    from sequence_clients.sandbox.__main__ import (
        parse_duration,
        parse_faults,
        parse_rate_limit,
        parse_share,
    )
    from sequence_clients.sandbox.limits import RateLimit

    assert parse_rate_limit("100000/5m") == RateLimit(100_000, 300.0)
    assert parse_rate_limit("100/5s") == RateLimit(100, 5.0)
    assert parse_rate_limit("333/s") == parse_rate_limit("333") == RateLimit(333, 1.0)
    assert parse_rate_limit("vendor") == "vendor" and parse_rate_limit("off") is None
    assert parse_share("0.25") == 0.25
    for bad_share in ("1.5", "half"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_share(bad_share)
    with pytest.raises(argparse.ArgumentTypeError, match="vendor"):
        parse_rate_limit("fast")
    assert parse_duration("20ms") == pytest.approx(0.02)
    assert parse_duration("1.5") == 1.5
    faults = parse_faults("5xx=0.05,reset-after-commit=0.02,html=0.01,slow-seconds=2")
    assert (faults.server_error, faults.reset_after_commit, faults.html_502) == (0.05, 0.02, 0.01)
    assert faults.slow_seconds == 2
