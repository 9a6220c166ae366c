"""HTTP side of the Boast fake's OAuth: GET /oauth/authorize and POST /oauth/token.

/oauth/authorize is the browser step: the fake has no login page and approves at once,
answering the 302 to `redirect_uri?code=...` the real consent screen ends with. It is not an
API operation, so it is not in the spec (the contract check skips it by name).
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

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
    params = request.query_params
    try:
        with state.lock:
            state.check_client(params.get("client_id"))
            redirect_uri = params.get("redirect_uri")
            if not redirect_uri:
                raise OAuthError(400, "invalid_request", "The redirect_uri parameter is missing.")
            if params.get("response_type") != "code":
                raise OAuthError(
                    400,
                    "unsupported_response_type",
                    "The authorization server does not support this response type.",
                )
            scopes = set(params.get("scope", SCOPE).split())
            if not scopes <= set(SCOPE.split()):
                raise OAuthError(400, "invalid_scope", "The requested scope is invalid.")
            code = state.mint_authorization_code(redirect_uri)
    except OAuthError as exc:
        return oauth_error(exc)
    query = {"code": code} | ({"state": params["state"]} if "state" in params else {})
    separator = "&" if "?" in redirect_uri else "?"
    return RedirectResponse(redirect_uri + separator + urlencode(query), status_code=302)


async def token(state: BoastState, request: Request) -> Response:
    raw = await request.body()
    try:
        form = _form(request, raw)
        with state.lock:
            pair = state.grant(form)
            created_at = int(state.clock())
    except OAuthError as exc:
        return oauth_error(exc)
    body = {
        "access_token": pair.access_token,
        "token_type": "Bearer",
        "expires_in": pair.expires_in,
        "refresh_token": pair.refresh_token,
        "scope": SCOPE,
        "created_at": created_at,
    }
    return json_response(200, body, NO_STORE)


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
