"""What every committed cassette must satisfy: no secret in it, and every response one the
vendor's spec allows (so a live re-recording shows where vendor and spec disagree).

Responses a fault test breaks on purpose are listed in the cassette's metadata under
`deliberately_broken` (written by `Session.mark_broken` while recording); they are exempt
from the spec, and a listed response that does conform fails as a stale mark.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import openapi_check
import pytest
from vcr.serialize import deserialize
from vcr.serializers import yamlserializer
from werkzeug.datastructures import Headers

from sequence_clients.testing import scrub

ROOT = Path(__file__).resolve().parents[2]
CASSETTES = sorted((ROOT / "tests" / "cassettes").rglob("*.yaml"))
VENDOR_OF_HOST = {"api.unifygtm.com": "unify", "api.boast.io": "boast", "app.boast.io": "boast"}
CREDENTIAL_HEADERS = {"x-api-key", "authorization", "cookie", "set-cookie"}
# Shapes of real credentials. Cursors are base64 JSON and ids are UUIDs: neither matches.
SUSPICIOUS = [
    re.compile(r"sandbox_[a-z]+_[0-9A-Za-z]{8,}"),  # keys and tokens the sandbox issues
    re.compile(r"\b[0-9a-f]{32,}\b"),  # long hex: API keys, token digests
    # A bearer credential; WWW-Authenticate's `Bearer realm=...` challenge is not one.
    re.compile(r"\bBearer (?!REDACTED-|realm=|error=)\S+"),
    re.compile(r"\b(?:sk|pk|rk)_(?:live|test)_\w+"),
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
]
LONG_TOKEN = re.compile(r"[A-Za-z0-9_\-]{40,}")


@pytest.fixture(autouse=True)
def _checks_finished_cassettes(request: pytest.FixtureRequest) -> None:
    # While recording, these files are being rewritten; scripts/record.py checks them after.
    if request.config.getoption("--record-mode") not in (None, "none"):
        pytest.skip("checks recorded cassettes; scripts/record.py runs it after recording")


def _load(path: Path) -> tuple[list[Any], list[dict[str, Any]], dict[str, Any]]:
    loaded = deserialize(path.read_text(encoding="utf-8"), yamlserializer)
    requests, responses = loaded[0], loaded[1]
    return requests, responses, (loaded[2] if len(loaded) > 2 else {})


def _cassette_id(path: Path) -> str:
    return str(path.relative_to(ROOT / "tests" / "cassettes"))


def test_there_are_cassettes() -> None:
    assert len(CASSETTES) >= 20, "tests/cassettes looks empty: run `make record`"


# --- no secrets ------------------------------------------------------------------------------
def _random_looking(token: str) -> bool:
    if sum(c.isdigit() for c in token) < 5 or sum(c.isalpha() for c in token) < 5:
        return False  # snake_case names, dashes and numbers are not keys
    try:  # pagination cursors are base64url JSON: opaque, but not secret
        decoded = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        return not decoded.lstrip().startswith(b"{")
    except (binascii.Error, ValueError):
        return True


def _credential_problems(requests: list[Any], responses: list[dict[str, Any]]) -> list[str]:
    problems = []
    for n, (request, response) in enumerate(zip(requests, responses, strict=True)):
        for name, value in request.headers.items():
            if name.lower() in CREDENTIAL_HEADERS:
                credential = value.split(" ", 1)[-1]
                if not scrub.PLACEHOLDER.fullmatch(credential):
                    problems.append(f"#{n} request header {name} is not a placeholder")
        for name, values in response["headers"].items():
            if name.lower() in CREDENTIAL_HEADERS:
                problems += [
                    f"#{n} response header {name} unscrubbed"
                    for v in values
                    if "REDACTED-" not in v
                ]
        body = request.body or b""
        text = body.decode() if isinstance(body, bytes) else body
        for field, value in parse_qsl(text, keep_blank_values=True):
            if field in scrub.FORM_SECRETS and not scrub.PLACEHOLDER.fullmatch(value):
                problems.append(f"#{n} request field {field} is not a placeholder")
        for field, value in parse_qsl(urlsplit(request.uri).query):
            if field in scrub.FORM_SECRETS and not scrub.PLACEHOLDER.fullmatch(value):
                problems.append(f"#{n} query parameter {field} is not a placeholder")
        try:
            document = json.loads(response["body"]["string"] or b"null")
        except ValueError:
            continue
        problems += [f"#{n} response {key}" for key in _unscrubbed_json(document)]
    return problems


def _unscrubbed_json(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = []
        for key, value in node.items():
            if key in scrub.JSON_SECRETS and isinstance(value, str):
                if not scrub.PLACEHOLDER.fullmatch(value):
                    found.append(key)
            else:
                found += _unscrubbed_json(value)
        return found
    if isinstance(node, list):
        return [key for item in node for key in _unscrubbed_json(item)]
    return []


def find_secrets(path: Path) -> list[str]:
    """Everything in one cassette file that looks like a credential."""
    text = path.read_text(encoding="utf-8")
    problems = [
        f"matches {pattern.pattern!r}: {match.group()[:12]}…"
        for pattern in SUSPICIOUS
        for match in pattern.finditer(text)
    ]
    problems += [
        f"random-looking string {token[:12]}…"
        for token in LONG_TOKEN.findall(text)
        if _random_looking(token)
    ]
    requests, responses, _ = _load(path)
    return problems + _credential_problems(requests, responses)


@pytest.mark.parametrize("path", CASSETTES, ids=_cassette_id)
def test_committed_cassette_holds_no_secret(path: Path) -> None:
    problems = find_secrets(path)
    assert not problems, f"{_cassette_id(path)} may hold secrets:\n" + "\n".join(problems)


def test_the_secret_scan_finds_what_it_looks_for(tmp_path: Path) -> None:
    """The scanner itself can fail: a cassette with an unscrubbed key and token is caught."""
    source = next(p for p in CASSETTES if "enroll_get_pause" in p.name)
    leaked = source.read_text(encoding="utf-8").replace(
        "REDACTED-API-KEY-1", "sandbox_unify_e6ddb5fd62edbaeecf620024c1378ef1", 1
    )
    path = tmp_path / "leaked.yaml"
    path.write_text(leaked, encoding="utf-8")
    problems = find_secrets(path)
    assert any("x-api-key" in p for p in problems)
    assert any("sandbox_" in p for p in problems)


# --- spec conformance ------------------------------------------------------------------------
def _openapi_pair(
    request: Any, response: dict[str, Any]
) -> tuple[str, openapi_check.Request, openapi_check.Response]:
    url = urlsplit(request.uri)
    body = request.body
    data = response["body"]["string"]
    response_headers = Headers(
        [(k, v) for k, values in response["headers"].items() for v in values]
    )
    return (
        VENDOR_OF_HOST[url.hostname or ""],
        openapi_check.to_request(
            f"{url.scheme}://{url.netloc}",
            url.path,
            request.method,
            body.encode() if isinstance(body, str) else body,
            Headers(list(request.headers.items())),
            parse_qsl(url.query, keep_blank_values=True),
        ),
        openapi_check.to_response(
            response["status"]["code"],
            data.encode() if isinstance(data, str) else data,
            response_headers,
        ),
    )


def spec_violations(path: Path) -> tuple[list[str], int]:
    requests, responses, metadata = _load(path)
    exempt = {
        mark["interaction"]: mark["reason"] for mark in metadata.get("deliberately_broken", [])
    }
    violations, checked = [], 0
    for n, (request, response) in enumerate(zip(requests, responses, strict=True)):
        vendor, openapi_request, openapi_response = _openapi_pair(request, response)
        api = openapi_check.spec_for(vendor)
        errors = list(api.iter_response_errors(openapi_request, openapi_response))
        where = (
            f"#{n} {request.method} {urlsplit(request.uri).path} -> {openapi_response.status_code}"
        )
        if n in exempt:
            if not errors:
                violations.append(f"{where}: marked broken ({exempt[n]}) but conforms: stale mark")
            continue
        checked += 1
        violations += [f"{where}: {openapi_check.describe(error)}" for error in errors]
    unknown = set(exempt) - set(range(len(requests)))
    violations += [f"broken mark for missing interaction #{n}" for n in sorted(unknown)]
    return violations, checked


@pytest.mark.parametrize("path", CASSETTES, ids=_cassette_id)
def test_recorded_responses_match_the_vendor_spec(path: Path) -> None:
    violations, checked = spec_violations(path)
    assert not violations, f"{_cassette_id(path)} disagrees with the spec:\n" + "\n".join(
        violations
    )
    assert checked or "deliberately_broken" in path.read_text(encoding="utf-8")


def test_the_spec_check_catches_a_nonconforming_response(tmp_path: Path) -> None:
    """The checker itself can fail: an enrollment without its id is reported."""
    source = next(p for p in CASSETTES if "enroll_get_pause" in p.name)
    broken = source.read_text(encoding="utf-8").replace('{"id":', '{"not_the_id":', 1)
    path = tmp_path / "broken.yaml"
    path.write_text(broken, encoding="utf-8")
    violations, _ = spec_violations(path)
    assert any("#0 POST" in v for v in violations)
