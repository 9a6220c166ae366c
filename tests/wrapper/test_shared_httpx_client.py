"""A caller's own httpx client, and answers a parser cannot take: what the user notices."""

from __future__ import annotations

import json

import httpx
import pytest

from sequence_clients import BoastClient, UnifyClient, errors

ENROLLMENT_ID = "00000000-0000-4000-8000-000000000001"


def _recording_client(keys: list[str | None]) -> httpx.Client:
    def answer(request: httpx.Request) -> httpx.Response:
        keys.append(request.headers.get("x-api-key"))
        return httpx.Response(200, json={"status": "success", "sequences": [], "next_cursor": None})

    return httpx.Client(transport=httpx.MockTransport(answer))


@pytest.mark.parametrize("change", [{"api_key": "key-B"}, {"base_url": "https://eu.example"}])
def test_a_copy_cannot_rewire_the_callers_httpx_client(change: dict[str, object]) -> None:
    keys: list[str | None] = []
    with _recording_client(keys) as http:
        original = UnifyClient("key-A", httpx_client=http)
        with pytest.raises(errors.InvalidRequestError, match="httpx_client of its own"):
            original.with_options(**change)  # type: ignore[arg-type]
        list(original.list_sequences())
    assert keys == ["key-A"]


def test_a_copy_with_its_own_httpx_client_leaves_the_original_alone() -> None:
    keys: list[str | None] = []
    with _recording_client(keys) as mine, _recording_client(keys) as theirs:
        original = UnifyClient("key-A", httpx_client=mine)
        copy = original.with_options(api_key="key-B", httpx_client=theirs)
        list(original.list_sequences())
        list(copy.list_sequences())
        patient = original.with_options(max_retries=9, timeout=2.0)  # sent per request
        list(patient.list_sequences())
        assert len(mine.event_hooks["response"]) == 1  # one error hook, not one per client
    assert keys == ["key-A", "key-B", "key-A"]


def test_boast_copy_cannot_swap_the_token_on_a_shared_httpx_client() -> None:
    with httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(500))) as http:
        boast = BoastClient(account_id=ENROLLMENT_ID, access_token="first", httpx_client=http)
        with pytest.raises(errors.InvalidRequestError, match="access_token"):
            boast.with_options(access_token="second")


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
