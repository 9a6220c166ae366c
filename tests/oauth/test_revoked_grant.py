"""What a refresh does when the token it holds is no longer the newest: use the one another
process saved (before refreshing, or after Boast answers invalid_grant), and only when the store
holds nothing newer raise GrantRevokedError, which says a person must sign in again."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from boast_grant import grant_options
from grant_helpers import client_on, refreshes, seed_token

from sequence_clients import AsyncBoastClient, FileTokenStore, OAuthToken, errors
from sequence_clients._telemetry import TOKEN_REVOKED
from sequence_clients.sandbox import Sandbox


def refresh_directly(sandbox: Sandbox, refresh_token: str | None) -> httpx.Response:
    """What another process's refresh does at the token endpoint."""
    form = {
        "grant_type": "refresh_token", "refresh_token": refresh_token or "",
        "client_id": sandbox.boast.client_id, "client_secret": sandbox.boast.client_secret,
    }  # fmt: skip
    with httpx.Client(base_url=sandbox.boast_auth_base_url) as http:
        return http.post("/oauth/token", data=form)


def rotated(sandbox: Sandbox, token: OAuthToken) -> OAuthToken:
    answer = refresh_directly(sandbox, token.refresh_token).json()
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=answer["expires_in"])
    return OAuthToken(answer["access_token"], answer["refresh_token"], expires)


def test_a_token_another_process_saved_is_used_instead_of_refreshing(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    path = tmp_path / "boast.json"
    old = seed_token(sandbox)
    FileTokenStore(path).save(old)
    with client_on(sandbox, FileTokenStore(path), old) as client:
        # Meanwhile another process refreshed and saved (its own store object on the file).
        FileTokenStore(path).save(rotated(sandbox, old))
        client.get_account()
    assert refreshes(sandbox) == ["issued"]  # the other process's refresh only
    assert sandbox.boast.revoked_grants == set()


class StaleFirst:
    """A shared store whose lock does not exclude (as a store shared without one would): its
    first load still shows the old token, as if read just before another process saved."""

    def __init__(self, stale: OAuthToken, newest: OAuthToken) -> None:
        self.answers = [stale, newest]
        self.saved: list[OAuthToken] = []

    def load(self) -> OAuthToken:
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]

    def save(self, token: OAuthToken) -> None:
        self.saved.append(token)

    @contextlib.contextmanager
    def lock(self, timeout: float) -> Iterator[None]:
        yield

    @contextlib.asynccontextmanager
    async def alock(self, timeout: float) -> AsyncIterator[None]:
        yield


def test_after_invalid_grant_a_newer_stored_token_is_used(
    make_sandbox: Callable[..., Sandbox],
) -> None:
    # Reuse detection off: with it on, the lost race itself revokes the grant (the store's
    # lock exists to prevent exactly that).
    sandbox = make_sandbox(refresh_reuse_detection=False)
    old = seed_token(sandbox)
    newest = rotated(sandbox, old)
    store = StaleFirst(old, newest)
    with client_on(sandbox, store, old) as client:
        client.get_account()
    assert refreshes(sandbox) == ["issued", "invalid_grant"]
    assert store.saved == []  # nothing new to save: the other process's token was used


def test_a_revoked_grant_says_to_sign_in_again(
    sandbox: Sandbox, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    old = seed_token(sandbox)
    newest = rotated(sandbox, old)
    assert refresh_directly(sandbox, old.refresh_token).status_code == 400  # reuse: revoked
    store = FileTokenStore(tmp_path / "boast.json")
    expired = OAuthToken(newest.access_token, newest.refresh_token, old.expires_at)
    store.save(expired)
    caplog.set_level(logging.INFO, logger="sequence_clients")
    with (
        client_on(sandbox, store, expired) as client,
        pytest.raises(errors.GrantRevokedError) as raised,
    ):
        client.get_account()
    error = raised.value
    assert isinstance(error, errors.AuthenticationError)
    assert error.codes == ("invalid_grant",) and error.status_code == 400
    assert "sequence-clients boast login" in str(error)
    shown = str(error) + repr(error) + caplog.text
    for secret in (old.refresh_token, newest.refresh_token, newest.access_token):
        assert secret is not None and secret not in shown
    assert "sign in again" in caplog.text
    assert store.load() == expired  # the store is left as it was
    # The refusal it stands for is its cause; operators see one warning saying why.
    assert isinstance(error.__cause__, errors.AuthenticationError)
    assert error.__cause__.codes == ("invalid_grant",)
    (said,) = [r for r in caplog.records if getattr(r, "event", None) == TOKEN_REVOKED]
    assert said.levelno == logging.WARNING
    assert said.has_refresh_token is True  # type: ignore[attr-defined]


async def test_an_async_call_on_a_revoked_grant_says_to_sign_in_again(
    sandbox: Sandbox, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    old = seed_token(sandbox)
    newest = rotated(sandbox, old)
    assert refresh_directly(sandbox, old.refresh_token).status_code == 400  # reuse: revoked
    store = FileTokenStore(tmp_path / "boast.json")
    expired = OAuthToken(newest.access_token, newest.refresh_token, old.expires_at)
    store.save(expired)
    caplog.set_level(logging.INFO, logger="sequence_clients")
    async with AsyncBoastClient(**grant_options(sandbox, store, expired)) as client:
        with pytest.raises(errors.GrantRevokedError) as raised:
            await client.get_account()
    error = raised.value
    assert error.codes == ("invalid_grant",) and error.status_code == 400
    assert isinstance(error.__cause__, errors.AuthenticationError)
    assert refreshes(sandbox)[-1:] == ["invalid_grant"]  # presented once, then given up
    (said,) = [r for r in caplog.records if getattr(r, "event", None) == TOKEN_REVOKED]
    assert said.has_refresh_token is True  # type: ignore[attr-defined]
    assert store.load() == expired


def test_a_stored_token_without_a_refresh_token_cannot_be_renewed(
    sandbox: Sandbox, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    held = seed_token(sandbox)
    store = FileTokenStore(tmp_path / "boast.json")
    # Another process saved a token that nothing renews (an expired one, no refresh token).
    store.save(OAuthToken("stored-access", None, held.expires_at))
    caplog.set_level(logging.INFO, logger="sequence_clients")
    with (
        client_on(sandbox, store, held) as client,
        pytest.raises(errors.TokenStoreAccessError) as raised,
    ):
        client.get_account()
    assert not isinstance(raised.value, errors.GrantRevokedError)
    assert refreshes(sandbox) == []  # nothing to present: Boast was not asked
    (said,) = [r for r in caplog.records if getattr(r, "event", None) == TOKEN_REVOKED]
    assert said.levelno == logging.WARNING
    assert said.has_refresh_token is False  # type: ignore[attr-defined]


async def test_an_async_call_on_a_stored_token_without_a_refresh_token_cannot_renew_it(
    sandbox: Sandbox, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    held = seed_token(sandbox)
    store = FileTokenStore(tmp_path / "boast.json")
    store.save(OAuthToken("stored-access", None, held.expires_at))
    caplog.set_level(logging.INFO, logger="sequence_clients")
    async with AsyncBoastClient(**grant_options(sandbox, store, held)) as client:
        with pytest.raises(errors.TokenStoreAccessError) as raised:
            await client.get_account()
    assert not isinstance(raised.value, errors.GrantRevokedError)
    assert refreshes(sandbox) == []
    (said,) = [r for r in caplog.records if getattr(r, "event", None) == TOKEN_REVOKED]
    assert said.has_refresh_token is False  # type: ignore[attr-defined]
