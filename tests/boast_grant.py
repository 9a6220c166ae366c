"""The options of a Boast client refreshing through an in-process sandbox's grant, shared by
tests/oauth and tests/telemetry (a plain module beside tests/conftest.py, importable from both)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import httpx

from sequence_clients import BoastClient, OAuthToken
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


class ReadOnlyStore:
    """A token store that cannot save: a read-only file system."""

    def save(self, token: OAuthToken) -> None:
        raise PermissionError("read-only file system")


def boast_refusing_to_save() -> BoastClient:
    """A client whose token is due, whose refresh answers, and whose store cannot keep the
    rotated token: its first call raises TokenStoreError."""

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            return httpx.Response(
                200, json={"access_token": "a1", "token_type": "Bearer", "refresh_token": "r1"}
            )
        return httpx.Response(200, json={"data": []})

    transport = httpx.MockTransport(handle)
    return BoastClient(
        account_id=uuid.uuid4(), access_token="a0", refresh_token="r0",
        expires_at=dt.datetime.now(dt.UTC), client_id="id", client_secret="secret",
        token_store=ReadOnlyStore(), httpx_client=httpx.Client(transport=transport),
        auth_httpx_client=httpx.Client(transport=transport),
    )  # fmt: skip
