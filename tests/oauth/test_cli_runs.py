"""The CLI's token file is a FileTokenStore: two runs at once refresh once between them, and a
cron job that still exports BOAST_REFRESH_TOKEN keeps working however many rotations later."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from grant_helpers import LONG_AGO, seed_token
from typer.testing import CliRunner

from sequence_clients import FileTokenStore, OAuthToken
from sequence_clients.cli.app import app
from sequence_clients.sandbox import Sandbox, SandboxConfig
from sequence_clients.token_stores import fingerprint

TOKEN_FILE = Path(".config/sequence-clients/boast-token.json")
ROUNDS = 1  # of two concurrent runs (each CLI process takes seconds to start on a busy machine)
CRON_RUNS = 5


@pytest.fixture
def slow_sandbox() -> Iterator[Sandbox]:
    # Latency on every request, the token endpoint's too: the two runs' refreshes overlap.
    with Sandbox(SandboxConfig(seed=4, latency=0.3)) as sb:
        yield sb


def environment(sb: Sandbox, home: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "COLUMNS": "200",
        "BOAST_BASE_URL": sb.boast_base_url, "BOAST_AUTH_BASE_URL": sb.boast_auth_base_url,
        "BOAST_CLIENT_ID": sb.boast.client_id, "BOAST_CLIENT_SECRET": sb.boast.client_secret,
        "BOAST_ACCOUNT_ID": sb.boast.account_ids[0],
    }  # fmt: skip


def expire(store: FileTokenStore) -> None:
    """Time passes: the saved access token is now expired (the tokens themselves unchanged)."""
    stored = store.load()
    assert stored is not None
    store.save(OAuthToken(stored.access_token, stored.refresh_token, LONG_AGO))


def test_two_concurrent_runs_on_one_token_file(slow_sandbox: Sandbox, tmp_path: Path) -> None:
    store = FileTokenStore(tmp_path / TOKEN_FILE)
    store.save(seed_token(slow_sandbox))  # as `boast login` leaves it, since expired
    env = environment(slow_sandbox, tmp_path)
    command = [sys.executable, "-m", "sequence_clients.cli", "boast", "accounts", "--json"]
    for _ in range(ROUNDS):
        runs = [
            subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for _ in range(2)
        ]
        for run in runs:
            _, err = run.communicate(timeout=60)
            assert run.returncode == 0, err.decode()
        expire(store)
    boast = slow_sandbox.boast
    assert [o for kind, o in boast.token_log if kind == "refresh_token"] == ["issued"] * ROUNDS
    assert boast.revoked_grants == set()


def test_cron_runs_with_the_refresh_token_still_exported(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed = seed_token(sandbox)
    assert seed.refresh_token is not None
    for name, value in environment(sandbox, tmp_path).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("BOAST_REFRESH_TOKEN", seed.refresh_token)  # and never unset
    store = FileTokenStore(tmp_path / TOKEN_FILE)
    for run in range(CRON_RUNS):
        result = CliRunner().invoke(app, ["boast", "accounts", "--json"])
        assert result.exit_code == 0, (run, result.stderr)
        expire(store)  # a day later, the access token has expired
    boast = sandbox.boast
    # Every run refreshed once, always with the newest refresh token: never the exported one
    # again, however many rotations behind the file it is.
    assert [o for kind, o in boast.token_log if kind == "refresh_token"] == ["issued"] * CRON_RUNS
    assert boast.revoked_grants == set()
    stored = store.read()
    assert stored is not None and stored.seeded_by == fingerprint(seed.refresh_token)
    assert seed.refresh_token not in (tmp_path / TOKEN_FILE).read_text()


def test_a_new_exported_refresh_token_is_a_new_authorization(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refresh token the file does not descend from (a new sign-in elsewhere) wins."""
    old = seed_token(sandbox)
    store = FileTokenStore(tmp_path / TOKEN_FILE)
    store.save(old)
    fresh = seed_token(sandbox)
    assert fresh.refresh_token is not None
    for name, value in environment(sandbox, tmp_path).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("BOAST_REFRESH_TOKEN", fresh.refresh_token)
    result = CliRunner().invoke(app, ["boast", "accounts", "--json"])
    assert result.exit_code == 0, result.stderr
    stored = store.read()
    assert stored is not None and stored.seeded_by == fingerprint(fresh.refresh_token)
    assert stored.descends_from(fresh.refresh_token)
    assert sandbox.boast.revoked_grants == set()
