"""Bad responses become typed errors: what a proxy, a cut connection or a spec-breaking vendor
sends never escapes as KeyError, TypeError, JSONDecodeError or an httpx exception."""

from __future__ import annotations

import datetime as dt
import email.utils
import inspect
import json
import pickle
import time
import uuid
from collections.abc import Callable

import httpx
import pytest

from sequence_clients import AsyncUnifyClient, OAuthToken, RetryPolicy, UnifyClient, errors
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
    problem = {"type": "about:blank", "title": "Service Unavailable", "detail": "database down"}
    assert describe_error_body(problem) == ((), "database down")
    assert describe_error_body({"title": "Service Unavailable"}) == ((), "Service Unavailable")
    assert describe_error_body(["not", "a", "dict"]) == ((), "")
    assert describe_error_body({"errors": 5, "status": 7}) == ((), "")
    assert describe_error_body(json.loads('{"errors": [null, 3, {"code": 5}]}')) == ((), "")


def test_secret_query_values_are_redacted() -> None:
    url = "https://app.boast.io/oauth/token?code=abc&client_secret=s3&page=2&refresh_token=r"
    redacted = redact_url(url)
    assert "abc" not in redacted and "s3" not in redacted and "=r" not in redacted
    assert "page=2" in redacted


def test_retry_after_ms_is_honoured_and_wins_over_retry_after() -> None:
    now = time.time()
    both = httpx.Headers({"retry-after-ms": "1500", "retry-after": "2"})
    assert parse_retry_after(both, now) == 1.5  # the more precise statement of the same wait
    assert parse_retry_after(httpx.Headers({"retry-after-ms": "250.5"}), now) == 0.2505
    assert parse_retry_after(httpx.Headers({"retry-after-ms": "-40"}), now) == 0
    for unusable in ("soon", "nan", "inf", ""):
        fallback = httpx.Headers({"retry-after-ms": unusable, "retry-after": "3"})
        assert parse_retry_after(fallback, now) == 3
    assert parse_retry_after(httpx.Headers({"retry-after": "nan"}), now) is None


def test_a_retry_waits_what_retry_after_ms_asks(caplog: pytest.LogCaptureFixture) -> None:
    answers = iter(
        [
            httpx.Response(429, headers={"retry-after-ms": "20", "retry-after": "1"}),
            httpx.Response(200, json=valid_enrollment()),
        ]
    )
    caplog.set_level("INFO", logger="sequence_clients")
    with client_answering(lambda request: next(answers), max_retries=1) as unify:
        assert unify.get_enrollment(ENROLLMENT_ID).id == ENROLLMENT_ID
    assert [record.wait for record in caplog.records if hasattr(record, "wait")] == [0.02]


MEGABYTE = "x" * 1_000_000
HUGE_BODIES = [
    pytest.param({"status": "bad_request", "message": MEGABYTE}, id="unify-message"),
    pytest.param({"errors": [{"code": "invalid", "detail": MEGABYTE}]}, id="boast-detail"),
    pytest.param({"error": "invalid_grant", "error_description": MEGABYTE}, id="oauth"),
    pytest.param({"errors": [{"code": f"code-{n}-{MEGABYTE[:100]}"} for n in range(5000)]}, id="codes"),
    pytest.param({"unknown": MEGABYTE}, id="unknown-shape"),
    pytest.param(MEGABYTE, id="not-json"),
    pytest.param("[" * 100_000 + "]" * 100_000, id="nested-too-deep"),
]  # fmt: skip


def answer_with(status: int, body: object) -> httpx.Response:
    if isinstance(body, str):
        return httpx.Response(status, text=body)
    return httpx.Response(status, json=body)


@pytest.mark.parametrize("body", HUGE_BODIES)
def test_error_messages_stay_short_whatever_the_body(body: object) -> None:
    with (
        client_answering(lambda request: answer_with(400, body), max_retries=0) as unify,
        pytest.raises(errors.APIStatusError) as raised,
    ):
        unify.get_enrollment(ENROLLMENT_ID)
    error = raised.value
    assert len(str(error)) < 1000 and len(repr(error)) < 1100 and len(error.message) < 400
    assert f"/sequences/v1/enrollments/{ENROLLMENT_ID}" in str(error)


@pytest.mark.parametrize("body", HUGE_BODIES)
async def test_async_error_messages_stay_short_whatever_the_body(body: object) -> None:
    http = httpx.AsyncClient(transport=httpx.MockTransport(lambda r: answer_with(503, body)))
    async with AsyncUnifyClient("secret-key-123", httpx_client=http, max_retries=0) as unify:
        with pytest.raises(errors.ServerError) as raised:
            await unify.get_enrollment(ENROLLMENT_ID)
    assert len(str(raised.value)) < 1000


@pytest.mark.parametrize(
    ("body", "shown"),
    [
        ({"detail": "database unavailable"}, "database unavailable"),  # problem details
        ({"title": "Service down", "detail": "database unavailable"}, "database unavailable"),
        ({"fault": {"reason": "database unavailable"}}, '{"fault":{"reason":"database unavailable"}}'),
        ([{"msg": "database unavailable"}], "database unavailable"),
        ({"errors": 7}, '{"errors":7}'),  # not a list: quoted, not a TypeError
    ],
)  # fmt: skip
def test_an_error_body_of_unknown_shape_still_says_something(body: object, shown: str) -> None:
    with (
        client_answering(lambda request: httpx.Response(503, json=body), max_retries=0) as unify,
        pytest.raises(errors.ServerError) as raised,
    ):
        unify.get_enrollment(ENROLLMENT_ID)
    assert shown in str(raised.value) and "Service Unavailable" not in raised.value.codes


# A value for every constructor parameter any error class takes. A new class with a new
# parameter fails the test below until it gets a sample here.
SAMPLE_ARGUMENTS: dict[str, object] = {
    "message": "the vendor's message",
    "reason": "why it failed",
    "status_code": 503,
    "method": "POST",
    "url": "https://api.example/v1/enrollments?page=2",
    "codes": ("unavailable", "retry"),
    "body": b'{"status": "unavailable", "message": "the vendor\'s message"}',
    "retry_after": 1.5,
    "truncated": True,
    "maybe_applied": True,
    "job_id": "job-42",
    "variable": "UNIFY_API_KEY",
    "status": "FAILED",
    "error_code": "E_TIMEOUT",
    "token": OAuthToken("access-secret", "refresh-secret", dt.datetime(2030, 1, 1, tzinfo=dt.UTC)),
    "cause": OSError("disk full"),
    "pages": 3,
    "active_enrollment_id": "enrollment-1",
    "active_sequence_id": "sequence-1",
    "limit": 32 * 1024 * 1024,
}


def error_classes() -> list[type[errors.SequenceClientError]]:
    return [
        value
        for value in vars(errors).values()
        if isinstance(value, type) and issubclass(value, errors.SequenceClientError)
    ]


def parameters_of(kind: type) -> list[inspect.Parameter]:
    """The named parameters `kind(...)` takes, following **kwargs up to the parents."""
    found: list[inspect.Parameter] = []
    for owner in kind.__mro__:
        if "__init__" not in vars(owner) or owner in (Exception, BaseException):
            continue
        named = list(inspect.signature(vars(owner)["__init__"]).parameters.values())[1:]
        known = {p.name for p in found}
        found += [
            p
            for p in named
            if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL) and p.name not in known
        ]
        if not any(p.kind == p.VAR_KEYWORD for p in named):
            break
    return found


def sample_error(
    kind: type[errors.SequenceClientError], samples: dict[str, object] = SAMPLE_ARGUMENTS
) -> errors.SequenceClientError:
    parameters = parameters_of(kind)
    if not parameters:
        return kind("a plain message")
    missing = {p.name for p in parameters} - samples.keys()
    assert not missing, f"add a sample for {missing} ({kind.__name__}) to SAMPLE_ARGUMENTS"
    positional = [samples[p.name] for p in parameters if p.kind == p.POSITIONAL_OR_KEYWORD]
    keywords = {p.name: samples[p.name] for p in parameters if p.kind == p.KEYWORD_ONLY}
    return kind(*positional, **keywords)


def test_every_error_message_is_bounded_whatever_its_parts() -> None:
    # Every text a server or a failing library hands us, a megabyte long.
    huge: dict[str, object] = {
        name: MEGABYTE if isinstance(value, str) else value
        for name, value in SAMPLE_ARGUMENTS.items()
    }
    huge["codes"] = tuple(f"code-{n}-{MEGABYTE[:50]}" for n in range(10_000))
    huge["body"] = MEGABYTE.encode()
    for kind in error_classes():
        if parameters_of(kind):  # the others carry only messages this library writes
            assert len(str(sample_error(kind, huge))) < 1500, kind.__name__


def test_every_error_class_survives_pickle_with_its_attributes() -> None:
    kinds = error_classes()
    assert errors.SequenceClientError in kinds and errors.AlreadyEnrolledError in kinds
    for kind in kinds:
        error = sample_error(kind)
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is kind
        assert (str(copy), copy.args) == (str(error), error.args)
        assert vars(copy) == vars(error) and copy.maybe_applied == error.maybe_applied
        for text in (str(copy), repr(copy)):
            assert "access-secret" not in text and "refresh-secret" not in text
