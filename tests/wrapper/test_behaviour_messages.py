"""What the errors say, word for word, and what they carry: the text a user reads in a log or a
traceback, and the attributes code branches on. Each test pins wording or fields that mutation
testing (`make mutation`) showed no other test held; the messages are the product's interface.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from sequence_clients import (
    BoastClient,
    OAuthToken,
    RetryPolicy,
    UnifyClient,
    aexchange_code,
    authorization_url,
    errors,
    exchange_code,
)

Handler = Callable[[httpx.Request], httpx.Response]
SEQUENCES = "https://api.unifygtm.com/sequences/v1/sequences"
FAST = RetryPolicy(base_delay=0.001, max_delay=0.002)


def unify_answering(handler: Handler, **options: Any) -> UnifyClient:
    http = httpx.Client(transport=httpx.MockTransport(handler))
    return UnifyClient("secret-key-123", httpx_client=http, retry_policy=FAST, **options)


def raising(error: Callable[[httpx.Request], Exception]) -> Handler:
    def handle(request: httpx.Request) -> httpx.Response:
        raise error(request)

    return handle


# --- connection errors --------------------------------------------------------------------


def test_a_connection_error_says_request_kind_and_cause() -> None:
    handle = raising(lambda r: httpx.ConnectError("connection refused", request=r))
    with (
        unify_answering(handle, max_retries=0) as unify,
        pytest.raises(errors.APIConnectionError) as raised,
    ):
        list(unify.list_sequences())
    error = raised.value
    assert str(error) == f"GET {SEQUENCES}?limit=100: ConnectError: connection refused"
    assert (error.method, error.url) == ("GET", f"{SEQUENCES}?limit=100")
    assert error.maybe_applied is False  # never reached Unify


def test_a_connection_error_without_text_names_its_kind_alone() -> None:
    handle = raising(lambda r: httpx.ReadError("", request=r))
    with (
        unify_answering(handle, max_retries=0) as unify,
        pytest.raises(errors.APIConnectionError) as raised,
    ):
        list(unify.list_sequences())
    assert str(raised.value) == f"GET {SEQUENCES}?limit=100: ReadError"
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
    assert str(raised.value) == f"GET {SEQUENCES}?limit=100: RemoteProtocolError: peer closed"


# --- answers that break the spec ----------------------------------------------------------


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
    assert str(error) == (
        f"GET {SEQUENCES}?limit=100 -> 200: body is not valid JSON; body starts '\ufffd\ufffdOK \ufffd'"
    )
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


def test_a_create_answered_with_a_cut_body_is_looked_up_not_made_twice() -> None:
    """A 201 cut short means Boast made the enrollment: the retry must find it, not add one."""
    contact, sequence = str(uuid.uuid4()), str(uuid.uuid4())
    stored: list[dict[str, str]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            stored.append(
                {"id": str(uuid.uuid4()), "contact_id": contact, "sequence_id": sequence, "status": "active",
                 "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"}
            )  # fmt: skip
            return httpx.Response(201, content=json.dumps({"data": stored[-1]}).encode()[:40])
        return httpx.Response(200, json={"data": stored})

    http = httpx.Client(transport=httpx.MockTransport(handle))
    with BoastClient(
        account_id=uuid.uuid4(), access_token="t", httpx_client=http, retry_policy=FAST
    ) as boast:
        found = boast.enroll(contact, sequence)
    assert len(stored) == 1 and str(found.id) == stored[0]["id"]


# --- OAuth --------------------------------------------------------------------------------


def test_a_token_store_failure_says_what_happened_and_where_the_token_is() -> None:
    class BrokenStore:
        def save(self, token: OAuthToken) -> None:
            raise PermissionError("read-only file system")

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            return httpx.Response(
                200, json={"access_token": "a1", "token_type": "Bearer", "refresh_token": "r1"}
            )
        return httpx.Response(200, json={"data": []})

    transport = httpx.MockTransport(handle)
    boast = BoastClient(
        account_id=uuid.uuid4(), access_token="a0", refresh_token="r0",
        expires_at=dt.datetime.now(dt.UTC), client_id="id", client_secret="secret",
        token_store=BrokenStore(), httpx_client=httpx.Client(transport=transport),
        auth_httpx_client=httpx.Client(transport=transport),
    )  # fmt: skip
    with boast, pytest.raises(errors.TokenStoreError) as raised:
        list(boast.list_sequences())
    assert str(raised.value) == (
        "token_store.save() raised PermissionError; the rotated OAuth token was not used. "
        "It is kept on this error as .token and offered to the store again next request"
    )
    assert raised.value.token.refresh_token == "r1"


def test_token_repr_shows_which_tokens_are_present_never_their_value() -> None:
    present = OAuthToken("a-secret", "r-secret")
    absent = OAuthToken("a-secret")
    assert repr(present) == "OAuthToken(access_token='***', refresh_token='***', expires_at=None)"
    assert repr(absent) == "OAuthToken(access_token='***', refresh_token=None, expires_at=None)"


def test_authorization_url_joins_a_base_with_a_trailing_slash() -> None:
    url = authorization_url("cid", "https://app.example/cb", auth_base_url="https://auth.example/")
    assert url.startswith("https://auth.example/oauth/authorize?")
    assert parse_qs(url.split("?", 1)[1])["redirect_uri"] == ["https://app.example/cb"]


GRANT = {"client_id": "cid", "client_secret": "csecret", "redirect_uri": "https://app.example/cb"}


@pytest.mark.parametrize("empty", ["code", "client_id", "client_secret", "redirect_uri"])
def test_exchange_code_refuses_any_missing_part_of_the_grant_before_sending(empty: str) -> None:
    sent: list[httpx.Request] = []
    http = httpx.Client(
        transport=httpx.MockTransport(lambda r: sent.append(r) or httpx.Response(500))
    )
    arguments: dict[str, Any] = {"code": "the-code", **GRANT, empty: ""}
    code = arguments.pop("code")
    with pytest.raises(errors.InvalidRequestError) as raised:
        exchange_code(code, **arguments, httpx_client=http)
    assert str(raised.value) == "code, client_id, client_secret and redirect_uri are required"
    assert sent == []


def token_endpoint(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> httpx.Client:
    return httpx.Client(
        transport=httpx.MockTransport(lambda r: httpx.Response(status, json=body, headers=headers))
    )


@pytest.mark.parametrize("status", [400, 401])
def test_a_refused_code_is_an_authentication_error_keeping_what_the_endpoint_said(
    status: int,
) -> None:
    body = {"error": "invalid_client", "error_description": "Client authentication failed."}
    http = token_endpoint(status, body, {"Retry-After": "3"})
    with pytest.raises(errors.AuthenticationError) as raised:
        exchange_code("c", **GRANT, httpx_client=http)
    error = raised.value
    assert error.status_code == status and error.codes == ("invalid_client",)
    assert error.message == "the token endpoint refused the grant: Client authentication failed."
    assert (error.method, error.url) == ("POST", "https://app.boast.io/oauth/token")
    assert error.body == body and error.retry_after == 3


def test_a_refusal_without_an_oauth_error_names_the_status() -> None:
    with pytest.raises(errors.AuthenticationError) as raised:
        exchange_code("c", **GRANT, httpx_client=token_endpoint(400, {}))
    assert raised.value.message.startswith("the token endpoint refused the grant: Bad Request")


@pytest.mark.parametrize("status", [402, 403, 429])
def test_other_token_endpoint_statuses_keep_their_own_type(status: int) -> None:
    with pytest.raises(errors.APIStatusError) as raised:
        exchange_code("c", **GRANT, httpx_client=token_endpoint(status, {}))
    assert raised.value.status_code == status
    assert not isinstance(raised.value, errors.AuthenticationError)


def test_exchange_code_applies_the_timeout_it_is_given() -> None:
    sent: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"access_token": "a", "token_type": "Bearer"})

    exchange_code(
        "c", **GRANT, timeout=2.5, httpx_client=httpx.Client(transport=httpx.MockTransport(handle))
    )
    assert sent[0].extensions["timeout"]["read"] == 2.5


async def test_aexchange_code_applies_the_timeout_it_is_given() -> None:
    sent: list[httpx.Request] = []

    async def handle(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"access_token": "a", "token_type": "Bearer"})

    http = httpx.AsyncClient(transport=httpx.MockTransport(handle))
    await aexchange_code("c", **GRANT, timeout=2.5, httpx_client=http)
    assert sent[0].extensions["timeout"]["read"] == 2.5
    await http.aclose()


# --- long values are cut, not dropped -----------------------------------------------------


def test_long_values_in_messages_are_cut_at_100_characters_saying_how_much_is_left() -> None:
    long = "j" * 150
    job = errors.BulkJobError(long, "S" * 101, "E" * 100)
    assert str(job) == (
        f"bulk job {'j' * 100}… (50 more characters) ended {'S' * 100}… (1 more characters) "
        f"({'E' * 100})"
    )
    with pytest.raises(errors.InvalidRequestError) as raised, UnifyClient("key") as unify:
        unify.get_enrollment("x" * 120)
    shown = repr("x" * 120)
    assert (
        str(raised.value)
        == f"enrollment_id must be a UUID, got {shown[:100]}… (22 more characters)"
    )


def test_a_bulk_job_without_an_error_code_says_nothing_more() -> None:
    assert str(errors.BulkJobError("j1", "CANCELED", "")) == "bulk job j1 ended CANCELED"


def test_a_list_that_pages_in_circles_stops_and_says_why() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"sequences": [], "next_cursor": "same"})

    with unify_answering(handle) as unify, pytest.raises(errors.PaginationError) as raised:
        list(unify.list_sequences())
    error = raised.value
    assert error.reason and error.reason in str(error)
    assert str(error).startswith(f"pagination stopped after {error.pages} pages: ")


# --- odd token answers --------------------------------------------------------------------


def token_answer(content: bytes, content_type: str) -> httpx.Client:
    answer = httpx.Response(200, content=content, headers={"content-type": content_type})
    return httpx.Client(transport=httpx.MockTransport(lambda request: answer))


def test_a_form_encoded_token_answer_is_read() -> None:
    body = b"access_token=a1&token_type=bearer&refresh_token=r1&expires_in=60"
    token = exchange_code(
        "c", **GRANT, httpx_client=token_answer(body, "application/x-www-form-urlencoded")
    )
    assert (token.access_token, token.refresh_token) == ("a1", "r1")


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (
            b"<html>Oops</html>",
            "text/html; charset=utf-8",
            "the token answer is not JSON (text/html, 17 bytes)",
        ),
        (b"status=ok", "text/plain", "the token answer is not JSON (text/plain, 9 bytes)"),
        (
            b"access_token=a1&junk",
            "application/x-www-form-urlencoded",
            "the token answer is not JSON",
        ),
        (b"{}", "application/json", "the token answer has no "),
    ],
)
def test_a_200_that_is_no_token_is_a_token_response_error(
    body: bytes, content_type: str, reason: str
) -> None:
    with pytest.raises(errors.TokenResponseError) as raised:
        exchange_code("c", **GRANT, httpx_client=token_answer(body, content_type))
    assert f": {reason}" in str(raised.value)
    assert raised.value.maybe_applied is False  # retrying the same grant cannot help
    assert raised.value.token is None


def test_a_200_without_content_type_says_so() -> None:
    answer = httpx.Response(200, content=b"nope")
    http = httpx.Client(transport=httpx.MockTransport(lambda request: answer))
    with pytest.raises(errors.TokenResponseError, match=r"not JSON \(no content type, 4 bytes\)"):
        exchange_code("c", **GRANT, httpx_client=http)


@pytest.mark.parametrize(
    ("expires_in", "lifetime"),
    [(1, 1), (366 * 24 * 3600, 366 * 24 * 3600), (0, 7200), (366 * 24 * 3600 + 1, 7200)],
)
def test_token_lifetimes_from_one_second_to_a_year_are_believed(
    expires_in: int, lifetime: int
) -> None:
    body = json.dumps(
        {"access_token": "a", "token_type": "Bearer", "expires_in": expires_in}
    ).encode()
    before = dt.datetime.now(dt.UTC)
    token = exchange_code("c", **GRANT, httpx_client=token_answer(body, "application/json"))
    assert token.expires_at is not None
    assert abs((token.expires_at - before).total_seconds() - lifetime) < 5


def test_a_200_with_only_a_refresh_token_keeps_it_for_the_next_refresh() -> None:
    body = json.dumps({"refresh_token": "r9", "token_type": "Bearer"}).encode()
    before = dt.datetime.now(dt.UTC)
    with pytest.raises(errors.TokenResponseError) as raised:
        exchange_code("c", **GRANT, httpx_client=token_answer(body, "application/json"))
    error = raised.value
    assert str(error).endswith("; its refresh_token was kept; body starts ''")
    kept = error.token
    assert isinstance(kept, OAuthToken)
    assert (kept.access_token, kept.refresh_token) == ("", "r9")
    assert kept.expires_at is not None and before <= kept.expires_at <= dt.datetime.now(dt.UTC)
    assert (error.status_code, error.truncated) == (200, False)


@pytest.mark.parametrize("asynchronous", [False, True])
def test_a_token_endpoint_out_of_reach_is_a_typed_connection_error(asynchronous: bool) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(errors.APIConnectionError) as raised:
        if asynchronous:

            async def exchange() -> OAuthToken:
                async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as http:
                    return await aexchange_code("c", **GRANT, httpx_client=http)

            asyncio.run(exchange())
        else:
            exchange_code(
                "c", **GRANT, httpx_client=httpx.Client(transport=httpx.MockTransport(refuse))
            )
    assert (
        str(raised.value)
        == "POST https://app.boast.io/oauth/token: ConnectError: connection refused"
    )


async def test_aexchange_code_allows_plain_http_when_asked() -> None:
    async def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"access_token": "a", "token_type": "Bearer"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handle)) as http:
        token = await aexchange_code(
            "c",
            **GRANT,
            auth_base_url="http://auth.internal",
            allow_insecure_http=True,
            httpx_client=http,
        )
    assert token.access_token == "a"
