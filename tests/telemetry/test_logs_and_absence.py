"""Logs switched on without code (`SEQUENCE_CLIENTS_LOG`), and a client without OpenTelemetry
installed: each in a fresh interpreter, as an operator would run it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

API_KEY = "sk_logs_canary_0123456789abcdef"

# A call retried once (503, then 200) on a mock transport: no network, no server.
SCRIPT = f"""
import sys
if "--without-otel" in sys.argv:
    sys.modules["opentelemetry"] = None  # what `import opentelemetry` meets when not installed
import httpx
from sequence_clients import RetryPolicy, UnifyClient, _telemetry
answers = iter([httpx.Response(503), httpx.Response(200, json={{"status": "success", "sequences": [], "next_cursor": None}})])
http = httpx.Client(transport=httpx.MockTransport(lambda request: next(answers)))
with UnifyClient({API_KEY!r}, httpx_client=http, retry_policy=RetryPolicy(base_delay=0.001)) as unify:
    assert list(unify.list_sequences()) == []
    print(unify.stats.attempts, unify.stats.retries, _telemetry._otel_trace is None)
    print(_telemetry._tracer() is None, _telemetry._metrics() is None)
"""


def run(level: str | None, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SEQUENCE_CLIENTS_LOG"}
    if level is not None:
        env["SEQUENCE_CLIENTS_LOG"] = level
    return subprocess.run(
        [sys.executable, "-c", SCRIPT, *args], env=env, capture_output=True, text=True, timeout=60,
        check=True,
    )  # fmt: skip


def test_debug_logs_every_attempt_to_stderr_without_a_secret() -> None:
    done = run("debug")
    lines = done.stderr.splitlines()
    assert sum(" DEBUG sequence_clients sending GET " in line for line in lines) == 2
    assert sum(" INFO sequence_clients retrying GET " in line for line in lines) == 1
    assert any("answered 503" in line for line in lines)
    assert API_KEY not in done.stderr


def test_info_logs_the_decisions_only() -> None:
    lines = run("INFO").stderr.splitlines()
    assert lines and all(" INFO sequence_clients " in line for line in lines)
    assert any("retrying GET" in line for line in lines)


@pytest.mark.parametrize("level", [None, "", "verbose"])
def test_without_the_variable_nothing_is_written(level: str | None) -> None:
    assert run(level).stderr == ""


def test_without_opentelemetry_a_call_works_and_is_counted() -> None:
    attempts, retries, absent, no_tracer, no_meter = run(None, "--without-otel").stdout.split()
    assert (attempts, retries, absent) == ("2", "1", "True")
    assert (no_tracer, no_meter) == ("True", "True")


def test_with_the_api_but_no_sdk_configured_no_span_or_metric_is_made() -> None:
    attempts, retries, absent, no_tracer, no_meter = run(None).stdout.split()
    assert (attempts, retries, absent) == ("2", "1", "False")  # the API is installed here
    assert (no_tracer, no_meter) == ("True", "True")
