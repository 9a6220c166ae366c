"""Bad responses become typed errors: what a proxy, a cut connection or a spec-breaking vendor
sends never escapes as KeyError, TypeError, JSONDecodeError or an httpx exception."""

from __future__ import annotations

import email.utils
import json
import time
import uuid
from collections.abc import Callable

import httpx
import pytest

from sequence_clients import RetryPolicy, UnifyClient, errors
from sequence_clients.errors import describe_error_body, parse_retry_after, redact_url

ENROLLMENT_ID = uuid.uuid4()
Handler = Callable[[httpx.Request], httpx.Response]


def client_answering(handler: Handler, **options: object) -> UnifyClient:
    http = httpx.Client(transport=httpx.MockTransport(handler))
    return UnifyClient(
        "secret-key-123", httpx_client=http, retry_policy=RetryPolicy(base_delay=0.001), **options
    )  # type: ignore[arg-type]


def valid_enrollment() -> dict[str, object]:
    now = "2026-11-24T10:00:00Z"
    return {
        "id": str(ENROLLMENT_ID), "created_at": now, "updated_at": now,
        "sequence": {"id": str(uuid.uuid4()), "name": "s", "is_paused": False},
        "person": {"id": str(uuid.uuid4()), "email": "p@x.com", "first_name": None, "last_name": None, "linkedin_url": None},
        "mailbox": {"id": str(uuid.uuid4()), "email": "m@x.com", "display_name": None, "is_paused": False, "is_unauthorized": False},
        "enrolled_by_play": None, "reply_email_message": None, "status": "IN_PROGRESS",
        "is_blocked": False, "is_bounced": False, "is_canceled": False, "is_excluded": False,
        "is_opted_out": False, "is_paused": False, "is_replied": False, "started_at": None, "ended_at": None,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("response", "error_class", "text"),
    [
        (
            httpx.Response(502, html="<html><body><h1>502 Bad Gateway</h1>nginx</body></html>"),
            errors.ServerError,
            "502 Bad Gateway",
        ),
        (
            httpx.Response(200, content=b'{"id": "' + str(ENROLLMENT_ID).encode()[:10]),
            errors.UnexpectedResponseError,
            "not valid JSON",
        ),
        (
            httpx.Response(200, json={"id": str(ENROLLMENT_ID)}),
            errors.UnexpectedResponseError,
            "does not match the API spec",
        ),
        (
            httpx.Response(200, json={**valid_enrollment(), "id": "nope"}),
            errors.UnexpectedResponseError,
            "does not match the API spec",
        ),
        (httpx.Response(200, text="OK"), errors.UnexpectedResponseError, "not valid JSON"),
        (
            httpx.Response(418, json={"status": "teapot", "message": "short and stout"}),
            errors.APIStatusError,
            "short and stout",
        ),
        (
            httpx.Response(403, json={"status": "forbidden", "message": "no"}),
            errors.PermissionDeniedError,
            "forbidden",
        ),
        (httpx.Response(204), errors.UnexpectedResponseError, "does not document"),
        (httpx.Response(500, content=b""), errors.ServerError, "Internal Server Error"),
    ],
)
def test_bad_responses_raise_typed_errors(
    response: httpx.Response, error_class: type[Exception], text: str
) -> None:
    with (
        client_answering(lambda request: response, max_retries=0) as unify,
        pytest.raises(error_class) as raised,
    ):
        unify.get_enrollment(ENROLLMENT_ID)
    assert text in str(raised.value)
    assert "secret-key-123" not in str(raised.value)
    assert f"/sequences/v1/enrollments/{ENROLLMENT_ID}" in str(raised.value)


def test_valid_response_parses() -> None:
    with client_answering(lambda request: httpx.Response(200, json=valid_enrollment())) as unify:
        assert unify.get_enrollment(ENROLLMENT_ID).id == ENROLLMENT_ID


def test_truncated_then_whole_body_is_retried_to_success() -> None:
    answers = iter(
        [httpx.Response(200, content=b'{"id": '), httpx.Response(200, json=valid_enrollment())]
    )
    with client_answering(lambda request: next(answers)) as unify:
        assert unify.get_enrollment(ENROLLMENT_ID).id == ENROLLMENT_ID


def test_spec_violation_is_not_retried() -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, json={"id": str(ENROLLMENT_ID)})

    with client_answering(handler) as unify, pytest.raises(errors.UnexpectedResponseError):
        unify.get_enrollment(ENROLLMENT_ID)
    assert len(calls) == 1


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
def test_client_errors_are_never_retried(status: int) -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(status, json={"status": "no", "message": "refused"})

    with client_answering(handler) as unify, pytest.raises(errors.APIStatusError) as raised:
        unify.get_enrollment(ENROLLMENT_ID)
    assert raised.value.status_code == status and len(calls) == 1


def test_408_and_5xx_are_retried_up_to_max_retries() -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(408 if len(calls) == 1 else 504)

    with client_answering(handler, max_retries=3) as unify, pytest.raises(errors.ServerError):
        unify.get_enrollment(ENROLLMENT_ID)
    assert len(calls) == 4


def test_retry_after_forms() -> None:
    now = time.time()
    http_date = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after(httpx.Headers({"retry-after": "7"}), now) == 7
    assert parse_retry_after(httpx.Headers({"retry-after": http_date}), now) == pytest.approx(
        30, abs=1.5
    )
    assert parse_retry_after(
        httpx.Headers({"x-ratelimit-reset": str(int(now) + 12)}), now
    ) == pytest.approx(12, abs=1)
    assert parse_retry_after(httpx.Headers({"x-ratelimit-reset": "5"}), now) == 5
    assert parse_retry_after(httpx.Headers({"retry-after": "soon"}), now) is None
    assert parse_retry_after(httpx.Headers(), now) is None


def test_error_bodies_of_every_vendor_shape() -> None:
    unify = {
        "status": "bad_request",
        "message": "Invalid body",
        "errors": [{"code": "invalid_string", "path": ["x"]}],
    }
    boast = {"errors": [{"detail": "Email is invalid", "code": "invalid", "status": 422}]}
    oauth = {"error": "invalid_grant", "error_description": "The refresh token is invalid"}
    assert describe_error_body(unify) == (("bad_request", "invalid_string"), "Invalid body")
    assert describe_error_body(boast) == (("invalid",), "Email is invalid")
    assert describe_error_body(oauth) == (("invalid_grant",), "The refresh token is invalid")
    assert describe_error_body(["not", "a", "dict"]) == ((), "")
    assert describe_error_body(json.loads('{"errors": [null, 3, {"code": 5}]}')) == ((), "")


def test_secret_query_values_are_redacted() -> None:
    url = "https://app.boast.io/oauth/token?code=abc&client_secret=s3&page=2&refresh_token=r"
    redacted = redact_url(url)
    assert "abc" not in redacted and "s3" not in redacted and "=r" not in redacted
    assert "page=2" in redacted
