"""Helpers of the tests/oauth tests (a plain module: conftest files cannot be imported by name
when several test folders are collected together)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from boast_grant import grant_options

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
    return BoastClient(**grant_options(sandbox, store, token, **options))


def refreshes(sandbox: Sandbox) -> list[str]:
    """The outcome of every refresh grant the sandbox answered ("issued" or an error code)."""
    return [outcome for kind, outcome in sandbox.boast.token_log if kind == "refresh_token"]
