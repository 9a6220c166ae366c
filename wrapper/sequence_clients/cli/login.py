"""`sequence-clients boast login`: the OAuth2 authorization-code flow for a person.

A one-shot HTTP server on a loopback port receives the browser's redirect (RFC 8252 §7.3: a
native app's redirect URI is http://127.0.0.1:PORT/...), the `state` is checked, the code is
exchanged, and the token is saved (mode 0600) to the token file every other command starts
from. Against the sandbox, /oauth/authorize approves at once, so any HTTP client can play the
browser.
"""

from __future__ import annotations

import secrets
import threading
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from ..oauth import BOAST_AUTH_BASE_URL, OAuthToken, authorization_url, exchange_code
from .config import ConfigError
from .tokens import save_signed_in, token_store

CALLBACK_PATH = "/callback"
_PAGE = (
    "<!doctype html><title>sequence-clients</title><p>{message}</p>"
    "<p>You can close this tab and go back to the terminal.</p>"
)


class LoginError(Exception):
    """The sign-in did not complete; the message says why."""


@dataclass
class Redirect:
    code: str | None = None
    state: str | None = None
    error: str | None = None


class _CallbackServer(HTTPServer):
    redirect: Redirect
    received: threading.Event


class _Callback(BaseHTTPRequestHandler):
    server: _CallbackServer

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path != CALLBACK_PATH:
            self.send_error(404)
            return
        query = {name: values[0] for name, values in parse_qs(parts.query).items()}
        self.server.redirect = Redirect(
            query.get("code"),
            query.get("state"),
            query.get("error_description") or query.get("error"),
        )
        message = "Signed in to Boast." if "code" in query else "Boast did not grant access."
        body = _PAGE.format(message=message).encode()
        self.send_response(200)
        self.send_header("content-type", "text/html; charset=utf-8")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.server.received.set()

    def log_message(self, format: str, *args: object) -> None:
        """Silent: the query carries the authorization code."""


def login(
    *,
    client_id: str,
    client_secret: str,
    auth_base_url: str | None,
    token_file: Path,
    port: int,
    open_browser: bool,
    timeout: float,
    say: Callable[[str], None],
) -> OAuthToken:
    """Run the whole flow; returns the saved token. Raises LoginError or ConfigError."""
    try:
        server = _CallbackServer(("127.0.0.1", port), _Callback)
    except OSError as error:
        raise ConfigError(f"--port {port}: cannot listen on 127.0.0.1: {error}") from None
    server.redirect, server.received = Redirect(), threading.Event()
    redirect_uri = f"http://127.0.0.1:{server.server_port}{CALLBACK_PATH}"
    state = secrets.token_urlsafe(24)
    url = authorization_url(
        client_id,
        redirect_uri,
        state=state,
        auth_base_url=auth_base_url or BOAST_AUTH_BASE_URL,
    )
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        say("Open this URL to grant access (waiting for the redirect to " + redirect_uri + "):")
        say(url)
        if open_browser:
            webbrowser.open(url)
        if not server.received.wait(timeout):
            raise LoginError(f"no redirect within {timeout:.0f} s; run `boast login` again")
    finally:
        server.shutdown()
        server.server_close()
    answer = server.redirect
    if answer.state != state:
        raise LoginError("the redirect's state does not match this login; nothing was saved")
    if not answer.code:
        raise LoginError(f"Boast did not grant access: {answer.error or 'no code in the redirect'}")
    token = exchange_code(
        answer.code,
        client_id=client_id,
        client_secret=client_secret,
        redirect_uri=redirect_uri,
        auth_base_url=auth_base_url or BOAST_AUTH_BASE_URL,
    )
    save_signed_in(token_store(token_file), token)
    return token
