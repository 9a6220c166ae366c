"""The options of a Boast client refreshing through an in-process sandbox's grant, shared by
tests/oauth and tests/telemetry (a plain module beside tests/conftest.py, importable from both)."""

from __future__ import annotations

from typing import Any

from sequence_clients import OAuthToken
from sequence_clients.oauth import TokenStore
from sequence_clients.sandbox import Sandbox


def grant_options(
    sandbox: Sandbox, store: TokenStore, token: OAuthToken, **options: Any
) -> dict[str, Any]:
    """Keyword arguments for BoastClient or AsyncBoastClient holding `token` of the sandbox's
    grant, saving each rotated token to `store`; `options` are added or override."""
    return {
        "account_id": sandbox.boast.account_ids[0],
        "access_token": token.access_token,
        "refresh_token": token.refresh_token,
        "expires_at": token.expires_at,
        "client_id": sandbox.boast.client_id,
        "client_secret": sandbox.boast.client_secret,
        "token_store": store,
        "base_url": sandbox.boast_base_url,
        "auth_base_url": sandbox.boast_auth_base_url,
        **options,
    }
