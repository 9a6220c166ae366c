"""A caller's own httpx client, and answers a parser cannot take: what the user notices."""

from __future__ import annotations

import json

import httpx
import pytest

from sequence_clients import BoastClient, UnifyClient, errors
from sequence_clients.unify import UNIFY_BASE_URL

ENROLLMENT_ID = "00000000-0000-4000-8000-000000000001"


def _recording_client(keys: list[str | None]) -> httpx.Client:
    def answer(request: httpx.Request) -> httpx.Response:
        keys.append(request.headers.get("x-api-key"))
        return httpx.Response(200, json={"status": "success", "sequences": [], "next_cursor": None})

    return httpx.Client(transport=httpx.MockTransport(answer))


def _callers_own_client(keys: list[str | None], hooked: list[str]) -> httpx.Client:
    """An httpx client with settings of its own: base URL, a header, auth, an event hook."""
    http = _recording_client(keys)
    http.base_url = httpx.URL("https://callers-own.example/api/")
    http.headers["x-callers-header"] = "theirs"
    http.auth = httpx.BasicAuth("caller", "pass")
    http.event_hooks = {"request": [], "response": [lambda r: hooked.append(r.url.host)]}
    return http


def _settings_of(http: httpx.Client) -> tuple[object, ...]:
    return (
        str(http.base_url), dict(http.headers), http.auth, http.timeout,
        {name: list(hooks) for name, hooks in http.event_hooks.items()},
    )  # fmt: skip


@pytest.mark.parametrize("change", [{"api_key": "key-B"}, {"base_url": "https://eu.example"}])
def test_a_copy_changes_its_own_requests_not_the_callers_httpx_client(
    change: dict[str, object],
) -> None:
    keys: list[str | None] = []
    hooked: list[str] = []
    with _callers_own_client(keys, hooked) as http:
        before = _settings_of(http)
        original = UnifyClient("key-A", httpx_client=http)
        copy = original.with_options(**change)  # type: ignore[arg-type]
        list(copy.list_sequences())
        list(original.list_sequences())
        assert _settings_of(http) == before
    assert keys == [change.get("api_key", "key-A"), "key-A"]
    assert hooked == [
        httpx.URL(str(change.get("base_url", UNIFY_BASE_URL))).host,
        "api.unifygtm.com",
    ]


def test_the_callers_httpx_client_keeps_its_settings_after_use_by_both_vendors() -> None:
    keys: list[str | None] = []
    hooked: list[str] = []
    with _callers_own_client(keys, hooked) as http:
        before = _settings_of(http)
        list(UnifyClient("key-A", httpx_client=http, timeout=2.0).list_sequences())
        boast = BoastClient(account_id=ENROLLMENT_ID, access_token="first", httpx_client=http)
        with pytest.raises(errors.UnexpectedResponseError):  # the recorder answers Unify's shape
            boast.get_account()
        assert _settings_of(http) == before
        assert http.auth is before[2] and not http.is_closed
    assert hooked == ["api.unifygtm.com", "api.boast.io"]  # the caller's hook saw both


def test_a_copy_with_its_own_httpx_client_leaves_the_original_alone() -> None:
    keys: list[str | None] = []
    with _recording_client(keys) as mine, _recording_client(keys) as theirs:
        original = UnifyClient("key-A", httpx_client=mine)
        copy = original.with_options(api_key="key-B", httpx_client=theirs)
        list(original.list_sequences())
        list(copy.list_sequences())
        patient = original.with_options(max_retries=9, timeout=2.0)  # sent per request
        list(patient.list_sequences())
        assert mine.event_hooks == {"request": [], "response": []}  # none of ours added
    assert keys == ["key-A", "key-B", "key-A"]


def test_boast_copy_with_another_token_on_a_shared_httpx_client_sends_its_own() -> None:
    sent: list[str | None] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request.headers.get("authorization"))
        return httpx.Response(500)

    with httpx.Client(transport=httpx.MockTransport(answer)) as http:
        boast = BoastClient(
            account_id=ENROLLMENT_ID, access_token="first", httpx_client=http, max_retries=0
        )
        copy = boast.with_options(access_token="second")
        for client in (copy, boast):
            with pytest.raises(errors.ServerError):
                client.get_account()
    assert sent == ["Bearer second", "Bearer first"]


def test_a_body_nested_past_the_parser_is_a_typed_error() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    body = json.dumps({"status": "success", "data": None})[:-1] + ', "x": ' + deep + "}"
    transport = httpx.MockTransport(
        lambda r: httpx.Response(200, content=body, headers={"content-type": "application/json"})
    )
    with httpx.Client(transport=transport) as http:
        unify = UnifyClient("key", httpx_client=http, max_retries=0)
        with pytest.raises(errors.UnexpectedResponseError):
            unify.get_enrollment(ENROLLMENT_ID)


@pytest.mark.parametrize("when", ["2026-01-01", 1767225600, object()])
def test_updated_after_that_is_not_a_datetime_is_refused_by_name(when: object) -> None:
    with (
        UnifyClient("key") as unify,
        pytest.raises(errors.InvalidRequestError, match="updated_after"),
    ):
        unify.list_enrollments(updated_after=when)  # type: ignore[arg-type]
