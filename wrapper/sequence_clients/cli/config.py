"""Where the CLI finds credentials: flags, then the environment, then a TOML config file.

# ~/.config/sequence-clients/config.toml (or --config PATH)
[unify]
api_key = "..."
base_url = "https://api.unifygtm.com"   # optional
[boast]
account_id = "..."; access_token = "..."; refresh_token = "..."
client_id = "..."; client_secret = "..."; base_url = "..."; auth_base_url = "..."
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_CONFIG = Path("~/.config/sequence-clients/config.toml")


class ConfigError(Exception):
    """Credentials or configuration are missing or unreadable; the message says how to fix it."""


@dataclass(frozen=True)
class UnifySettings:
    api_key: str
    base_url: str | None

    def __repr__(self) -> str:  # never show the key
        return f"UnifySettings(base_url={self.base_url!r})"


@dataclass(frozen=True)
class BoastSettings:
    account_id: str | None  # `boast accounts` works without; everything else needs it
    access_token: str | None
    refresh_token: str | None
    client_id: str | None
    client_secret: str | None
    base_url: str | None
    auth_base_url: str | None

    def __repr__(self) -> str:
        return f"BoastSettings(account_id={self.account_id!r}, base_url={self.base_url!r})"


def load_file(path: Path | None) -> dict[str, Any]:
    """The config file's tables; {} when the default file does not exist."""
    explicit = path is not None
    target = (path or DEFAULT_CONFIG).expanduser()
    if not target.exists():
        if explicit:
            raise ConfigError(f"config file {target} does not exist")
        return {}
    try:
        with target.open("rb") as handle:
            return tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"cannot read config file {target}: {error}") from None


def _section(config: dict[str, Any], name: str) -> dict[str, Any]:
    section = config.get(name, {})
    if not isinstance(section, dict):
        raise ConfigError(f"config file: [{name}] must be a table")
    return section


def _pick(env: str, section: dict[str, Any], key: str) -> str | None:
    value = os.environ.get(env) or section.get(key)
    return str(value) if value else None


UNIFY_HELP = """No Unify credentials found. Either:
  export UNIFY_API_KEY=...            (and UNIFY_BASE_URL or --base-url to point elsewhere)
  or put them in {config}:
      [unify]
      api_key = "..."
Or try everything against a local sandbox, no credentials needed:  sequence-clients demo"""

BOAST_HELP = """No Boast credentials found. Either:
  sign in once:  sequence-clients boast login --client-id ... --client-secret ...
                 (saves a token file the other commands use), then export BOAST_ACCOUNT_ID=...
  or export BOAST_ACCOUNT_ID=... BOAST_ACCESS_TOKEN=...
         (for refresh: BOAST_REFRESH_TOKEN, BOAST_CLIENT_ID, BOAST_CLIENT_SECRET; the first
          run copies the refresh token into the token file and later runs use the file, so it
          need not stay exported (leaving it is harmless: a used one is never sent again);
          to point elsewhere: BOAST_BASE_URL, BOAST_AUTH_BASE_URL or --base-url)
  or put the same keys, lower-case without BOAST_, in {config} under [boast].
Or try everything against a local sandbox, no credentials needed:  sequence-clients demo"""


def unify_settings(config_path: Path | None, base_url: str | None) -> UnifySettings:
    section = _section(load_file(config_path), "unify")
    api_key = _pick("UNIFY_API_KEY", section, "api_key")
    if not api_key:
        raise ConfigError(UNIFY_HELP.format(config=config_path or DEFAULT_CONFIG))
    return UnifySettings(
        api_key=api_key, base_url=base_url or _pick("UNIFY_BASE_URL", section, "base_url")
    )


def boast_settings(config_path: Path | None, base_url: str | None) -> BoastSettings:
    section = _section(load_file(config_path), "boast")
    values = {
        key: _pick("BOAST_" + key.upper(), section, key)
        for key in (
            "account_id", "access_token", "refresh_token", "client_id", "client_secret",
            "base_url", "auth_base_url",
        )
    }  # fmt: skip
    account_id = values.pop("account_id")
    if base_url:
        values["base_url"] = base_url
    if values["base_url"] and not values["auth_base_url"]:
        # The OAuth host defaults to the real app.boast.io: a token minted elsewhere (a sandbox,
        # a staging host) must never be sent there. Off the real API host, the OAuth endpoints
        # are taken to live at the same root (the sandbox's layout); BOAST_AUTH_BASE_URL says
        # otherwise.
        values["auth_base_url"] = auth_root(values["base_url"])
    return BoastSettings(account_id=account_id, **values)


def auth_root(base_url: str) -> str | None:
    """The OAuth base URL that goes with an API base URL; None for the real API host."""
    root = base_url.rstrip("/").removesuffix("/v1")
    return None if root == "https://api.boast.io" else root


def has_token(settings: BoastSettings) -> bool:
    return bool(settings.access_token or settings.refresh_token)
