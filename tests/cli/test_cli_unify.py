"""`sequence-clients unify ...` against the sandbox: tables, --json, errors, credentials."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from clihelp import UnifyIds, run_cli

from sequence_clients.sandbox import Sandbox


def test_enroll_get_pause_resume_cancel_as_json(unify_env: Sandbox, fresh_ids: UnifyIds) -> None:
    ids = fresh_ids

    created = run_cli(
        "unify", "enroll", ids.sequence_id, ids.people[0], "-m", ids.mailbox, "--json"
    )
    assert created.exit_code == 0, created.stderr
    enrollment = created.json()
    assert enrollment["person"]["id"] == ids.people[0]
    assert enrollment["sequence"]["id"] == ids.sequence_id
    assert enrollment["status"] == "IN_PROGRESS"
    eid = enrollment["id"]

    assert run_cli("unify", "get", eid, "--json").json()["id"] == eid
    assert run_cli("unify", "pause", eid, "--json").json() == {"id": eid, "is_paused": True}
    assert unify_env.unify.enrollments[eid].is_paused
    assert run_cli("unify", "resume", eid, "--json").json()["is_paused"] is False
    assert run_cli("unify", "cancel", eid, "--json").json() == {"id": eid, "is_canceled": True}
    assert unify_env.unify.active_enrollment_of(ids.people[0]) is None


def test_tables_show_the_enrollment(unify_env: Sandbox, fresh_ids: UnifyIds) -> None:
    ids = fresh_ids
    person = unify_env.unify.person(ids.people[1])
    assert person is not None

    created = run_cli("unify", "enroll", ids.sequence_id, ids.people[1], "-m", ids.mailbox)
    assert created.exit_code == 0, created.stderr
    eid = unify_env.unify.active_enrollment_of(ids.people[1]).id  # type: ignore[union-attr]
    assert eid in created.stdout and person["email"] in created.stdout

    shown = run_cli("unify", "get", eid)
    assert eid in shown.stdout and "IN_PROGRESS" in shown.stdout

    listed = run_cli("unify", "list", "--person", ids.people[1])
    assert listed.exit_code == 0
    assert "Enrollments (1)" in listed.stdout and eid in listed.stdout

    for action, word in (
        ("pause", "is_paused"),
        ("resume", "is_paused"),
        ("cancel", "is_canceled"),
    ):
        changed = run_cli("unify", action, eid)
        assert changed.exit_code == 0 and word in changed.stdout and eid in changed.stdout


def test_list_filters_and_limit(unify_env: Sandbox) -> None:
    listed = run_cli("unify", "list", "--status", "IN_PROGRESS", "--limit", "3", "--json").json()
    assert len(listed) == 3
    assert {e["status"] for e in listed} == {"IN_PROGRESS"}
    finished = run_cli("unify", "list", "--status", "FINISHED", "--limit", "200", "--json").json()
    expected = sum(1 for e in unify_env.unify.enrollments.values() if e.status == "FINISHED")
    assert len(finished) == expected > 0


def test_sequences_table_and_json(unify_env: Sandbox) -> None:
    live = unify_env.unify.live_sequences()
    as_json = run_cli("unify", "sequences", "--json").json()
    assert [s["id"] for s in as_json] == [s["id"] for s in live]
    table = run_cli("unify", "sequences")
    assert f"Sequences ({len(live)})" in table.stdout
    assert all(s["id"] in table.stdout and s["name"] in table.stdout for s in live)


def test_conflict_is_one_line_and_return_existing_shows_it(fresh_ids: UnifyIds) -> None:
    ids = fresh_ids
    args = ("unify", "enroll", ids.sequence_id, ids.people[2], "-m", ids.mailbox, "--json")
    first = run_cli(*args).json()

    again = run_cli(*args)
    assert again.exit_code == 1
    assert again.stdout == ""
    assert again.stderr.startswith("error: AlreadyEnrolledError:")
    assert "409" in again.stderr and "Traceback" not in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1

    existing = run_cli(*args, "--return-existing")
    assert existing.exit_code == 0 and existing.json()["id"] == first["id"]


def test_wrapper_errors_become_one_line(unify_env: Sandbox) -> None:
    missing = run_cli("unify", "get", str(uuid.uuid4()))
    assert missing.exit_code == 1 and missing.stderr.startswith("error: NotFoundError:")

    bad = run_cli("unify", "get", "not-a-uuid")
    assert bad.exit_code == 2  # bad input, refused before anything is sent
    assert (
        bad.stderr.strip()
        == "error: InvalidRequestError: enrollment_id must be a UUID, got 'not-a-uuid'"
    )


def test_wrong_key_says_check_credentials(
    unify_env: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UNIFY_API_KEY", "wrong")
    result = run_cli("unify", "sequences")
    assert result.exit_code == 1
    assert "AuthenticationError" in result.stderr and "check the credentials" in result.stderr
    assert "wrong" not in result.stderr  # the key itself is never echoed


def test_missing_credentials_explain_and_exit_2() -> None:
    for args in (["unify", "sequences"], ["unify", "get", str(uuid.uuid4()), "--json"]):
        result = run_cli(*args)
        assert result.exit_code == 2
        assert "UNIFY_API_KEY" in result.stderr and "sequence-clients demo" in result.stderr
        assert "Traceback" not in result.stderr + result.stdout


def test_config_file_and_base_url_flag(shared_sandbox: Sandbox, tmp_path: Path) -> None:
    sandbox = shared_sandbox
    config = tmp_path / "config.toml"
    config.write_text(
        f'[unify]\napi_key = "{sandbox.unify_api_key}"\nbase_url = "http://example.com"\n'
    )
    # The flag beats the file's base_url (which the client refuses: plain http off loopback).
    ok = run_cli(
        "unify",
        "sequences",
        "--json",
        "--config",
        str(config),
        "--base-url",
        sandbox.unify_base_url,
    )
    assert ok.exit_code == 0 and len(ok.json()) == len(sandbox.unify.live_sequences())

    refused = run_cli("unify", "sequences", "--config", str(config))
    assert refused.exit_code == 2
    # The error's type and the refused URL (wording: tests/golden, plain-http-base-url).
    assert "InvalidRequestError" in refused.stderr and "'http://example.com'" in refused.stderr

    absent = run_cli("unify", "sequences", "--config", str(tmp_path / "nope.toml"))
    assert absent.exit_code == 2 and "does not exist" in absent.stderr

    config.write_text("[unify\n")
    broken = run_cli("unify", "sequences", "--config", str(config))
    assert broken.exit_code == 2 and "cannot read config file" in broken.stderr


def test_sandbox_command_passes_its_arguments_through() -> None:
    result = run_cli("sandbox", "--help")
    assert result.exit_code == 0
    # Laid out as every other command's help (click's plain layout): usage, then its options.
    assert "Usage: sequence-clients sandbox [OPTIONS]" in result.stdout
    assert "\nOptions:\n" in result.stdout and "--faults" in result.stdout
    assert "--port" in result.stdout and "[default: 8000]" in result.stdout
    bad = run_cli("sandbox", "--faults", "bogus=1")
    assert bad.exit_code == 2 and "unknown fault 'bogus'" in bad.stderr
