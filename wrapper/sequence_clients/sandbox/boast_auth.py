"""OAuth 2 state of the Boast fake: client credentials, authorization codes, token pairs.

Boast runs Doorkeeper-style OAuth on app.boast.io (authorization code grant + refresh tokens).
The fake keeps that behaviour where the documentation or the spec names it:

- authorization codes are single-use and expire after CODE_TTL seconds;
- access tokens expire `token_ttl` seconds after issue (the config clock decides);
- refresh tokens rotate: a successful refresh grant invalidates the refresh token it used.
  The access token issued with it stays valid until its own expiry (the documentation is
  silent; this keeps requests already in flight during a refresh from failing);
- a used refresh token presented again revokes the whole grant (every access and refresh token
  descended from the same authorization), as RFC 6819 §5.2.2.3 and Doorkeeper's reuse detection
  advise (`reuse_detection`, on by default; see ASSUMPTIONS.md);
- `revoke(token)` invalidates one access or refresh token at once, as a user disconnecting the
  app would.

Tokens and codes come from a seeded RNG, so a recorded exchange is reproducible.
"""

from __future__ import annotations

import base64
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from .data import DataGen

# Doorkeeper's default lifetime of an authorization code.
CODE_TTL = 600.0
SCOPE = "read write"


class TokenPair(NamedTuple):
    access_token: str
    refresh_token: str
    expires_in: int


class OAuthError(Exception):
    """A refused token request, answered as RFC 6749 §5.2 `{"error", "error_description"}`."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.status = status
        self.error = error
        self.description = description


@dataclass
class _Access:
    expires_at: float
    grant: int
    revoked: bool = False


@dataclass
class _Code:
    redirect_uri: str
    expires_at: float


class BoastAuth:
    """Token issuing and checking; BoastState builds on it. Callers hold `self.lock`."""

    def __init__(
        self,
        seed: int,
        token_ttl: float,
        clock: Callable[[], float],
        reuse_detection: bool = True,
    ) -> None:
        self.token_ttl = token_ttl
        self.clock = clock
        self.reuse_detection = reuse_detection
        self.lock = threading.RLock()
        credentials = DataGen(seed, "boast/credentials")
        self.client_id = _token(credentials)
        self.client_secret = _token(credentials)
        self._tokens = DataGen(seed, "boast/tokens")
        self._codes: dict[str, _Code] = {}
        self._access: dict[str, _Access] = {}
        # Valid (unused, unrevoked) refresh tokens, and used ones, each with its grant.
        self._refresh: dict[str, int] = {}
        self._used: dict[str, int] = {}
        self._grants = 0  # authorizations so far; each token belongs to one
        self.revoked_grants: set[int] = set()
        self.refresh_count = 0
        self.refreshed_at: list[float] = []  # when each refresh grant succeeded (config clock)
        # (grant_type, outcome) per token request, outcome "issued" or the OAuth error code.
        # Test-only inspection: tokens themselves are never logged.
        self.token_log: list[tuple[str, str]] = []

    # --- used by tests directly --------------------------------------------------------------
    def mint_authorization_code(self, redirect_uri: str) -> str:
        """What the authorize redirect would carry, without the browser round trip."""
        with self.lock:
            code = _token(self._tokens)
            self._codes[code] = _Code(redirect_uri, self.clock() + CODE_TTL)
            return code

    def issue_token(self) -> TokenPair:
        """A fresh valid token pair, as an authorization_code grant would give."""
        with self.lock:
            self.token_log.append(("direct", "issued"))
            return self._issue(self._new_grant())

    def revoke(self, token: str) -> None:
        """Invalidate an access token (its requests answer 401) or a refresh token."""
        with self.lock:
            access = self._access.get(token)
            if access is not None:
                access.revoked = True
            self._refresh.pop(token, None)

    # --- used by the HTTP layer ----------------------------------------------------------------
    def check_client(self, client_id: str | None, client_secret: str | None = None) -> None:
        """Raise invalid_client unless the credentials match; the authorize step has no secret."""
        secret_ok = client_secret is None or client_secret == self.client_secret
        if client_id != self.client_id or not secret_ok:
            raise OAuthError(
                401,
                "invalid_client",
                "Client authentication failed due to unknown client, no client authentication "
                "included, or unsupported authentication method.",
            )

    def grant(self, form: dict[str, str]) -> TokenPair:
        """Run one /oauth/token request; raises OAuthError when refused."""
        grant_type = form.get("grant_type", "")
        try:
            pair = self._grant(grant_type, form)
        except OAuthError as exc:
            self.token_log.append((grant_type, exc.error))
            raise
        self.token_log.append((grant_type, "issued"))
        return pair

    def access_problem(self, token: str | None) -> str | None:
        """Why a bearer token is refused, or None when it is valid."""
        if not token:
            return "The access token is missing"
        access = self._access.get(token)
        if access is None:
            return "The access token is invalid"
        if access.revoked:
            return "The access token was revoked"
        if self.clock() >= access.expires_at:
            return "The access token expired"
        return None

    # --- internals -------------------------------------------------------------------------
    def _grant(self, grant_type: str, form: dict[str, str]) -> TokenPair:
        # A missing secret is a failed authentication here, not "no secret needed".
        self.check_client(form.get("client_id"), form.get("client_secret", ""))
        if grant_type not in ("authorization_code", "refresh_token"):
            if not grant_type:
                raise OAuthError(400, "invalid_request", "The grant_type parameter is missing.")
            raise OAuthError(
                400, "unsupported_grant_type", "The authorization grant type is not supported."
            )
        if grant_type == "authorization_code":
            code = form.get("code")
            if not code:
                raise OAuthError(400, "invalid_request", "The code parameter is missing.")
            # Single use: the code is gone whether or not the rest of the request is right.
            stored = self._codes.pop(code, None)
            if (
                stored is None
                or self.clock() >= stored.expires_at
                or stored.redirect_uri != form.get("redirect_uri")
            ):
                raise OAuthError(400, "invalid_grant", _INVALID_GRANT)
            return self._issue(self._new_grant())
        refresh = form.get("refresh_token")
        if not refresh:
            raise OAuthError(400, "invalid_request", "The refresh_token parameter is missing.")
        grant = self._refresh.pop(refresh, None)
        if grant is None:
            reused = self._used.get(refresh)
            if reused is not None and self.reuse_detection:
                self._revoke_grant(reused)
            raise OAuthError(400, "invalid_grant", _INVALID_GRANT)
        self._used[refresh] = grant
        self.refresh_count += 1
        self.refreshed_at.append(self.clock())
        return self._issue(grant)

    def _new_grant(self) -> int:
        self._grants += 1
        return self._grants

    def _revoke_grant(self, grant: int) -> None:
        """Reuse detected: nothing of this authorization works any more."""
        self.revoked_grants.add(grant)
        for access in self._access.values():
            if access.grant == grant:
                access.revoked = True
        for refresh in [token for token, owner in self._refresh.items() if owner == grant]:
            del self._refresh[refresh]

    def _issue(self, grant: int) -> TokenPair:
        access, refresh = _token(self._tokens), _token(self._tokens)
        self._access[access] = _Access(expires_at=self.clock() + self.token_ttl, grant=grant)
        self._refresh[refresh] = grant
        # Whole seconds, rounded down, so a client never believes a token outlives the server's view.
        return TokenPair(access, refresh, max(0, math.floor(self.token_ttl)))


_INVALID_GRANT = (
    "The provided authorization grant is invalid, expired, revoked, does not match the "
    "redirection URI used in the authorization request, or was issued to another client."
)


def _token(gen: DataGen) -> str:
    """43 URL-safe characters, the shape of Doorkeeper's tokens and of the spec's examples."""
    raw = gen.rng.getrandbits(256).to_bytes(32, "big")
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")
