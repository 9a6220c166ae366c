"""Every failure is a typed error (a subclass of `SequenceClientError`) carrying what code branches
on — status code, vendor codes, method, url, `maybe_applied`, `retry_after` — whatever the
server or the connection did: a refused or dropped connection, a redirect, a body the spec
does not allow, an error body of any shape. Messages stay bounded and never show secrets;
errors survive pickling with their fields."""

from __future__ import annotations

import datetime as dt
import inspect
import json
import pickle
import uuid
from collections.abc import Callable
from typing import Any

import aiohttp
import httpx
import pytest
from twin_harness import Twin
from virtual_clock import VirtualClock
from virtual_clock import fresh_limit as limit
from wrapper_helpers import (
    ENROLLMENT_ID,
    FAST_BACKOFF,
    FASTER_BACKOFF,
    PAUSE_PATH,
    SEQUENCE_ID,
    AsyncHttp,
    BoastOptions,
    Handler,
    MakeSandbox,
    Server,
    Streamed,
    answer,
    client_answering,
    ids,
    serving,
    targets,
    valid_enrollment,
)

from sequence_clients import (
    AsyncUnifyClient,
    BoastClient,
    OAuthToken,
    UnifyClient,
    errors,
)
from sequence_clients._aiohttp import typed_failure
from sequence_clients._transport import translate
from sequence_clients.errors import describe_error_body, redact_url
from sequence_clients.sandbox import FaultConfig, Sandbox

PAUSE_URL = f"https://api.unifygtm.com{PAUSE_PATH}"


def vendor_error(status: int, body: dict[str, Any]) -> httpx.Response:
    return httpx.Response(status, json=body)


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def client(http: httpx.AsyncClient, url: str, **options: object) -> AsyncUnifyClient:
    options.setdefault("retry_policy", FAST_BACKOFF)
    return AsyncUnifyClient("key", base_url=url, httpx_client=http, **options)  # type: ignore[arg-type]


SEQUENCES = "https://api.unifygtm.com/sequences/v1/sequences"


def unify_answering(handler: Handler, **options: Any) -> UnifyClient:
    http = httpx.Client(transport=httpx.MockTransport(handler))
    return UnifyClient("secret-key-123", httpx_client=http, retry_policy=FASTER_BACKOFF, **options)


def raising(error: Callable[[httpx.Request], Exception]) -> Handler:
    def handle(request: httpx.Request) -> httpx.Response:
        raise error(request)

    return handle


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


ENROLLMENT_ID_shared_httpx_client = "00000000-0000-4000-8000-000000000001"


@pytest.mark.parametrize(
    ("raised", "error_type", "maybe_applied"),
    [
        (httpx.ConnectError("connection refused"), errors.APIConnectionError, False),
        (httpx.ConnectTimeout("connect timed out"), errors.APITimeoutError, False),
        (httpx.PoolTimeout("no free connection"), errors.APITimeoutError, False),
        (httpx.ReadTimeout("read timed out"), errors.APITimeoutError, True),
        (httpx.RemoteProtocolError("peer closed"), errors.APIConnectionError, True),
    ],
)
async def test_a_failed_send_is_a_typed_error_naming_the_request(
    twin: Twin,
    clock: VirtualClock,
    raised: httpx.HTTPError,
    error_type: type[errors.APIConnectionError],
    maybe_applied: bool,
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise raised

    client = twin(handler, max_retries=0)
    with pytest.raises(error_type) as caught:
        await client.pause()

    error = caught.value
    assert type(error) is error_type
    assert (error.method, error.url) == ("POST", PAUSE_URL)  # wording: tests/golden/messages.py
    assert error.maybe_applied is maybe_applied
    assert error.__cause__ is raised  # the httpx error stays reachable for debugging


@pytest.mark.parametrize(
    ("raised", "error_type"),
    [
        (httpx.RemoteProtocolError("peer closed connection without sending complete message body"),
         errors.APIConnectionError),
        (httpx.ReadError("connection reset by peer"), errors.APIConnectionError),
        (httpx.ReadTimeout("read timed out"), errors.APITimeoutError),
    ],
    ids=["peer-closed", "reset", "read-timeout"],
)  # fmt: skip
async def test_a_body_cut_off_mid_read_is_a_typed_error_naming_the_request(
    twin: Twin,
    clock: VirtualClock,
    raised: httpx.HTTPError,
    error_type: type[errors.APIConnectionError],
) -> None:
    """The status and headers came, then the connection failed while the body was read."""

    def cut(request: httpx.Request) -> httpx.Response:
        def fail() -> None:
            raise raised

        return httpx.Response(200, stream=Streamed(b'{"id": "', fail, b'x"}'))

    client = twin(cut, max_retries=0)
    with pytest.raises(error_type) as caught:
        await client.pause()

    error = caught.value
    assert type(error) is error_type
    assert (error.method, error.url) == ("POST", PAUSE_URL)
    assert error.maybe_applied is True  # it was answered: the server had it
    assert error.__cause__ is raised


async def test_an_answer_the_spec_does_not_document_is_an_unexpected_response(
    twin: Twin, clock: VirtualClock
) -> None:
    server = Server(clock, httpx.Response(202, json={"id": str(SEQUENCE_ID), "is_paused": True}))
    client = twin(server, max_retries=3)
    with pytest.raises(errors.UnexpectedResponseError) as raised:
        await client.pause()

    assert len(server.received) == 1  # not retried: the answer is whole, just undocumented
    assert raised.value.status_code == 202
    error = raised.value
    assert (error.method, error.url, error.snippet) == (
        "POST",
        PAUSE_URL,
        f'{{"id":"{SEQUENCE_ID}","is_paused":true}}',
    )


async def test_a_failed_send_on_a_rate_limited_client_is_the_same_typed_error(
    twin: Twin, clock: VirtualClock
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    shared = limit("100/1s")
    first = twin(handler, rate_limit=shared, max_retries=0)
    other = Server(clock)
    second = twin(other, rate_limit=shared)
    started = clock.now
    with pytest.raises(errors.APIConnectionError) as raised:
        await first.pause()
    await second.pause()

    error = raised.value
    assert (error.method, error.url, error.maybe_applied) == ("POST", PAUSE_URL, False)
    assert other.arrivals[0] - started < 1.0  # a refused connection asks no one to wait


async def test_a_status_without_a_reason_phrase_or_body_still_says_error(
    twin: Twin, clock: VirtualClock
) -> None:
    server = Server(clock, httpx.Response(499))
    client = twin(server)
    with pytest.raises(errors.APIStatusError) as raised:
        await client.pause()
    error = raised.value
    assert (error.method, error.url, error.status_code) == ("POST", PAUSE_URL, 499)
    assert (error.codes, error.message) == ((), "error")


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        (
            httpx.Response(500, content=b"<html>Bad Gateway \xff</html>"),
            "500: Internal Server Error (non-JSON body starts '<html>Bad Gateway \ufffd</html>')",
        ),
        (
            httpx.Response(404, json={"oops": 1}),
            """404: Not Found (body starts '{"oops":1}')""",
        ),
    ],
)
async def test_an_error_body_of_unknown_shape_is_quoted_saying_whether_it_was_json(
    twin: Twin, clock: VirtualClock, answer: httpx.Response, said: str
) -> None:
    server = Server(clock, answer)
    client = twin(server, max_retries=0)
    with pytest.raises(errors.APIStatusError) as raised:
        await client.pause()
    status, _, message = said.partition(": ")
    error = raised.value
    assert (error.method, error.url, error.status_code) == ("POST", PAUSE_URL, int(status))
    assert (error.codes, error.message) == ((), message)


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        (  # Unify: the status and each error's code; Boast-style items carry a message
            vendor_error(422, {
                "status": "invalid",
                "errors": [{"code": "too_long", "message": "name is too long"},
                           {"code": "missing", "detail": "email is missing"}],
            }),
            "422 [invalid, too_long, missing]: name is too long; email is missing",
        ),
        (  # codes are cut to 200 characters, however many the server sends
            vendor_error(422, {
                "message": "refused", "errors": [{"code": f"code{n:06}"} for n in range(40)]
            }),
            "422 [" + ", ".join(f"code{n:06}" for n in range(40))[:200]
            + "… (278 more characters)]: refused",
        ),
    ],
)  # fmt: skip
async def test_the_vendors_codes_and_messages_are_all_in_the_error(
    twin: Twin, clock: VirtualClock, answer: httpx.Response, said: str
) -> None:
    client = twin(Server(clock, answer), max_retries=0)
    with pytest.raises(errors.APIStatusError) as raised:
        await client.pause()
    head, _, message = said.partition("]: ")
    status, _, codes = head.partition(" [")
    error = raised.value
    assert (error.method, error.url, error.status_code) == ("POST", PAUSE_URL, int(status))
    assert errors.bounded(", ".join(error.codes), errors.CODES_LENGTH) == codes
    assert error.message == message


async def test_a_refused_connection_is_a_connection_error_never_sent(
    async_http: AsyncHttp,
) -> None:
    unify = client(async_http(), f"http://127.0.0.1:{free_port()}", max_retries=0)
    with pytest.raises(errors.APIConnectionError) as raised:
        await unify.pause_sequence(SEQUENCE_ID)
    assert type(raised.value) is errors.APIConnectionError
    assert raised.value.maybe_applied is False
    assert raised.value.method == "POST"


@pytest.mark.parametrize("method", ["POST", "GET"])
async def test_a_connection_dropped_after_the_request_may_have_been_applied(
    async_http: AsyncHttp, method: str
) -> None:
    async with serving("close") as server:
        unify = client(async_http(), server.url, max_retries=0)
        call = unify.pause_sequence if method == "POST" else unify.get_sequence
        with pytest.raises(errors.APIConnectionError) as raised:
            await call(SEQUENCE_ID)
    assert type(raised.value) is errors.APIConnectionError  # not a timeout
    assert raised.value.maybe_applied is True
    assert len(server.requests) == 1  # sent once: no resend behind max_retries=0


async def test_a_redirect_is_an_error_and_its_target_never_asked(async_http: AsyncHttp) -> None:
    moved = answer(302, location="/elsewhere")
    async with serving(moved) as server:
        unify = client(async_http(), server.url, max_retries=0)
        with pytest.raises(errors.SequenceClientError) as raised:
            await unify.pause_sequence(SEQUENCE_ID)
    assert getattr(raised.value, "status_code", None) == 302
    assert [line.split()[1] for line in server.requests] == [PAUSE_PATH]


@pytest.mark.parametrize(
    ("raised", "kind", "never_sent"),
    [
        (aiohttp.ServerDisconnectedError(), errors.APIConnectionError, False),
        (aiohttp.ClientOSError(104, "reset"), errors.APIConnectionError, False),
        (aiohttp.ClientPayloadError("cut short"), errors.APIConnectionError, False),
        (aiohttp.ConnectionTimeoutError("connect"), errors.APITimeoutError, True),
        (aiohttp.SocketTimeoutError("read"), errors.APITimeoutError, False),
        (aiohttp.ClientError("other"), errors.APIConnectionError, False),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else str(value),
)
@pytest.mark.parametrize("wrapped", [False, True], ids=["raw", "as httpx-aiohttp maps it"])
def test_each_aiohttp_failure_is_the_typed_error_httpx_would_give(
    raised: Exception, kind: type[errors.APIConnectionError], never_sent: bool, wrapped: bool
) -> None:
    # httpx-aiohttp raises e.g. ConnectTimeout *from* a ServerDisconnectedError: the cause decides.
    failure: Exception = raised
    if wrapped:
        failure = httpx.ConnectTimeout("as mapped upstream")
        failure.__cause__ = raised
    typed = typed_failure(failure)
    typed.request = httpx.Request("POST", "http://127.0.0.1/x")
    error = translate(typed)
    assert type(error) is kind
    assert error.maybe_applied is (not never_sent)


def test_a_connection_error_says_request_kind_and_cause() -> None:
    handle = raising(lambda r: httpx.ConnectError("connection refused", request=r))
    with (
        unify_answering(handle, max_retries=0) as unify,
        pytest.raises(errors.APIConnectionError) as raised,
    ):
        list(unify.list_sequences())
    error = raised.value
    assert (error.method, error.url) == ("GET", f"{SEQUENCES}?limit=100")
    assert error.maybe_applied is False  # never reached Unify


def test_a_connection_error_without_text_names_its_kind_alone() -> None:
    handle = raising(lambda r: httpx.ReadError("", request=r))
    with (
        unify_answering(handle, max_retries=0) as unify,
        pytest.raises(errors.APIConnectionError) as raised,
    ):
        list(unify.list_sequences())
    assert (raised.value.method, raised.value.url) == ("GET", f"{SEQUENCES}?limit=100")
    assert raised.value.maybe_applied is True  # it may have arrived


def test_a_timeout_is_its_own_type_and_may_have_been_applied() -> None:
    handle = raising(lambda r: httpx.ReadTimeout("timed out", request=r))
    with (
        unify_answering(handle, max_retries=0) as unify,
        pytest.raises(errors.APITimeoutError) as raised,
    ):
        list(unify.list_sequences())
    assert str(raised.value).endswith(": ReadTimeout: timed out")
    assert raised.value.maybe_applied is True


def test_an_error_raised_without_its_request_still_names_the_request() -> None:
    """httpx attaches the request to whatever a transport raises inside Client.send."""
    handle = raising(lambda r: httpx.RemoteProtocolError("peer closed"))
    with (
        unify_answering(handle, max_retries=0) as unify,
        pytest.raises(errors.APIConnectionError) as raised,
    ):
        list(unify.list_sequences())
    assert (raised.value.method, raised.value.url) == ("GET", f"{SEQUENCES}?limit=100")


def test_a_body_that_is_not_json_is_quoted_even_when_it_is_not_utf8() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"\xff\xfeOK \xc3")

    with (
        unify_answering(handle, max_retries=0) as unify,
        pytest.raises(errors.UnexpectedResponseError) as raised,
    ):
        list(unify.list_sequences())
    error = raised.value
    assert error.snippet == "\ufffd\ufffdOK \ufffd"
    assert (error.method, error.url, error.status_code) == ("GET", f"{SEQUENCES}?limit=100", 200)
    assert error.maybe_applied is True  # the server answered 200: it did the work


def test_a_body_missing_a_field_says_which_rule_it_broke() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"next_cursor": None})

    with (
        unify_answering(handle, max_retries=0) as unify,
        pytest.raises(errors.UnexpectedResponseError) as raised,
    ):
        list(unify.list_sequences())
    assert str(raised.value).startswith(
        f"GET {SEQUENCES}?limit=100 -> 200: body does not match the API spec (KeyError: 'sequences')"
    )
    assert raised.value.method == "GET"


def test_long_values_in_messages_are_cut_at_100_characters_saying_how_much_is_left() -> None:
    long = "j" * 150
    job = errors.BulkJobError(long, "S" * 101, "E" * 100)
    assert (job.job_id, job.status, job.error_code) == (long, "S" * 101, "E" * 100)
    with pytest.raises(errors.InvalidRequestError) as raised, UnifyClient("key") as unify:
        unify.get_enrollment("x" * 120)
    assert str(raised.value).startswith("enrollment_id ")  # wording: tests/golden/messages.py


def test_a_bulk_job_without_an_error_code_says_nothing_more() -> None:
    job = errors.BulkJobError("j1", "CANCELED", "")
    assert (job.job_id, job.status, job.error_code) == ("j1", "CANCELED", "")


def test_typed_errors_survive_pickling_with_their_fields() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, json={"status": "rate_limited", "message": "slow down"}, headers={"Retry-After": "7"})  # fmt: skip

    http = httpx.Client(transport=httpx.MockTransport(handle))
    with (
        UnifyClient("key", httpx_client=http, max_retries=0) as unify,
        pytest.raises(errors.RateLimitError) as raised,
    ):
        list(unify.list_sequences())
    copy = pickle.loads(pickle.dumps(raised.value))
    assert type(copy) is errors.RateLimitError
    assert str(copy) == str(raised.value)
    assert (copy.status_code, copy.retry_after, copy.message) == (429, 7, "slow down")
    job = pickle.loads(pickle.dumps(errors.BulkJobError("j1", "EXPIRED", None)))
    assert (str(job), job.job_id, job.status, job.error_code) == (
        str(errors.BulkJobError("j1", "EXPIRED", None)),
        "j1",
        "EXPIRED",
        None,
    )


def test_a_bulk_job_errors_text_is_bounded_however_long_the_vendors_words() -> None:
    error = errors.BulkJobError("job-1", "FAILED", "E" * 150)
    assert error.error_code == "E" * 150  # the whole code stays on the error
    assert errors.BulkJobError("job-1", "EXPIRED", None).error_code is None


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://h.example/v1/x?api_key=s3cret&page=2", "https://h.example/v1/x?api_key=REDACTED&page=2"),
        ("https://h.example/v1/x?cursor=&page=2", "https://h.example/v1/x?cursor=&page=2"),
        ("https://h.example/v1/x?access_token=&page=2", "https://h.example/v1/x?access_token=REDACTED&page=2"),
        ("https://h.example/v1/x", "https://h.example/v1/x"),
    ],
)  # fmt: skip
def test_a_url_in_an_error_hides_secret_values_and_keeps_every_other_parameter(
    url: str, shown: str
) -> None:
    assert errors.redact_url(url) == shown
    error = errors.APIConnectionError(
        "refused", method="GET", url=errors.redact_url(url), maybe_applied=False
    )
    assert error.url == shown


def test_an_errors_method_and_url_are_cut_to_their_bounds() -> None:
    # A server's cursor can make a URL of any length; a message stays a line.
    long_url = "https://h.example/" + "p" * 400
    error = errors.APIConnectionError("refused", method="M" * 25, url=long_url, maybe_applied=False)
    assert error.method == "M" * 25
    assert error.url == long_url  # the whole URL stays on the error


def test_vendor_errors_are_typed(sandbox: Sandbox, boast: BoastClient) -> None:
    contacts, _, paused = targets(sandbox)
    with pytest.raises(errors.NotFoundError) as missing:
        boast.get_enrollment(uuid.uuid4())
    assert missing.value.status_code == 404 and "not_found" in missing.value.codes

    with pytest.raises(errors.BadRequestError) as refused:
        boast.enroll(contacts[0], paused)
    assert not isinstance(refused.value, errors.AlreadyEnrolledError)
    assert refused.value.codes == ("sequence_not_active",) and refused.value.message

    with pytest.raises(errors.NotFoundError):  # another account's sequence
        other = sandbox.boast.sequences[sandbox.boast.account_ids[1]][0]["id"]
        boast.enroll(contacts[0], other)


def test_boast_each_fault_surfaces_as_its_typed_error(
    make_sandbox: MakeSandbox, boast_options: BoastOptions, token_store: Any
) -> None:
    sandbox = make_sandbox()
    options = boast_options(sandbox, token_store)
    faults = [
        ({"server_error": 1.0}, errors.ServerError),
        ({"reset_after_commit": 1.0}, errors.APIConnectionError),
        ({"truncated_json": 1.0}, errors.UnexpectedResponseError),
        # Last: a burst outlives the switch to the next fault.
        ({"rate_limit_burst": 1.0, "burst_retry_after": 0}, errors.RateLimitError),
    ]
    with BoastClient(**options) as boast:
        for fault, error_class in faults:
            sandbox.set_faults(FaultConfig(**fault))
            with pytest.raises(error_class) as raised:
                list(boast.list_sequences())
            assert options["access_token"] not in str(raised.value)
            assert "/sequences" in str(raised.value)


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


def test_a_body_nested_past_the_parser_is_a_typed_error() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    body = json.dumps({"status": "success", "data": None})[:-1] + ', "x": ' + deep + "}"
    transport = httpx.MockTransport(
        lambda r: httpx.Response(200, content=body, headers={"content-type": "application/json"})
    )
    with httpx.Client(transport=transport) as http:
        unify = UnifyClient("key", httpx_client=http, max_retries=0)
        with pytest.raises(errors.UnexpectedResponseError):
            unify.get_enrollment(ENROLLMENT_ID_shared_httpx_client)


def test_vendor_errors_are_typed_with_status_code_and_message(
    sandbox: Sandbox, unify: UnifyClient
) -> None:
    sequence_id, people, _ = ids(sandbox)
    with pytest.raises(errors.NotFoundError) as missing:
        unify.get_enrollment(uuid.uuid4())
    assert missing.value.status_code == 404 and "not_found" in missing.value.codes
    assert missing.value.message

    with pytest.raises(
        errors.BadRequestError
    ) as rejected:  # well-formed, but not a sandbox mailbox
        unify.enroll(sequence_id, people[0], mailbox_emails=["stranger@elsewhere.example"])
    assert rejected.value.status_code == 400 and "bad_request" in rejected.value.codes

    stranger = UnifyClient("wrong-key", base_url=sandbox.unify_base_url)
    with stranger, pytest.raises(errors.AuthenticationError) as denied:
        next(iter(stranger.list_sequences()))
    assert denied.value.status_code == 401
    assert "wrong-key" not in str(denied.value) and "wrong-key" not in repr(stranger)


@pytest.mark.parametrize(
    ("fault", "error_class"),
    [
        ({"server_error": 1.0}, errors.ServerError),
        ({"html_502": 1.0}, errors.ServerError),
        ({"truncated_json": 1.0}, errors.UnexpectedResponseError),
        ({"reset_before": 1.0}, errors.APIConnectionError),
        ({"reset_after_commit": 1.0}, errors.APIConnectionError),
        ({"slow": 1.0, "slow_seconds": 1.0}, errors.APITimeoutError),
        ({"rate_limit_burst": 1.0, "burst_retry_after": 0}, errors.RateLimitError),
    ],
)
def test_unify_each_fault_surfaces_as_its_typed_error(
    make_sandbox: MakeSandbox, fault: dict[str, float], error_class: type[Exception]
) -> None:
    sandbox = make_sandbox(faults=fault)
    with (
        UnifyClient(
            sandbox.unify_api_key, base_url=sandbox.unify_base_url, max_retries=0, timeout=0.3
        ) as unify,
        pytest.raises(error_class) as raised,
    ):
        list(unify.list_sequences())
    assert sandbox.unify_api_key not in str(raised.value)
    assert "/sequences/v1/sequences" in str(raised.value)
