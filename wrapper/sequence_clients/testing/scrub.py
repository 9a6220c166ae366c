"""Everything that makes a cassette safe and stable, in one place: this project's cassettes
and a service's own (`sequence_clients.testing.vcr_config()`) go through the same scrubber.

While recording, every request and response passes through a `Scrubber` (vcr's
before_record_request/response hooks) which

- moves sandbox URLs (`http://127.0.0.1:<port>/unify/...`) to the vendor's own origin, so a
  cassette replays without the sandbox and looks like one recorded against the vendor;
- replaces secrets with numbered placeholders (`REDACTED-REFRESH-TOKEN-2`): the same secret
  gets the same placeholder within a cassette, so a replay can still tell an old token from
  a rotated one, and a placeholder maps to itself, so replayed requests scrub to the same text;
- drops headers that change between runs or machines (date, server, host with the sandbox
  port, user-agent with library versions).

vcr runs the same hook on each replayed request before matching, so both sides are compared
in scrubbed form: `body` matches bodies by meaning (JSON or form fields), `authorization`
compares the scrubbed credential, so a replay proves the rotated access token was used.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

PLACEHOLDER = re.compile(r"REDACTED-[A-Z]+(?:-[A-Z]+)*-\d+")
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
# Sandbox mount point -> where the vendor really serves it (the specs' `servers`).
CANONICAL_ORIGINS = (
    ("/unify", "https://api.unifygtm.com"),
    ("/boast/v1", "https://api.boast.io/v1"),
    ("/boast/oauth", "https://app.boast.io/oauth"),
)
_SANDBOX_URL = re.compile(
    r"http://(?:127\.0\.0\.1|localhost|\[::1\]):\d+("
    + "|".join(p for p, _ in CANONICAL_ORIGINS)
    + ")"
)
# Request headers that say something about the request; the rest (host, user-agent,
# accept-encoding, connection, content-length) only vary between machines and runs.
KEPT_REQUEST_HEADERS = {"accept", "content-type", "x-api-key", "authorization"}
VOLATILE_RESPONSE_HEADERS = {"date", "server"}
# Field name -> placeholder kind, for form bodies, query strings and JSON bodies.
FORM_SECRETS = {
    "code": "AUTH-CODE",
    "client_secret": "CLIENT-SECRET",
    "refresh_token": "REFRESH-TOKEN",
    "access_token": "ACCESS-TOKEN",
    "password": "PASSWORD",
    "api_key": "API-KEY",
    # Not a secret in OAuth terms, but a random-looking app identifier has no place in a
    # public cassette either; replay passes the placeholder as the client id.
    "client_id": "CLIENT-ID",
}
# JSON uses "code" for error codes, so only token-ish names are secrets there.
JSON_SECRETS = {
    "access_token": "ACCESS-TOKEN",
    "refresh_token": "REFRESH-TOKEN",
    "id_token": "ID-TOKEN",
    "client_secret": "CLIENT-SECRET",
}
# A secret shorter than this is not searched for in free text: it could match innocent bytes.
MIN_FREE_TEXT_SECRET = 8


class Scrubber:
    """Per-cassette scrubbing state: which secret got which placeholder."""

    def __init__(self) -> None:
        self._placeholders: dict[str, str] = {}
        self._counts: dict[str, int] = {}

    def secret(self, kind: str, value: str) -> str:
        if not value or PLACEHOLDER.fullmatch(value):
            return value
        if value not in self._placeholders:
            self._counts[kind] = self._counts.get(kind, 0) + 1
            self._placeholders[value] = f"REDACTED-{kind}-{self._counts[kind]}"
        return self._placeholders[value]

    def known_secrets(self) -> dict[str, str]:
        return dict(self._placeholders)

    # --- vcr hooks -----------------------------------------------------------------------
    def request(self, request: Any) -> Any:
        request.uri = self._scrub_url(canonical_url(request.uri))
        headers = {}
        for name, value in request.headers.items():
            lower = name.lower()
            if lower not in KEPT_REQUEST_HEADERS:
                continue
            if lower == "x-api-key":
                value = self.secret("API-KEY", value)
            elif lower == "authorization":
                value = self._authorization(value)
            headers[lower] = value
        request.headers = headers
        body = request.body
        if body:
            content_type = headers.get("content-type", "")
            request.body = self._scrub_body(content_type, body, FORM_SECRETS, JSON_SECRETS)
        return request

    def response(self, response: dict[str, Any]) -> dict[str, Any]:
        headers: dict[str, list[str]] = {}
        for name, values in response["headers"].items():
            lower = name.lower()
            if lower in VOLATILE_RESPONSE_HEADERS:
                continue
            if lower == "set-cookie":
                values = [self._set_cookie(v) for v in values]
            headers[lower] = [
                self._free_text(_SANDBOX_URL.sub(_canonical_origin, v)) for v in values
            ]
        body = response["body"]["string"]
        if body:
            content_type = next(iter(headers.get("content-type", [""])), "")
            text = body if isinstance(body, str) else body.decode("utf-8", "surrogateescape")
            text = _SANDBOX_URL.sub(_canonical_origin, text)
            scrubbed = self._scrub_body(
                content_type, text.encode("utf-8", "surrogateescape"), {}, JSON_SECRETS
            )
            response["body"]["string"] = scrubbed
            if "content-length" in headers:
                headers["content-length"] = [str(len(scrubbed))]
        response["headers"] = headers
        return response

    # --- pieces --------------------------------------------------------------------------
    def _authorization(self, value: str) -> str:
        scheme, _, credential = value.partition(" ")
        if not credential:
            return self.secret("CREDENTIAL", value)
        kind = "ACCESS-TOKEN" if scheme.lower() == "bearer" else "CLIENT-CREDENTIALS"
        return f"{scheme} {self.secret(kind, credential)}"

    def _set_cookie(self, value: str) -> str:
        pair, sep, attributes = value.partition(";")
        name, _, cookie = pair.partition("=")
        return f"{name}={self.secret('COOKIE', cookie.strip())}{sep}{attributes}"

    def _scrub_url(self, url: str) -> str:
        parts = urlsplit(url)
        if not parts.query:
            return url
        query = [
            (name, self.secret(FORM_SECRETS[name], value) if name in FORM_SECRETS else value)
            for name, value in parse_qsl(parts.query, keep_blank_values=True)
        ]
        return urlunsplit(parts._replace(query=urlencode(query)))

    def _scrub_body(
        self, content_type: str, body: bytes | str, form: dict[str, str], json_keys: dict[str, str]
    ) -> bytes:
        raw = body.encode() if isinstance(body, str) else bytes(body)
        if "application/x-www-form-urlencoded" in content_type:
            fields = parse_qsl(raw.decode(), keep_blank_values=True)
            scrubbed = [(k, self.secret(form[k], v) if k in form else v) for k, v in fields]
            if scrubbed != fields:
                raw = urlencode(scrubbed).encode()
        elif "json" in content_type:
            try:
                document = json.loads(raw)
            except ValueError:
                pass  # a deliberately broken body: only the free-text pass below applies
            else:
                cleaned = self._scrub_json(document, json_keys)
                if cleaned != document:
                    raw = json.dumps(cleaned, separators=(",", ":")).encode()
        return self._free_text(raw.decode("utf-8", "surrogateescape")).encode(
            "utf-8", "surrogateescape"
        )

    def _scrub_json(self, node: Any, keys: dict[str, str]) -> Any:
        if isinstance(node, dict):
            return {
                k: self.secret(keys[k], v)
                if k in keys and isinstance(v, str)
                else self._scrub_json(v, keys)
                for k, v in node.items()
            }
        if isinstance(node, list):
            return [self._scrub_json(item, keys) for item in node]
        return node

    def _free_text(self, text: str) -> str:
        """Replace any secret already seen wherever it appears (an error echoing a token, say)."""
        for secret, placeholder in self._placeholders.items():
            if len(secret) >= MIN_FREE_TEXT_SECRET and secret in text:
                text = text.replace(secret, placeholder)
        return text


def _canonical_origin(match: re.Match[str]) -> str:
    return dict(CANONICAL_ORIGINS)[match.group(1)]


def canonical_url(url: str) -> str:
    """A sandbox URL rewritten to the vendor origin it stands for; other URLs unchanged."""
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname not in LOOPBACK_HOSTS:
        return url
    for prefix, origin in CANONICAL_ORIGINS:
        if parts.path == prefix or parts.path.startswith(prefix + "/"):
            canonical = urlsplit(origin + parts.path[len(prefix) :])
            return urlunsplit(canonical._replace(query=parts.query, fragment=""))
    return url


# --- matchers (both requests have already been through Scrubber.request) --------------------
def _parsed_body(request: Any) -> Any:
    body = request.body or b""
    raw = body.encode() if isinstance(body, str) else bytes(body)
    content_type = next((v for k, v in request.headers.items() if k.lower() == "content-type"), "")
    if "application/x-www-form-urlencoded" in content_type:
        return sorted(parse_qsl(raw.decode(), keep_blank_values=True))
    if "json" in content_type:
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


def body_matcher(r1: Any, r2: Any) -> None:
    """Bodies equal by meaning: JSON documents or form fields, whatever the key order."""
    left, right = _parsed_body(r1), _parsed_body(r2)
    assert left == right, f"bodies differ: {left!r} != {right!r}"


def authorization_matcher(r1: Any, r2: Any) -> None:
    """The same (scrubbed) Authorization credential, or none on either side."""
    left = next((v for k, v in r1.headers.items() if k.lower() == "authorization"), None)
    right = next((v for k, v in r2.headers.items() if k.lower() == "authorization"), None)
    assert left == right, f"authorization differs: {left!r} != {right!r}"


MATCHERS: dict[str, Callable[[Any, Any], None]] = {
    "scrubbed_body": body_matcher,
    "authorization": authorization_matcher,
}
MATCH_ON = ("method", "scheme", "host", "port", "path", "query", "scrubbed_body", "authorization")


def vcr_config(scrubber: Scrubber | None = None) -> dict[str, Any]:
    """The keyword arguments of a vcrpy `VCR(...)` or `use_cassette(...)`, and what a
    pytest-recording `vcr_config` fixture returns: every request and response is scrubbed
    before it is written (keys, tokens, client secrets, cookies become numbered
    placeholders; sandbox URLs become the vendors' own), and replay matches on the scrubbed
    form. The two custom matchers must be registered once (`register_matchers(vcr)`, or the
    `pytest_recording_configure` hook shown in the README). Use a fresh scrubber per cassette
    (the default), so placeholder numbers start at 1 in each."""
    scrubber = scrubber or Scrubber()
    return {
        "match_on": MATCH_ON,
        "before_record_request": scrubber.request,
        "before_record_response": scrubber.response,
        # Retried requests are identical after scrubbing; each must get *its* recorded answer
        # in order (503, then 200), which repeats would break by replaying the first forever.
        "allow_playback_repeats": False,
        "decode_compressed_response": True,
    }


def register_matchers(vcr: Any) -> None:
    """Register the matchers `vcr_config` names on a vcrpy VCR (pytest-recording passes it to
    `pytest_recording_configure`)."""
    for name, matcher in MATCHERS.items():
        vcr.register_matcher(name, matcher)


def build_vcr(cassette_dir: str, record_mode: str) -> Any:
    """A VCR configured like the test suite's, for tests that drive vcr directly."""
    import vcr as vcrpy  # type: ignore[import-untyped]  # only recording needs vcrpy

    vcr = vcrpy.VCR(cassette_library_dir=cassette_dir, record_mode=record_mode)
    register_matchers(vcr)
    return vcr


def placeholders_in(texts: Iterable[str]) -> set[str]:
    return {match for text in texts for match in PLACEHOLDER.findall(text)}
