"""openapi-core glue shared by the sandbox contract check and the cassette spec check: the
normalised vendor specs, plain request/response objects openapi-core accepts, a readable
description of what it rejected, and the sandbox's ContractChecker itself."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl

from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.templating.paths.exceptions import PathError
from werkzeug.datastructures import Headers, ImmutableMultiDict

from sequence_clients.sandbox import Exchange

SPEC_DIR = Path(__file__).resolve().parents[1] / "generated" / "spec"
NDJSON = "application/x-ndjson"
_apis: dict[str, OpenAPI] = {}


def spec_for(vendor: str) -> OpenAPI:
    """The vendor's normalised spec (what the generated client is built from), parsed once."""
    if vendor not in _apis:
        path = SPEC_DIR / f"{vendor}.openapi.json"
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing: run `make generate`")
        # Unify documents NDJSON results as `type: string`; openapi-core has no deserializer
        # for it, so hand it over as text (callers check the lines themselves).
        config = Config(extra_media_type_deserializers={NDJSON: bytes.decode})
        _apis[vendor] = OpenAPI.from_file_path(str(path), config=config)
    return _apis[vendor]


@dataclass
class Request:
    host_url: str
    path: str
    method: str
    body: bytes | None
    content_type: str
    parameters: RequestParameters


@dataclass
class Response:
    status_code: int
    data: bytes
    headers: Headers
    content_type: str


def to_request(
    host_url: str,
    path: str,
    method: str,
    body: bytes | None,
    headers: Headers,
    query: Iterable[tuple[str, str]],
) -> Request:
    return Request(
        host_url=host_url,
        path=path,
        method=method.lower(),
        body=body or None,
        content_type=headers.get("content-type", ""),
        parameters=RequestParameters(
            query=ImmutableMultiDict(list(query)), header=headers, cookie=ImmutableMultiDict()
        ),
    )


def to_response(status: int, data: bytes, headers: Headers) -> Response:
    return Response(status, data, headers, headers.get("content-type", ""))


def describe(error: BaseException) -> str:
    """The error and its causes, with the schema errors openapi-core buries inside them."""
    causes: list[str] = []
    current: BaseException | None = error
    while current is not None:
        causes.append(str(current) or type(current).__name__)
        causes += [
            f"{list(e.absolute_path)}: {e.message}"
            for e in getattr(current, "schema_errors", None) or []
        ]
        current = current.__cause__
    return " <- ".join(causes)


# --- the sandbox's contract check --------------------------------------------------------
# Where each vendor serves, as the specs' `servers` say; the sandbox strips its /unify or
# /boast prefix, leaving the path the vendor host would see.
UNIFY_HOST = "https://api.unifygtm.com"
BOAST_API_HOST = "https://api.boast.io"
BOAST_AUTH_HOST = "https://app.boast.io"
# Answers that do not claim the request was acceptable.
REJECTING = {400, 401, 404, 405, 413, 422, 429}
# Served by a fake but deliberately absent from its spec, so skipped by name: Boast's
# /oauth/authorize is the browser consent step (a 302 redirect), not an API operation.
NOT_IN_SPEC = {("boast", "GET", "/oauth/authorize")}


def _host(exchange: Exchange) -> str:
    if exchange.vendor == "unify":
        return UNIFY_HOST
    return BOAST_AUTH_HOST if exchange.path.startswith("/oauth/") else BOAST_API_HOST


def _headers(raw: list[tuple[bytes, bytes]]) -> Headers:
    return Headers([(k.decode("latin-1"), v.decode("latin-1")) for k, v in raw])


def _to_openapi(exchange: Exchange) -> tuple[Request, Response]:
    request = to_request(
        _host(exchange),
        exchange.path,
        exchange.method,
        exchange.request_body,
        _headers(exchange.request_headers),
        parse_qsl(exchange.query_string.decode(), keep_blank_values=True),
    )
    response = to_response(
        exchange.status, exchange.response_body, _headers(exchange.response_headers)
    )
    return request, response


class ContractChecker:
    """Observer collecting spec violations; runs on the server thread, read at teardown."""

    def __init__(self) -> None:
        self.violations: list[str] = []
        self.checked = 0
        self.skipped = 0

    def __call__(self, exchange: Exchange) -> None:
        if exchange.fault is not None and exchange.fault != "rate_limit_burst":
            return
        if (exchange.vendor, exchange.method, exchange.path) in NOT_IN_SPEC:
            self.skipped += 1
            return
        where = f"{exchange.vendor} {exchange.method} {exchange.path} -> {exchange.status}"
        try:
            self._check(exchange, where)
        except Exception as exc:  # a crash here must fail the test, not kill the server
            self.violations.append(f"{where}: contract checker crashed: {exc!r}")

    def _check(self, exchange: Exchange, where: str) -> None:
        self.checked += 1
        api = spec_for(exchange.vendor)
        request, response = _to_openapi(exchange)
        request_errors = list(api.iter_request_errors(request))
        if any(isinstance(e, PathError) for e in request_errors):
            # Not an operation of the spec: only "no such route" answers are acceptable.
            if exchange.status not in (404, 405):
                self.violations.append(f"{where}: path/method not in the spec")
            return
        if request_errors and exchange.status not in REJECTING:
            details = "; ".join(describe(e) for e in request_errors)
            self.violations.append(
                f"{where}: spec rejects the request but fake accepted: {details}"
            )
        if response.content_type.startswith(NDJSON):
            # Rows must match the JSON variant's row schema: re-wrap them as a JSON page.
            rows = [json.loads(line) for line in exchange.response_body.splitlines()]
            page = {
                "total": int(response.headers.get("x-total", -1)),
                "page": int(response.headers.get("x-page", -1)),
                "page_size": int(response.headers.get("x-page-size", -1)),
                "data": rows,
            }
            as_json = Response(200, json.dumps(page).encode(), Headers(), "application/json")
            for error in api.iter_response_errors(request, as_json):
                self.violations.append(f"{where}: NDJSON rows break spec: {describe(error)}")
        for error in api.iter_response_errors(request, response):
            body = exchange.response_body[:300].decode(errors="replace")
            self.violations.append(f"{where}: response breaks spec: {describe(error)} | {body}")
