"""Secrets canary: record a fresh cassette set with credentials nobody could mistake, and fail
if any of them (or any token the sandbox issued) shows up in a cassette, a log record or an
exception's text.

It drives vcr directly with the project's own configuration (sequence_clients/testing/scrub.py) in record mode
"all", against the in-process sandbox, so it runs in CI too (loopback only).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import otel_capture
import pytest
from replay_support import UNKNOWN_ID, ListStore

from sequence_clients import BoastClient, UnifyClient, errors, exchange_code
from sequence_clients.sandbox import Sandbox, SandboxConfig
from sequence_clients.testing import scrub

CANARY = "CANARY-7f3a"
UNIFY_KEY = f"sk_{CANARY}_unify_key_0123456789abcdef"
WRONG_UNIFY_KEY = f"sk_{CANARY}_wrong_key_0123456789abcdef"
CLIENT_SECRET = f"{CANARY}-client-secret-0123456789abcdef"
ACCESS_TOKEN = f"{CANARY}-access-token-0123456789abcdef"
REFRESH_TOKEN = f"{CANARY}-refresh-token-0123456789abcdef"
AUTH_CODE = f"{CANARY}-authorization-code-0123456789"
# vcr logs unscrubbed responses at INFO while it records: a property of the test harness, not
# of the library, and never on in CI output (the root conftest raises vcr's level). The
# library's own loggers and httpx/httpcore are what is held to "no secrets".
HARNESS_LOGGERS = ("vcr",)


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(SandboxConfig(seed=7, clock=lambda: 1_800_000_000.0)) as sandbox:
        # The Unify fake accepts any key in api_keys; the Boast fake checks client_secret.
        sandbox.unify.api_keys.append(UNIFY_KEY)
        sandbox.boast.client_secret = CLIENT_SECRET
        yield sandbox


def _record_unify(sandbox: Sandbox, vcr: Any, texts: list[str]) -> None:
    state = sandbox.unify
    sequence = next(
        s["id"] for s in state.live_sequences() if state.active_enrollment_count(s["id"]) == 0
    )
    person, mailbox = state.people[0]["id"], state.mailboxes[0]["email"]
    with vcr.use_cassette("unify.yaml", **scrub.vcr_config()):
        with UnifyClient(UNIFY_KEY, base_url=sandbox.unify_base_url, max_retries=0) as unify:
            texts.append(repr(unify))
            created = unify.enroll(sequence, person, mailbox_emails=[mailbox])
            for call in (
                lambda: unify.enroll(sequence, person, mailbox_emails=[mailbox]),  # 409
                lambda: unify.get_enrollment(UNKNOWN_ID),  # 404
            ):
                texts += _failure_texts(call)
            unify.cancel_enrollment(created.id)
        wrong = UnifyClient(WRONG_UNIFY_KEY, base_url=sandbox.unify_base_url, max_retries=0)
        with wrong:
            texts.append(repr(wrong))
            texts += _failure_texts(lambda: list(wrong.list_sequences()))  # 401


def _record_boast(sandbox: Sandbox, vcr: Any, texts: list[str], issued: list[str]) -> None:
    state = sandbox.boast
    pair = state.issue_token()
    issued += [pair.access_token, pair.refresh_token]
    common = {
        "account_id": state.account_ids[0],
        "client_id": state.client_id,
        "client_secret": CLIENT_SECRET,
        "auth_base_url": sandbox.boast_auth_base_url,
        "base_url": sandbox.boast_base_url,
        "max_retries": 0,
    }
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    store = ListStore(live=False)
    with vcr.use_cassette("boast.yaml", **scrub.vcr_config()):
        # The canary access token is refused (401): refresh with the canary client secret.
        with BoastClient(
            access_token=ACCESS_TOKEN,
            expires_at=later,
            refresh_token=pair.refresh_token,
            token_store=store,
            **common,
        ) as boast:
            texts.append(repr(boast))
            assert list(boast.list_accounts())
            texts += _failure_texts(lambda: boast.get_enrollment(UNKNOWN_ID))
        issued += [
            t for token in store.saved for t in (token.access_token, token.refresh_token or "")
        ]
        texts += [repr(token) for token in store.saved]
        # A canary refresh token the token endpoint refuses: it is still sent, in the form body.
        with BoastClient(
            access_token=ACCESS_TOKEN,
            expires_at=dt.datetime(2000, 1, 1, tzinfo=dt.UTC),
            refresh_token=REFRESH_TOKEN,
            token_store=ListStore(live=False),
            **common,
        ) as refused:
            texts += _failure_texts(lambda: list(refused.list_accounts()))
        texts += _failure_texts(
            lambda: exchange_code(
                AUTH_CODE,
                client_id=state.client_id,
                client_secret=CLIENT_SECRET,
                redirect_uri="https://example.org/callback",
                auth_base_url=sandbox.boast_auth_base_url,
            )
        )


def _failure_texts(call: Any) -> list[str]:
    with pytest.raises(errors.SequenceClientError) as raised:
        call()
    error = raised.value
    texts = [str(error), repr(error), repr(vars(error))]
    cause = error.__cause__ or error.__context__
    return [*texts, str(cause), repr(cause)] if cause is not None else texts


def _log_texts(records: list[logging.LogRecord]) -> list[str]:
    return [
        f"{record.name}: {record.getMessage()} {record.args!r} {vars(record)!r}"
        for record in records
        if not record.name.startswith(HARNESS_LOGGERS)
    ]


def test_no_secret_reaches_a_cassette_a_log_or_an_error(
    sandbox: Sandbox, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "sequence_clients"):
        caplog.set_level(logging.DEBUG, logger=name)
    vcr = scrub.build_vcr(str(tmp_path), "all")
    texts: list[str] = []
    issued: list[str] = []
    spans, metrics = otel_capture.installed()

    _record_unify(sandbox, vcr, texts)
    _record_boast(sandbox, vcr, texts, issued)
    telemetry = list(otel_capture.texts(spans.get_finished_spans(), metrics))

    cassettes = {p.name: p.read_text(encoding="utf-8") for p in tmp_path.glob("*.yaml")}
    assert set(cassettes) == {"unify.yaml", "boast.yaml"}
    secrets = [CANARY, *issued]
    sources = {
        **{f"cassette {name}": text for name, text in cassettes.items()},
        **{f"log record {n}": text for n, text in enumerate(_log_texts(caplog.records))},
        **{f"error/repr text {n}": text for n, text in enumerate(texts)},
        **{f"span or metric {n}": text for n, text in enumerate(telemetry)},
    }
    leaks = [
        f"{where}: …{text[max(0, text.find(secret) - 60) : text.find(secret) + 20]}…"
        for where, text in sources.items()
        for secret in secrets
        if secret and secret in text
    ]
    assert not leaks, "secrets leaked:\n" + "\n".join(leaks)
    # Not vacuous: the secrets were there to leak, and placeholders took their place.
    assert "REDACTED-API-KEY-1" in cassettes["unify.yaml"]
    assert "REDACTED-API-KEY-2" in cassettes["unify.yaml"]
    assert "REDACTED-CLIENT-SECRET-1" in cassettes["boast.yaml"]
    assert "REDACTED-REFRESH-TOKEN-2" in cassettes["boast.yaml"]
    assert "REDACTED-AUTH-CODE-1" in cassettes["boast.yaml"]
    assert len(issued) >= 4 and caplog.records
    # Spans carried the URLs, methods and statuses; and the log had a line per attempt.
    assert any("url.full=" in text for text in telemetry)
    # …and the refreshes, their token requests and the refused grant are among what was checked.
    assert any(text.endswith("/oauth/token") for text in telemetry)
    for name in ("sequence_clients.token.refresh", "sequence_clients.token.revoked"):
        assert name in telemetry
        assert any(vars(r).get("event") == name for r in caplog.records)
    assert any(vars(r).get("event") == "sequence_clients.attempt" for r in caplog.records)
