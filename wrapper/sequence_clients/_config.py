"""Constructor settings from the environment: an argument given wins, then the variable.

The names are the CLI's (cli/config.py) and the ones `sequence-clients sandbox` prints, so a
shell that exported them for one works for the other:

    UNIFY_API_KEY, UNIFY_BASE_URL
    BOAST_ACCOUNT_ID, BOAST_ACCESS_TOKEN, BOAST_REFRESH_TOKEN, BOAST_CLIENT_ID,
    BOAST_CLIENT_SECRET, BOAST_BASE_URL, BOAST_AUTH_BASE_URL
"""

from __future__ import annotations

import os
from typing import Any

from .errors import ConfigurationError

UNIFY_VARIABLES = {"api_key": "UNIFY_API_KEY", "base_url": "UNIFY_BASE_URL"}
BOAST_VARIABLES = {
    name: "BOAST_" + name.upper()
    for name in (
        "account_id", "access_token", "refresh_token", "client_id", "client_secret",
        "base_url", "auth_base_url",
    )
}  # fmt: skip
ENVIRONMENT_VARIABLES = (*UNIFY_VARIABLES.values(), *BOAST_VARIABLES.values())


def _env(name: str) -> str | None:
    # An exported but empty variable is how shells "unset" for one command: treat it as unset.
    return os.environ.get(name) or None


def required(value: str | None, variable: str) -> str:
    """`value`, else the variable's; ConfigurationError naming the variable when neither."""
    found = value if value is not None else _env(variable)
    if not found:
        raise ConfigurationError(variable)
    return found


def optional(value: Any, variable: str, default: Any = None) -> Any:
    """`value` when given (not None), else the variable's, else `default`."""
    if value is not None:
        return value
    found = _env(variable)
    return default if found is None else found


def unify(api_key: str | None, base_url: str | None, default_base_url: str) -> tuple[str, str]:
    # None reads the variable; an explicit value, even empty, is the caller's (and is checked).
    return (
        api_key if api_key is not None else required(None, UNIFY_VARIABLES["api_key"]),
        optional(base_url, UNIFY_VARIABLES["base_url"], default_base_url),
    )


def boast(arguments: dict[str, Any], default_base_url: str, default_auth: str) -> dict[str, Any]:
    """The Boast constructor's arguments with the unset credentials and hosts filled in; the
    base URL is the host root (a `/v1` at its end, which the versions before the host-rooted
    paths wanted, is dropped: both spellings reach the same endpoints)."""
    filled = dict(arguments)
    filled["account_id"] = optional(arguments.get("account_id"), BOAST_VARIABLES["account_id"])
    # Boast rotates refresh tokens: a refresh whose new token is saved nowhere kills the one in
    # the environment. So the refresh variables are read only for a client given a token_store.
    if arguments.get("token_store") is not None:
        for name in ("refresh_token", "client_id", "client_secret"):
            filled[name] = optional(arguments.get(name), BOAST_VARIABLES[name])
    filled["access_token"] = optional(
        arguments.get("access_token"), BOAST_VARIABLES["access_token"]
    )
    if filled["access_token"] is None:
        renewal = ("refresh_token", "client_id", "client_secret", "token_store")
        if not all(filled.get(name) for name in renewal):
            required(None, BOAST_VARIABLES["access_token"])
        filled["access_token"] = ""  # none yet: the client refreshes before its first request
    base_url = optional(arguments.get("base_url"), BOAST_VARIABLES["base_url"], default_base_url)
    filled["base_url"] = root = base_url.rstrip("/").removesuffix("/v1")
    auth = optional(arguments.get("auth_base_url"), BOAST_VARIABLES["auth_base_url"])
    if auth is None:
        # A token minted by another host (a sandbox, a staging server) must never be sent to
        # the real OAuth host: off the real API host, OAuth lives at the same root (the
        # sandbox's layout), as the CLI assumes too.
        auth = default_auth if root == default_base_url else root
    filled["auth_base_url"] = auth
    return filled
