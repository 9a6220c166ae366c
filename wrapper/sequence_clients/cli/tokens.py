"""Boast OAuth tokens for the CLI: which token to start from, and where rotated ones go.

Boast rotates refresh tokens, so a refresh made by one CLI run invalidates the refresh token in
the environment or config file. The rotated token is saved (atomically, mode 0600) to a token
file, and later runs start from it — unless the user has since supplied a different refresh
token (a new authorization), which then wins.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from pathlib import Path

from ..oauth import OAuthToken
from .config import BoastSettings, ConfigError

DEFAULT_TOKEN_FILE = Path("~/.config/sequence-clients/boast-token.json")


class FileTokenStore:
    """A TokenStore writing the latest token to one JSON file; `save` is durable on return."""

    def __init__(self, path: Path, replaces: str | None) -> None:
        self.path = path.expanduser()
        self._replaces = replaces  # the refresh token the next rotation invalidates

    def save(self, token: OAuthToken) -> None:
        record = {
            "access_token": token.access_token,
            "refresh_token": token.refresh_token,
            "expires_at": token.expires_at.isoformat() if token.expires_at else None,
            "rotated_from": self._replaces,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".boast-token-")
        try:
            with os.fdopen(fd, "w") as handle:
                json.dump(record, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._replaces = token.refresh_token

    def __repr__(self) -> str:
        return f"FileTokenStore({str(self.path)!r})"


def starting_token(settings: BoastSettings, path: Path) -> OAuthToken:
    """The token to use: the saved one if it descends from the configured refresh token."""
    # No access token yet: an expiry in the past makes the client refresh before the first call.
    expired = None if settings.access_token else dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    configured = OAuthToken(settings.access_token or "", settings.refresh_token, expired)
    path = path.expanduser()
    if not path.exists():
        return configured
    try:
        saved = json.loads(path.read_text())
        ancestry = {saved.get("rotated_from"), saved.get("refresh_token")}
        if settings.refresh_token and settings.refresh_token not in ancestry:
            return configured  # a newer authorization than the saved token
        expires = saved.get("expires_at")
        return OAuthToken(
            saved["access_token"],
            saved.get("refresh_token"),
            dt.datetime.fromisoformat(expires) if expires else None,
        )
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ConfigError(f"cannot read the Boast token file {path}: {error}") from None
