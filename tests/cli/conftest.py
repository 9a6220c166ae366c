"""Fixtures for CLI tests: an in-process sandbox on loopback, its credentials in the
environment, and a typer CliRunner that calls the real `sequence-clients` app."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from clihelp import UnifyIds, take_people

from sequence_clients.sandbox import Sandbox, SandboxConfig

CREDENTIAL_VARS = (
    "UNIFY_API_KEY", "UNIFY_BASE_URL", "BOAST_ACCESS_TOKEN", "BOAST_REFRESH_TOKEN",
    "BOAST_CLIENT_ID", "BOAST_CLIENT_SECRET", "BOAST_ACCOUNT_ID", "BOAST_BASE_URL",
    "BOAST_AUTH_BASE_URL",
)  # fmt: skip


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No credential leaks in from the developer's shell or config file; wide tables."""
    for name in CREDENTIAL_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COLUMNS", "250")


@pytest.fixture
def sandbox_seed() -> int:
    return 11


@pytest.fixture(scope="session")
def shared_sandbox() -> Iterator[Sandbox]:
    """One sandbox for the command tests, which each take people of their own (`fresh_ids`);
    starting and stopping a server per test would cost a fifth of a second each."""
    with Sandbox(SandboxConfig(seed=11)) as sandbox:
        yield sandbox


@pytest.fixture
def unify_env(shared_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    monkeypatch.setenv("UNIFY_API_KEY", shared_sandbox.unify_api_key)
    monkeypatch.setenv("UNIFY_BASE_URL", shared_sandbox.unify_base_url)
    return shared_sandbox


@pytest.fixture(scope="session")
def session_sequence(shared_sandbox: Sandbox) -> str:
    """A sequence without active enrollments when the session starts; command tests share it."""
    state = shared_sandbox.unify
    return next(
        s["id"] for s in state.live_sequences() if state.active_enrollment_count(s["id"]) == 0
    )


@pytest.fixture
def fresh_ids(unify_env: Sandbox, session_sequence: str) -> UnifyIds:
    """Ten people nobody else in this session enrolls, in the session's sequence."""
    people = take_people(unify_env, 10)
    return UnifyIds(session_sequence, people, unify_env.unify.mailboxes[0]["email"])


@pytest.fixture
def boast_env(shared_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    """Boast credentials of the shared sandbox's first account in the environment."""
    state = shared_sandbox.boast
    pair = state.issue_token()
    for name, value in {
        "BOAST_ACCOUNT_ID": state.account_ids[0],
        "BOAST_ACCESS_TOKEN": pair.access_token,
        "BOAST_REFRESH_TOKEN": pair.refresh_token,
        "BOAST_CLIENT_ID": state.client_id,
        "BOAST_CLIENT_SECRET": state.client_secret,
        "BOAST_BASE_URL": shared_sandbox.boast_base_url,
        "BOAST_AUTH_BASE_URL": shared_sandbox.boast_auth_base_url,
    }.items():
        monkeypatch.setenv(name, value)
    return shared_sandbox


@pytest.fixture(scope="session")
def boast_sequence(shared_sandbox: Sandbox) -> str:
    """An active sequence of the first account without active enrollments at session start."""
    state = shared_sandbox.boast
    return next(
        s["id"]
        for s in state.active_sequences(state.account_ids[0])
        if state.active_enrollment_count(s["id"]) == 0
    )
