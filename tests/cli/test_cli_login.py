"""`sequence-clients boast login` as a subprocess against the sandbox, with the test playing the
browser (the sandbox's /oauth/authorize approves at once and redirects to the loopback port)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from sequence_clients.sandbox import Sandbox, SandboxConfig

CLI = [sys.executable, "-m", "sequence_clients.cli"]
TOKEN_FILE = Path(".config/sequence-clients/boast-token.json")


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(SandboxConfig(seed=41, rate_limit=None)) as running:
        yield running


def boast_env(sandbox: Sandbox, home: Path) -> dict[str, str]:
    """Only what a person has before signing in: the app's client id and secret, the host."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UNIFY_", "BOAST_"))}
    return {
        **env,
        "HOME": str(home),
        "BOAST_CLIENT_ID": sandbox.boast.client_id,
        "BOAST_CLIENT_SECRET": sandbox.boast.client_secret,
        # The API host root only: the OAuth requests must follow it, not go to app.boast.io.
        "BOAST_BASE_URL": sandbox.base_url + "/boast",
    }


def start_login(env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [*CLI, "boast", "login", "--no-open", "--timeout", "30"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stderr is not None
    for line in process.stderr:
        if line.startswith("http"):
            return process, line.strip()
    raise AssertionError(process.communicate())


def test_login_saves_a_token_that_the_other_commands_use(sandbox: Sandbox, tmp_path: Path) -> None:
    env = boast_env(sandbox, tmp_path)
    process, url = start_login(env)
    assert url.startswith(sandbox.base_url + "/boast/oauth/authorize?")
    query = parse_qs(urlsplit(url).query)
    assert query["redirect_uri"][0].startswith("http://127.0.0.1:")
    assert query["client_id"] == [sandbox.boast.client_id] and query["state"][0]

    page = httpx.get(url, follow_redirects=True, timeout=10)  # the browser
    assert page.status_code == 200 and "Signed in" in page.text
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    saved = tmp_path / TOKEN_FILE
    assert saved.stat().st_mode & 0o777 == 0o600
    assert "BOAST_ACCOUNT_ID" in err  # what to set next
    assert sandbox.boast.client_secret not in out + err

    account = sandbox.boast.account_ids[0]
    listed = subprocess.run(
        [*CLI, "boast", "sequences", "--json"],
        env={**env, "BOAST_ACCOUNT_ID": account}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    expected = [s["id"] for s in sandbox.boast.sequences[account]]
    assert [s["id"] for s in json.loads(listed.stdout)] == expected
    # The token came from the code grant, at the sandbox (not at the real app.boast.io).
    assert ("authorization_code", "issued") in sandbox.boast.token_log
    assert sandbox.boast.access_problem(json.loads(saved.read_text())["access_token"]) is None


def test_a_redirect_with_another_state_is_refused(sandbox: Sandbox, tmp_path: Path) -> None:
    env = boast_env(sandbox, tmp_path)
    process, url = start_login(env)
    approved = httpx.get(url, timeout=10)
    assert approved.status_code == 302
    callback = urlsplit(approved.headers["location"])
    forged = {"code": parse_qs(callback.query)["code"][0], "state": "someone-elses"}
    httpx.get(callback._replace(query=urlencode(forged)).geturl(), timeout=10)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 1
    line = err.strip().splitlines()[-1]
    assert line.startswith("error: ") and "state" in line  # which check refused it
    assert not (tmp_path / TOKEN_FILE).exists()


def test_login_without_the_app_credentials_says_what_it_needs(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UNIFY_", "BOAST_"))}
    result = subprocess.run(
        [*CLI, "boast", "login", "--no-open"], env={**env, "HOME": str(tmp_path)},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert "--client-id" in result.stderr and "BOAST_CLIENT_ID" in result.stderr
    assert "Traceback" not in result.stderr
