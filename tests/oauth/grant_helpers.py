"""Helpers of the tests/oauth tests (a plain module: conftest files cannot be imported by name
when several test folders are collected together)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sequence_clients import BoastClient, OAuthToken
from sequence_clients.oauth import TokenStore
from sequence_clients.sandbox import Sandbox

LONG_AGO = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def seed_token(sandbox: Sandbox, *, expired: bool = True) -> OAuthToken:
    """A token of a new grant, as an authorization would give; expired: the first call refreshes."""
    pair = sandbox.boast.issue_token()
    expires = LONG_AGO if expired else dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    return OAuthToken(pair.access_token, pair.refresh_token, expires)


def client_on(
    sandbox: Sandbox, store: TokenStore, token: OAuthToken, **options: Any
) -> BoastClient:
    return BoastClient(
        account_id=sandbox.boast.account_ids[0],
        access_token=token.access_token,
        refresh_token=token.refresh_token,
        expires_at=token.expires_at,
        client_id=sandbox.boast.client_id,
        client_secret=sandbox.boast.client_secret,
        token_store=store,
        base_url=sandbox.boast_base_url,
        auth_base_url=sandbox.boast_auth_base_url,
        **options,
    )


def refreshes(sandbox: Sandbox) -> list[str]:
    """The outcome of every refresh grant the sandbox answered ("issued" or an error code)."""
    return [outcome for kind, outcome in sandbox.boast.token_log if kind == "refresh_token"]
