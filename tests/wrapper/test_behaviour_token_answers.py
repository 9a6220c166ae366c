"""What a Boast user meets around OAuth: a client built with half the refresh credentials is
refused with a message saying what is needed; a token answer in the form encoding is read like
the JSON one (lifetime, rotated refresh token, what counts as no token); the authorize URL keeps
the host's path; and error texts stay bounded however long the server's words are."""

from __future__ import annotations

import datetime as dt
import itertools
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from sequence_clients import (
    AsyncBoastClient,
    BoastClient,
    OAuthToken,
    aexchange_code,
    authorization_url,
    errors,
    exchange_code,
)

CLIENT_ID, CLIENT_SECRET = "client-id-abc", "client-secret-xyz"
REDIRECT_URI = "https://example.com/cb"
LIFETIME = 7200  # Boast's documented token lifetime, in seconds
FORM = "application/x-www-form-urlencoded"
PARTIAL_MESSAGE = (
    "refreshing needs refresh_token, client_id, client_secret and token_store together "
    "(Boast rotates refresh tokens, so each new one must be saved)"
)


class Store:
    def __init__(self) -> None:
        self.saved: list[OAuthToken] = []

    def save(self, token: OAuthToken) -> None:
        self.saved.append(token)


RENEWAL = {
    "refresh_token": "refresh-0",
    "client_id": CLIENT_ID,
    "client_secret": CLIENT_SECRET,
    "token_store": Store(),
}
PARTIAL = [
    dict(given)
    for size in range(1, len(RENEWAL))
    for given in itertools.combinations(RENEWAL.items(), size)
]


# Building a client ---------------------------------------------------------------------------


@pytest.mark.parametrize("client_class", [BoastClient, AsyncBoastClient])
@pytest.mark.parametrize("given", PARTIAL, ids=lambda given: "+".join(given))
def test_part_of_the_refresh_credentials_is_refused_saying_all_four_are_needed(
    client_class: type[BoastClient | AsyncBoastClient], given: dict[str, Any]
) -> None:
    with pytest.raises(errors.InvalidRequestError) as raised:
        client_class(access_token="access-0", **given)
    assert str(raised.value) == PARTIAL_MESSAGE
    assert CLIENT_SECRET not in repr(raised.value)


@pytest.mark.parametrize("empty", ["refresh_token", "client_id", "client_secret"])
def test_an_empty_refresh_credential_counts_as_missing(empty: str) -> None:
    with pytest.raises(errors.InvalidRequestError) as raised:
        BoastClient(access_token="access-0", **{**RENEWAL, empty: ""})
    assert str(raised.value) == PARTIAL_MESSAGE


def test_an_empty_credential_alone_is_still_part_of_a_renewal() -> None:
    # An empty string is something given (perhaps an unset environment variable): refused,
    # not taken for "no refresh wanted".
    with pytest.raises(errors.InvalidRequestError, match="refreshing needs"):
        BoastClient(access_token="access-0", client_secret="")


def test_no_refresh_credentials_at_all_is_a_fixed_token_client() -> None:
    with BoastClient(access_token="access-0") as boast:
        assert "can_refresh=False" in repr(boast._auth.keeper)


def test_all_four_make_a_refreshing_client() -> None:
    with BoastClient(access_token="access-0", **RENEWAL) as boast:
        assert "can_refresh=True" in repr(boast._auth.keeper)


@pytest.mark.parametrize("client_class", [BoastClient, AsyncBoastClient])
def test_without_an_access_token_or_a_way_to_get_one_the_client_says_so(
    client_class: type[BoastClient | AsyncBoastClient],
) -> None:
    with pytest.raises(errors.InvalidRequestError) as raised:
        client_class(access_token="")
    assert str(raised.value) == "access_token is required (or the refresh credentials)"


@pytest.mark.parametrize("client_class", [BoastClient, AsyncBoastClient])
def test_an_expiry_without_a_time_zone_is_refused(
    client_class: type[BoastClient | AsyncBoastClient],
) -> None:
    with pytest.raises(errors.InvalidRequestError) as raised:
        client_class(access_token="access-0", expires_at=dt.datetime(2030, 1, 1, 12))
    assert str(raised.value) == "expires_at must be a timezone-aware datetime"


@pytest.fixture
def tokyo_local_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process's local time zone is not UTC (as on many a laptop)."""
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_an_expiry_is_kept_in_utc_whatever_the_local_time_zone(tokyo_local_time: None) -> None:
    paris_summer = dt.timezone(dt.timedelta(hours=2))
    token = OAuthToken("access-0", expires_at=dt.datetime(2030, 6, 1, 14, tzinfo=paris_summer))
    assert token.expires_at == dt.datetime(2030, 6, 1, 12, tzinfo=dt.UTC)
    assert token.expires_at is not None and token.expires_at.utcoffset() == dt.timedelta(0)
    assert token.expires_at.isoformat() == "2030-06-01T12:00:00+00:00"


# Token answers, form-encoded like JSON ------------------------------------------------------


class TokenEndpoint:
    """The OAuth host: answers the code grant with `answer` and keeps the forms it received."""

    def __init__(self, answer: httpx.Response) -> None:
        self.answer = answer
        self.grants: list[dict[str, list[str]]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.grants.append(parse_qs(request.content.decode()))
        answer = self.answer
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)


def form_answer(body: str | bytes, content_type: str = FORM) -> httpx.Response:
    content = body.encode() if isinstance(body, str) else body
    return httpx.Response(200, content=content, headers={"content-type": content_type})


def exchange(answer: httpx.Response) -> OAuthToken:
    http = httpx.Client(transport=httpx.MockTransport(TokenEndpoint(answer)))
    return exchange_code(
        "the-code",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_uri=REDIRECT_URI,
        httpx_client=http,
    )


def reason(error: errors.TokenResponseError) -> str:
    """What the message says is wrong with the answer (the body is never quoted)."""
    head, _, rest = str(error).partition(" -> 200: ")
    assert head == "POST https://app.boast.io/oauth/token"
    said, _, quoted = rest.partition("; body starts ")
    assert quoted == "''"
    return said


def seconds_left(token: OAuthToken) -> float:
    assert token.expires_at is not None
    return (token.expires_at - dt.datetime.now(dt.UTC)).total_seconds()


def test_a_form_encoded_answer_gives_the_same_token_as_json() -> None:
    fields = {"access_token": "access-1", "refresh_token": "refresh-1", "expires_in": "3600"}
    from_form = exchange(form_answer(urlencode({**fields, "token_type": "bearer"})))
    from_json = exchange(httpx.Response(200, json=fields))

    for token in (from_form, from_json):
        assert (token.access_token, token.refresh_token) == ("access-1", "refresh-1")
        assert 3590 < seconds_left(token) <= 3600  # the form's "3600" is a number of seconds
    assert from_form.expires_at is not None and from_json.expires_at is not None
    assert abs((from_form.expires_at - from_json.expires_at).total_seconds()) < 5


@pytest.mark.parametrize(
    ("expires_in", "lifetime"),
    [
        ("60", 60),
        ("90.5", 90.5),
        ("31622400", 366 * 24 * 3600),  # a year and a day: the longest taken as a lifetime
        ("31622401", LIFETIME),  # longer is no lifetime (a timestamp, say)
        ("soon", LIFETIME),
        ("0", LIFETIME),
        ("-30", LIFETIME),
        ("inf", LIFETIME),
        ("nan", LIFETIME),
    ],
)
def test_a_form_answers_expires_in_is_read_as_seconds_or_the_documented_lifetime(
    expires_in: str, lifetime: float
) -> None:
    token = exchange(form_answer(urlencode({"access_token": "a-1", "expires_in": expires_in})))
    assert lifetime - 10 < seconds_left(token) <= lifetime


@pytest.mark.parametrize("expires_in", [True, None, [60], {"seconds": 60}])
def test_a_json_expires_in_that_is_no_number_is_the_documented_lifetime(expires_in: Any) -> None:
    token = exchange(httpx.Response(200, json={"access_token": "a-1", "expires_in": expires_in}))
    assert LIFETIME - 10 < seconds_left(token) <= LIFETIME


def test_a_form_answer_with_only_a_refresh_token_hands_it_back() -> None:
    with pytest.raises(errors.TokenResponseError) as raised:
        exchange(form_answer("refresh_token=refresh-1"))
    error = raised.value
    assert (
        reason(error) == "the token answer has no usable access_token; its refresh_token was kept"
    )
    assert error.token is not None and error.token.refresh_token == "refresh-1"
    assert "refresh-1" not in str(error) + repr(error)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("status=ok", "text/plain"),  # a form, but of no token
        ("access_token=a-1&<html>", "text/html"),  # half a form is no form
        ("Service Unavailable", "text/plain"),
        (b"access_token=\xff\xfe", FORM),  # not UTF-8
        ('["access_token", "a-1"]', "application/json"),  # JSON, but no object
    ],
)
def test_an_answer_that_is_neither_json_nor_a_token_form_says_what_it_was(
    body: str | bytes, content_type: str
) -> None:
    answer = form_answer(body, content_type)
    with pytest.raises(errors.TokenResponseError) as raised:
        exchange(answer)
    error = raised.value
    said = f"the token answer is not JSON ({content_type}, {len(answer.content)} bytes)"
    assert reason(error) == said
    assert error.token is None and "a-1" not in str(error)


def test_an_answer_without_a_content_type_says_so() -> None:
    answer = httpx.Response(200, content=b"Service Unavailable")
    with pytest.raises(errors.TokenResponseError) as raised:
        exchange(answer)
    assert reason(raised.value) == "the token answer is not JSON (no content type, 19 bytes)"


async def test_the_async_exchange_reads_a_form_answer_too() -> None:
    endpoint = TokenEndpoint(form_answer("access_token=access-1&refresh_token=refresh-1"))
    async with httpx.AsyncClient(transport=httpx.MockTransport(endpoint)) as http:
        token = await aexchange_code(
            "the-code",
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            redirect_uri=REDIRECT_URI,
            httpx_client=http,
        )
    assert (token.access_token, token.refresh_token) == ("access-1", "refresh-1")
    assert endpoint.grants[0]["grant_type"] == ["authorization_code"]


@pytest.mark.parametrize(
    ("status", "error_class", "codes_and_message"),
    [
        (503, errors.ServerError, "[temporarily_unavailable]: try again later"),
        (403, errors.PermissionDeniedError, "[access_denied]: try again later"),
        (400, errors.AuthenticationError, (
            "[access_denied]: the token endpoint refused the grant: try again later"
        )),
    ],
)  # fmt: skip
def test_only_a_refused_grant_says_the_grant_was_refused(
    status: int, error_class: type[errors.APIStatusError], codes_and_message: str
) -> None:
    code = "temporarily_unavailable" if status >= 500 else "access_denied"
    body = {"error": code, "error_description": "try again later"}
    with pytest.raises(error_class) as raised:
        exchange(httpx.Response(status, json=body))
    assert type(raised.value) is error_class
    assert (
        str(raised.value)
        == f"POST https://app.boast.io/oauth/token -> {status} {codes_and_message}"
    )


# The authorize URL and error texts ----------------------------------------------------------


def test_the_authorize_url_keeps_the_hosts_path_and_drops_only_its_trailing_slash() -> None:
    url = authorization_url(
        CLIENT_ID, REDIRECT_URI, auth_base_url="https://gateway.example.com/BOX/"
    )
    parts = urlsplit(url)
    assert (parts.netloc, parts.path) == ("gateway.example.com", "/BOX/oauth/authorize")
    assert parse_qs(parts.query)["client_id"] == [CLIENT_ID]


def test_a_bulk_job_errors_text_is_bounded_however_long_the_vendors_words() -> None:
    error = errors.BulkJobError("job-1", "FAILED", "E" * 150)
    assert str(error) == f"bulk job job-1 ended FAILED ({'E' * 100}… (50 more characters))"
    assert error.error_code == "E" * 150  # the whole code stays on the error
    assert str(errors.BulkJobError("job-1", "EXPIRED", None)) == "bulk job job-1 ended EXPIRED"


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
    assert str(error) == f"GET {shown}: refused"


def test_an_errors_method_and_url_are_cut_to_their_bounds() -> None:
    # A server's cursor can make a URL of any length; a message stays a line.
    long_url = "https://h.example/" + "p" * 400
    error = errors.APIConnectionError("refused", method="M" * 25, url=long_url, maybe_applied=False)
    assert str(error) == (
        f"{'M' * 20}… (5 more characters) {long_url[:300]}… (118 more characters): refused"
    )
    assert error.url == long_url  # the whole URL stays on the error
