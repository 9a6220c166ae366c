"""Boast OAuth tokens for the CLI: which token to start from, and where rotated ones go.

Boast rotates refresh tokens, so a refresh made by one CLI run invalidates the refresh token in
the environment or config file. Every run shares one token file, a `FileTokenStore`: its lock
makes concurrent runs and cron jobs refresh once between them, and it remembers (by fingerprint,
never the tokens) which refresh tokens it has rotated past and which configured one it started
from. So a BOAST_REFRESH_TOKEN still exported after any number of rotations is recognised as an
ancestor of the file and never presented again; a refresh token the file does not descend from
is a new authorization, which then wins.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ..errors import TokenStoreAccessError
from ..oauth import OAuthToken
from ..token_stores import FileTokenStore, fingerprint
from .config import BoastSettings, ConfigError

DEFAULT_TOKEN_FILE = Path("~/.config/sequence-clients/boast-token.json")
# How long a run waits for another run's refresh before giving up (the token request's own
# timeouts are 5 s to connect and 30 s to read).
LOCK_WAIT = 60.0


def token_store(path: Path = DEFAULT_TOKEN_FILE) -> FileTokenStore:
    return FileTokenStore(path)


def starting_token(settings: BoastSettings, store: FileTokenStore) -> OAuthToken:
    """The token to use: the file's if it descends from the configured refresh token (or none
    is configured); otherwise the configured one, written to the file first, so that the file
    and every later run start from the new authorization."""
    # No access token yet: an expiry in the past makes the client refresh before the first call.
    expired = None if settings.access_token else dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    configured = OAuthToken(settings.access_token or "", settings.refresh_token, expired)
    try:
        stored = store.read()
        if stored is not None and (
            not settings.refresh_token or stored.descends_from(settings.refresh_token)
        ):
            return stored.token
        if not settings.refresh_token:
            return configured  # nothing to refresh with, nothing to save
        with store.lock(LOCK_WAIT):
            # Another run may have seeded (and rotated) it since we looked.
            stored = store.read()
            if stored is not None and stored.descends_from(settings.refresh_token):
                return stored.token
            store.seeded_by = fingerprint(settings.refresh_token)
            store.save(configured)
        return configured
    except TimeoutError:
        raise ConfigError(
            f"another run held the Boast token file {store.path} for {LOCK_WAIT:g} s"
        ) from None
    except TokenStoreAccessError as error:
        raise ConfigError(str(error)) from None


def save_signed_in(store: FileTokenStore, token: OAuthToken) -> None:
    """Save the token a sign-in gave, under the lock (another run may be refreshing)."""
    try:
        with store.lock(LOCK_WAIT):
            store.save(token)
    except TimeoutError:
        raise ConfigError(
            f"another run held the Boast token file {store.path} for {LOCK_WAIT:g} s; sign in again"
        ) from None
    except TokenStoreAccessError as error:
        raise ConfigError(str(error)) from None
