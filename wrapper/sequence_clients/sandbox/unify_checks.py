"""Input checks, cursors and response helpers of the Unify fake.

Validation failures are reported in the vendor's 400 `errors[]` shape.

Each error is a `UResponses.BadRequestError`: {code, path[], message, ...extra}, with zod-style
codes (invalid_type, invalid_string, too_small, ...), which is what the spec's shape suggests.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

Path = list[str | int]
Json = dict[str, Any]
DEFAULT_LIMIT = 25
NDJSON = "application/x-ndjson"
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# RFC 3339 date-time (what the spec's `format: date-time` means); fromisoformat alone would
# also accept dates without a time or without an offset.
DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$", re.IGNORECASE)


class ApiError(Exception):
    """Raised by handlers to answer with `status` and the vendor-shaped `body`."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(status, body.get("message"))
        self.status = status
        self.body = body


class Errors:
    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def add(self, code: str, path: Path, message: str, **extra: Any) -> None:
        self.items.append({"code": code, "path": list(path), "message": message, **extra})

    def raise_if_any(self, message: str = "Invalid request") -> None:
        if self.items:
            raise ApiError(400, {"status": "bad_request", "message": message, "errors": self.items})


def bad_request(message: str, path: Path | None = None, code: str = "custom") -> ApiError:
    body: dict[str, Any] = {"status": "bad_request", "message": message}
    if path is not None:
        body["errors"] = [{"code": code, "path": path, "message": message}]
    return ApiError(400, body)


def check_uuid(value: Any, path: Path, errors: Errors) -> str | None:
    if isinstance(value, str):
        try:
            if str(uuid.UUID(value)) == value.lower():
                return value.lower()
        except ValueError:
            pass
    if value is None:
        errors.add("invalid_type", path, "Required", expected="string", received="undefined")
    else:
        errors.add("invalid_string", path, "Invalid uuid", validation="uuid")
    return None


def check_email(value: Any, path: Path, errors: Errors) -> str | None:
    if isinstance(value, str) and EMAIL.match(value):
        return value
    errors.add("invalid_string", path, "Invalid email", validation="email")
    return None


def check_datetime(value: Any, path: Path, errors: Errors) -> datetime | None:
    if isinstance(value, str) and DATETIME.match(value):
        try:
            return datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
        except ValueError:
            pass
    errors.add("invalid_string", path, "Invalid datetime", validation="datetime")
    return None


def check_int(
    raw: str | None, path: Path, errors: Errors, minimum: int, maximum: int | None = None
) -> int | None:
    """A query-string integer within bounds; None when absent or invalid."""
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        errors.add("invalid_type", path, "Expected integer", expected="integer", received=raw)
        return None
    if value < minimum:
        errors.add("too_small", path, f"Must be >= {minimum}", minimum=minimum, inclusive=True)
        return None
    if maximum is not None and value > maximum:
        errors.add("too_big", path, f"Must be <= {maximum}", maximum=maximum, inclusive=True)
        return None
    return value


def json_response(status: int, payload: Json, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(payload, separators=(",", ":"))
    return Response(body, status, headers, media_type="application/json")


def not_found(message: str) -> ApiError:
    return ApiError(404, {"status": "not_found", "message": message})


def _fingerprint(request: Request) -> str:
    """Hash of the filters a cursor was issued for: reusing it with other filters is a 400."""
    items = sorted(
        (k, v) for k, v in request.query_params.multi_items() if k not in ("cursor", "limit")
    )
    raw = json.dumps([request.url.path, items]).encode()
    return hashlib.sha256(raw).hexdigest()[:16]


def paginate(
    request: Request, items: Iterable[Any], key: Callable[[Any], int]
) -> tuple[list[Any], str | None]:
    """Keyset pagination over items in ascending `key` order (stable while items are added)."""
    errors = Errors()
    limit = check_int(request.query_params.get("limit"), ["limit"], errors, 1, 100)
    errors.raise_if_any()
    fingerprint = _fingerprint(request)
    after = 0
    cursor = request.query_params.get("cursor")
    if cursor:
        try:
            decoded = json.loads(base64.urlsafe_b64decode(cursor.encode() + b"=="))
            after, issued_for = int(decoded["a"]), decoded["f"]
        except (ValueError, KeyError, TypeError):
            raise bad_request("Invalid cursor", ["cursor"], "invalid_cursor") from None
        if issued_for != fingerprint:
            raise bad_request("Cursor does not match the filters", ["cursor"], "invalid_cursor")
    size = limit or DEFAULT_LIMIT
    page: list[Any] = []
    for item in items:
        if key(item) <= after:
            continue
        if len(page) == size:
            last = json.dumps(
                {"a": key(page[-1]), "f": fingerprint}, separators=(",", ":")
            ).encode()
            return page, base64.urlsafe_b64encode(last).decode().rstrip("=")
        page.append(item)
    return page, None


def ndjson_response(payload: Json) -> Response:
    lines = "".join(json.dumps(row, separators=(",", ":")) + "\n" for row in payload["data"])
    headers = {
        "x-total": str(payload["total"]),
        "x-page": str(payload["page"]),
        "x-page-size": str(payload["page_size"]),
    }
    return Response(lines, 200, headers, media_type=NDJSON)
