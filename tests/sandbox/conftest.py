"""Fixtures running the sandbox on a real loopback port, with the contract check on.

`sandbox` is a default sandbox; `make_sandbox(**config)` builds one from SandboxConfig fields
(`faults` may be a dict of FaultConfig fields; `contract=False` turns the check off). Both stop
the server at teardown, then fail the test if any exchange broke the vendor spec.

The contract check validates every request the fake received and every response it sent
against the normalised vendor specs in generated/spec (what the generated clients are built
from). A request the spec rejects must be rejected by the fake (a 4xx such as 400/401/404 or a 429); the
response must match the spec for its status either way. Injected faults are deliberately
broken and skipped, except the 429 bursts, which must still look like the vendor's 429s.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.templating.paths.exceptions import PathError
from werkzeug.datastructures import Headers, ImmutableMultiDict

from sequence_clients.sandbox import Exchange, FaultConfig, Sandbox, SandboxConfig

MakeSandbox = Callable[..., Sandbox]
SPEC_DIR = Path(__file__).resolve().parents[2] / "generated" / "spec"
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
NDJSON = "application/x-ndjson"
_apis: dict[str, OpenAPI] = {}


def pytest_configure(config: pytest.Config) -> None:
    # openapi-core cannot check oauth2 security and warns on every Boast request; the fake
    # checks bearer tokens itself (tests/sandbox/test_boast_fake.py), so the warning is noise.
    config.addinivalue_line("filterwarnings", "ignore:Unsupported scheme type:UserWarning")


def _api(vendor: str) -> OpenAPI:
    # Parsing a spec takes a while; every test shares one per vendor.
    if vendor not in _apis:
        path = SPEC_DIR / f"{vendor}.openapi.json"
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing: run `make generate`")
        # Unify documents NDJSON results as `type: string`; openapi-core has no deserializer
        # for it, so hand it over as text (the lines themselves are checked separately).
        config = Config(extra_media_type_deserializers={NDJSON: _ndjson_text})
        _apis[vendor] = OpenAPI.from_file_path(str(path), config=config)
    return _apis[vendor]


def _ndjson_text(data: bytes) -> str:
    return data.decode()


@dataclass
class _Request:
    host_url: str
    path: str
    method: str
    body: bytes | None
    content_type: str
    parameters: RequestParameters


@dataclass
class _Response:
    status_code: int
    data: bytes
    headers: Headers
    content_type: str


def _host(exchange: Exchange) -> str:
    if exchange.vendor == "unify":
        return UNIFY_HOST
    return BOAST_AUTH_HOST if exchange.path.startswith("/oauth/") else BOAST_API_HOST


def _headers(raw: list[tuple[bytes, bytes]]) -> Headers:
    return Headers([(k.decode("latin-1"), v.decode("latin-1")) for k, v in raw])


def _to_openapi(exchange: Exchange) -> tuple[_Request, _Response]:
    request_headers = _headers(exchange.request_headers)
    query = parse_qsl(exchange.query_string.decode(), keep_blank_values=True)
    request = _Request(
        host_url=_host(exchange),
        path=exchange.path,
        method=exchange.method.lower(),
        body=exchange.request_body or None,
        content_type=request_headers.get("content-type", ""),
        parameters=RequestParameters(
            query=ImmutableMultiDict(query), header=request_headers, cookie=ImmutableMultiDict()
        ),
    )
    response_headers = _headers(exchange.response_headers)
    response = _Response(
        status_code=exchange.status,
        data=exchange.response_body,
        headers=response_headers,
        content_type=response_headers.get("content-type", ""),
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
        api = _api(exchange.vendor)
        request, response = _to_openapi(exchange)
        request_errors = list(api.iter_request_errors(request))
        if any(isinstance(e, PathError) for e in request_errors):
            # Not an operation of the spec: only "no such route" answers are acceptable.
            if exchange.status not in (404, 405):
                self.violations.append(f"{where}: path/method not in the spec")
            return
        if request_errors and exchange.status not in REJECTING:
            details = "; ".join(_describe(e) for e in request_errors)
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
            as_json = _Response(200, json.dumps(page).encode(), Headers(), "application/json")
            for error in api.iter_response_errors(request, as_json):
                self.violations.append(f"{where}: NDJSON rows break spec: {_describe(error)}")
        for error in api.iter_response_errors(request, response):
            body = exchange.response_body[:300].decode(errors="replace")
            self.violations.append(f"{where}: response breaks spec: {_describe(error)} | {body}")


def _describe(error: BaseException) -> str:
    causes = []
    current: BaseException | None = error
    while current is not None:
        causes.append(str(current) or type(current).__name__)
        schema_errors = getattr(current, "schema_errors", None)
        if schema_errors:
            causes.extend(f"{list(e.absolute_path)}: {e.message}" for e in schema_errors)
        current = current.__cause__
    return " <- ".join(causes)


@pytest.fixture
def make_sandbox() -> Iterator[MakeSandbox]:
    started: list[tuple[Sandbox, ContractChecker | None]] = []

    def make(contract: bool = True, **overrides: Any) -> Sandbox:
        faults = overrides.get("faults")
        if isinstance(faults, dict):
            overrides["faults"] = FaultConfig(**faults)
        checker = ContractChecker() if contract else None
        if checker is not None:
            overrides["observer"] = checker
        sb = Sandbox(SandboxConfig(**overrides)).start()
        started.append((sb, checker))
        return sb

    yield make
    violations: list[str] = []
    for sb, checker in started:
        sb.stop(wait=False)
        if checker is not None:
            violations += checker.violations
    if violations:
        shown = "\n".join(violations[:20])
        pytest.fail(f"{len(violations)} contract violation(s):\n{shown}", pytrace=False)


@pytest.fixture
def sandbox(make_sandbox: MakeSandbox) -> Sandbox:
    return make_sandbox()


class FakeClock:
    """Injectable wall clock for expiry tests (the states read it for timestamps and TTLs)."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()
