"""HTTP side of the Boast fake's OAuth: GET /oauth/authorize and POST /oauth/token.

/oauth/authorize is the browser step: the fake has no login page and approves at once,
answering the 302 to `redirect_uri?code=...` the real consent screen ends with. It is not an
API operation, so it is not in the spec (the contract check skips it by name).

/oauth/token takes the client's credentials as form fields (what Boast documents) or as HTTP
Basic (RFC 6749 §2.3.1: a server must support it), never both in one request.
"""

from __future__ import annotations

import base64
from urllib.parse import parse_qsl, unquote_plus, urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from .boast_auth import SCOPE, OAuthError
from .boast_state import BoastState
from .unify_checks import json_response

FORM = "application/x-www-form-urlencoded"
# RFC 6749 §5.1: token answers must not be cached.
NO_STORE = {"cache-control": "no-store", "pragma": "no-cache"}


def oauth_error(exc: OAuthError) -> Response:
    body = {"error": exc.error, "error_description": exc.description}
    return json_response(exc.status, body, NO_STORE)


async def authorize(state: BoastState, request: Request) -> Response:
    """RFC 6749 §4.1.2.1: an unknown client or a missing redirect URI is told to the user (a
    JSON 400 here, the fake has no pages); every other error goes back to the redirect URI as
    `error=` (with `state`), as the code would have."""
    params = request.query_params
    try:
        with state.lock:
            state.check_client(params.get("client_id"))
            redirect_uri = params.get("redirect_uri")
            if not redirect_uri:
                raise OAuthError(400, "invalid_request", "The redirect_uri parameter is missing.")
    except OAuthError as exc:
        return oauth_error(exc)
    try:
        response_type = params.get("response_type")
        if not response_type:
            raise OAuthError(400, "invalid_request", "The response_type parameter is missing.")
        if response_type != "code":
            raise OAuthError(
                400,
                "unsupported_response_type",
                "The authorization server does not support this response type.",
            )
        scopes = set(params.get("scope", SCOPE).split())
        if not scopes <= set(SCOPE.split()):
            raise OAuthError(400, "invalid_scope", "The requested scope is invalid.")
        with state.lock:
            answer = {"code": state.mint_authorization_code(redirect_uri)}
    except OAuthError as exc:
        answer = {"error": exc.error, "error_description": exc.description}
    if "state" in params:
        answer["state"] = params["state"]
    separator = "&" if "?" in redirect_uri else "?"
    return RedirectResponse(redirect_uri + separator + urlencode(answer), status_code=302)


async def token(state: BoastState, request: Request) -> Response:
    raw = await request.body()
    basic = _basic_credentials(request)
    try:
        form = _form(request, raw)
        if basic is not None:
            if "client_id" in form or "client_secret" in form:
                # §2.3: a client must not use more than one authentication method at once.
                raise OAuthError(400, "invalid_request", "Client credentials are sent both ways.")
            form |= {"client_id": basic[0], "client_secret": basic[1]}
        with state.lock:
            pair = state.grant(form)
            created_at = int(state.clock())
    except OAuthError as exc:
        response = oauth_error(exc)
        if exc.error == "invalid_client" and basic is not None:
            # §5.2: a client that authenticated with the Authorization header gets a challenge.
            response.headers["www-authenticate"] = 'Basic realm="Boast"'
        return response
    body = {
        "access_token": pair.access_token,
        "token_type": "Bearer",
        "expires_in": pair.expires_in,
        "refresh_token": pair.refresh_token,
        "scope": SCOPE,
        "created_at": created_at,
    }
    return json_response(200, body, NO_STORE)


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    """(client_id, client_secret) from `Authorization: Basic`, or None without that header.

    RFC 6749 §2.3.1: both are form-urlencoded before the base64; malformed counts as wrong
    credentials (an empty pair), so the answer is the same invalid_client.
    """
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return "", ""
    client_id, sep, secret = decoded.partition(":")
    return (unquote_plus(client_id), unquote_plus(secret)) if sep else ("", "")


def _form(request: Request, raw: bytes) -> dict[str, str]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != FORM:
        raise OAuthError(400, "invalid_request", f"The request body must be {FORM}.")
    try:
        pairs = parse_qsl(raw.decode(), keep_blank_values=True, strict_parsing=bool(raw))
    except (UnicodeDecodeError, ValueError):
        raise OAuthError(400, "invalid_request", "The request body is malformed.") from None
    form = dict(pairs)
    if len(form) != len(pairs):
        # RFC 6749 §3.2: parameters must not be included more than once.
        raise OAuthError(400, "invalid_request", "A parameter is repeated.")
    return form
