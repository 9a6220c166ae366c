"""Served mode answers scripted faults over a real connection, and `vcr_config()` keeps a
service's own cassettes free of keys and tokens."""

from __future__ import annotations

from pathlib import Path

import pytest
import vcr

from sequence_clients import BoastClient, UnifyClient, errors
from sequence_clients.testing import (
    BoastSandbox,
    MemoryTokenStore,
    ServedSandbox,
    UnifySandbox,
    register_matchers,
    vcr_config,
)

ENROLL = "create_sequence_enrollment"


def test_served_reset_after_commit_is_a_real_dropped_connection(
    served_sandbox: ServedSandbox, unify_sandbox: UnifySandbox
) -> None:
    (person,) = unify_sandbox.free_people()
    unify_sandbox.fail(ENROLL, error="reset_after_commit")
    with UnifyClient(max_retries=0) as client, pytest.raises(errors.APIConnectionError) as raised:
        client.enroll(unify_sandbox.sequence(), person, mailbox_emails=[unify_sandbox.mailbox()])
    assert raised.value.maybe_applied
    assert unify_sandbox.active_enrollments(person) == 1


def test_served_timeout_holds_the_answer_past_the_client_timeout(
    served_sandbox: ServedSandbox, unify_sandbox: UnifySandbox
) -> None:
    unify_sandbox.fail("list_sequences", error="timeout", hold=1.0)
    with UnifyClient(max_retries=0, timeout=0.2) as client, pytest.raises(errors.APITimeoutError):
        next(iter(client.list_sequences()))


def test_a_service_cassette_holds_no_secret(
    served_sandbox: ServedSandbox,
    unify_sandbox: UnifySandbox,
    boast_sandbox: BoastSandbox,
    tmp_path: Path,
) -> None:
    recorder = vcr.VCR(cassette_library_dir=str(tmp_path), record_mode="all")
    register_matchers(recorder)
    boast_sandbox.fail("get_account", error="token_expired")  # a refresh lands in the cassette
    store = MemoryTokenStore()
    with recorder.use_cassette("service.yaml", **vcr_config()):
        with UnifyClient() as unify:
            next(iter(unify.list_sequences()))
        with BoastClient(token_store=store) as boast:
            boast.get_account()
    text = (tmp_path / "service.yaml").read_text()
    secrets = [
        served_sandbox.env[name]
        for name in ("UNIFY_API_KEY", "BOAST_ACCESS_TOKEN", "BOAST_REFRESH_TOKEN",
                     "BOAST_CLIENT_SECRET")
    ] + [store.saved[0].access_token, store.saved[0].refresh_token or ""]  # fmt: skip
    assert all(secret and secret not in text for secret in secrets)
    assert "REDACTED-API-KEY-1" in text and "REDACTED-REFRESH-TOKEN-" in text
    assert "https://api.unifygtm.com" in text  # the vendor's origin, not the sandbox's port
    # And it replays offline, matched on the scrubbed form.
    replayer = vcr.VCR(cassette_library_dir=str(tmp_path), record_mode="none")
    register_matchers(replayer)
    with replayer.use_cassette("service.yaml", **vcr_config()) as cassette, UnifyClient() as u:
        next(iter(u.list_sequences()))
    assert cassette.play_count == 1
