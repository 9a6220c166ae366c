"""HTTP layer of the Boast fake: the API under /v1 and OAuth under /oauth (spec/boast).

Paths arrive vendor-relative (`/v1/accounts`, `/oauth/token`): the sandbox mounts this app
under /boast and serves the API at …/boast/v1 and OAuth at …/boast/oauth (app.boast.io).

Status codes where the documentation is silent (decisions; all are statuses the spec lists):
- 400 `bad_request`: unparseable JSON, a body that is not a JSON object, a non-JSON content
  type, a malformed UUID (path, query or body) or page number; `source.parameter` or
  `source.pointer` names the culprit.
- 401 `unauthorized`: missing, unknown, expired or revoked bearer token (plus WWW-Authenticate).
- 404 `not_found`: unknown account or enrollment (one of another account counts as unknown),
  and on create enrollment an unknown contact or sequence, with `source.pointer`
  (/contact_id or /sequence_id) so it is not mistaken for a missing account.
- 422: `blank` (required field missing), `invalid` (bad email, phone, country code, source, or a
  non-string field), `already_enrolled` (the spec's assumption, pointer /contact_id),
  `sequence_not_active` (the sequence's status is not `active`), `not_active` (DELETE of an
  enrollment that is not active: it exists, so not 404, and a repeated DELETE must not look
  like a fresh success).
- Creates answer 201 (the spec accepts 200 or 201). Page 1-based, 25 per page; a page past the
  end answers `data: []` with the true `meta.pagination`.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import boast_api as api
from .boast_auth import TokenPair
from .boast_oauth import authorize, token
from .boast_state import BoastState
from .core import ASGIApp
from .unify_checks import ApiError, json_response

__all__ = ["BoastState", "TokenPair", "build_boast_app"]


def _bearer(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def _unauthorized(detail: str) -> Response:
    body = {"errors": [api.error(401, "unauthorized", detail)]}
    # RFC 6750 §3: tell the client which kind of credentials failed, and why.
    challenge = f'Bearer realm="Boast", error="invalid_token", error_description="{detail}"'
    return json_response(401, body, {"www-authenticate": challenge})


async def _json_body(request: Request) -> Any:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise api.fail(400, "bad_request", "Content-Type must be application/json")
    try:
        return json.loads(await request.body())
    except ValueError:
        raise api.fail(400, "bad_request", "The request body is not valid JSON") from None


def build_boast_app(state: BoastState) -> ASGIApp:
    def endpoint(
        handler: api.Handler, reads_body: bool = False
    ) -> Callable[[Request], Awaitable[Response]]:
        async def run(request: Request) -> Response:
            with state.lock:
                problem = state.access_problem(_bearer(request))
            if problem is not None:
                return _unauthorized(problem)
            try:
                body = await _json_body(request) if reads_body else None
                with state.lock:
                    account_id = ""
                    if "account_id" in request.path_params:
                        raw = request.path_params["account_id"]
                        account_id = api.check_uuid(raw, parameter="account_id")
                        if state.account(account_id) is None:
                            raise api.fail(404, "not_found", "Account not found")
                    status, payload = handler(state, request, account_id, body)
            except ApiError as exc:
                return json_response(exc.status, exc.body)
            return json_response(status, payload)

        return run

    def oauth(
        handler: Callable[[BoastState, Request], Awaitable[Response]],
    ) -> Callable[[Request], Awaitable[Response]]:
        async def run(request: Request) -> Response:
            return await handler(state, request)

        return run

    account = "/v1/accounts/{account_id}"
    enrollments = account + "/sequence_enrollments"
    routes = [
        Route("/oauth/authorize", oauth(authorize), methods=["GET"]),
        Route("/oauth/token", oauth(token), methods=["POST"]),
        Route("/v1/accounts", endpoint(api.list_accounts), methods=["GET"]),
        Route(account, endpoint(api.get_account), methods=["GET"]),
        Route(account + "/contacts", endpoint(api.list_contacts), methods=["GET"]),
        Route(account + "/contacts", endpoint(api.create_contact, True), methods=["POST"]),
        Route(account + "/sequences", endpoint(api.list_sequences), methods=["GET"]),
        Route(enrollments, endpoint(api.list_enrollments), methods=["GET"]),
        Route(enrollments, endpoint(api.create_enrollment, True), methods=["POST"]),
        Route(enrollments + "/{enrollment_id}", endpoint(api.get_enrollment), methods=["GET"]),
        Route(
            enrollments + "/{enrollment_id}", endpoint(api.delete_enrollment), methods=["DELETE"]
        ),
    ]

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        if status == 405:
            body = {"errors": [api.error(405, "method_not_allowed", "Method not allowed")]}
            return json_response(405, body)
        return json_response(404, {"errors": [api.error(404, "not_found", "Route not found")]})

    app = Starlette(routes=routes, exception_handlers={404: http_error, 405: http_error})
    # A trailing slash is an unknown route (404 in Boast's shape), not a redirect the spec
    # knows nothing about.
    app.router.redirect_slashes = False
    return app
