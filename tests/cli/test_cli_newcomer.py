"""What a newcomer meets first: `--version`, a missing extra, the sandbox's banner, options and
`--sample-csv`, and where Boast token requests go when the API host is pointed elsewhere."""

from __future__ import annotations

import csv
import importlib.metadata
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from clihelp import run_cli
from missing_extra import HIDE_SERVER

from sequence_clients.cli.boast_cmds import boast_kwargs

CLI = [sys.executable, "-m", "sequence_clients.cli"]


def test_version_comes_from_the_package_metadata() -> None:
    result = run_cli("--version")
    assert result.exit_code == 0
    assert (
        result.stdout.strip()
        == f"sequence-clients {importlib.metadata.version('sequence-clients')}"
    )


@pytest.mark.parametrize("command", [["demo"], ["sandbox", "--port", "0"]])
def test_a_missing_extra_is_one_line_naming_it(command: list[str]) -> None:
    """As after `pip install sequence-clients` without the testing extra: uvicorn absent."""
    hide_uvicorn = HIDE_SERVER + (
        f"sys.argv = ['sequence-clients', *{command!r}]\n"
        "from sequence_clients.cli import main\n"
        "main()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", hide_uvicorn], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    # One line naming the extra and the missing module (wording: tests/golden, missing-extra).
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("sequence-clients ") and "'sequence-clients[testing]'" in line, line
    assert re.search(r"\b(uvicorn|starlette)\b", line), line


def test_sandbox_refuses_a_bad_port_in_one_line() -> None:
    result = run_cli("sandbox", "--port", "99999")
    assert result.exit_code == 2
    assert "--port" in result.stderr and "'99999'" in result.stderr  # wording: tests/golden
    assert "Traceback" not in result.stderr


def test_sandbox_banner_and_sample_csv_are_ready_to_use(tmp_path: Path) -> None:
    sample = tmp_path / "campaign.csv"
    process = subprocess.Popen(
        [*CLI, "sandbox", "--port", "0", "--people", "100", "--sample-csv", "250", str(sample)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        banner = []
        for line in process.stdout:
            banner.append(line.rstrip("\n"))
            if line.startswith("Inspect"):
                break
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)
    exported = {}
    for line in banner:
        if line.startswith("export "):
            for pair in line.split("#")[0].split()[1:]:
                name, _, value = pair.partition("=")
                exported[name] = value
    for name in (
        "UNIFY_BASE_URL", "UNIFY_API_KEY", "UNIFY_MAILBOX", "UNIFY_SEQUENCE", "UNIFY_PERSON",
        "BOAST_BASE_URL", "BOAST_AUTH_BASE_URL", "BOAST_CLIENT_ID", "BOAST_CLIENT_SECRET",
        "BOAST_ACCOUNT_ID", "BOAST_ACCESS_TOKEN", "BOAST_REFRESH_TOKEN", "BOAST_SEQUENCE",
        "BOAST_CONTACT",
    ):  # fmt: skip
        assert exported.get(name), f"{name} missing from the banner:\n" + "\n".join(banner)
    assert "@" in exported["UNIFY_MAILBOX"]
    assert not exported["BOAST_BASE_URL"].endswith("/v1")  # the host root
    assert any("boast login" in line for line in banner)
    # --people is raised to fit the sample: 250 distinct people, none of the banner's.
    with sample.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 250 == len({r["person_id"] for r in rows})
    assert exported["UNIFY_PERSON"] not in {r["person_id"] for r in rows}
    assert any(f"bulk-enroll unify {sample}" in line for line in banner)


def test_boast_base_url_keeps_token_requests_off_the_real_host(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BOAST_ACCESS_TOKEN", "t")
    elsewhere = boast_kwargs(None, "http://127.0.0.1:9/boast")
    assert elsewhere["auth_base_url"] == "http://127.0.0.1:9/boast"
    monkeypatch.setenv("BOAST_AUTH_BASE_URL", "https://auth.staging.example")
    assert boast_kwargs(None, "https://api.staging.example")["auth_base_url"] == (
        "https://auth.staging.example"
    )
    monkeypatch.delenv("BOAST_AUTH_BASE_URL")
    assert boast_kwargs(None, "https://api.boast.io")["auth_base_url"] == "https://app.boast.io"
