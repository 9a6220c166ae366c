"""What an operator sees of the Boast token flow: a refresh is an event on the attempt that
needed it (one log line, counted), the token request its own CLIENT span inside that attempt, a
wait for another refresher and a revoked grant are events too — and none of it holds a secret.
Driven against the in-process sandbox, read back with the SDK's in-memory exporter."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import otel_capture
import pytest
from boast_grant import grant_options
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind

from sequence_clients import AsyncBoastClient, BoastClient, OAuthToken, _telemetry, errors, oauth
from sequence_clients.sandbox import Sandbox

LONG_AGO = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
REFRESHES = "sequence_clients.token.refreshes"
TOKEN_EVENTS = (_telemetry.TOKEN_REFRESH, _telemetry.TOKEN_WAIT, _telemetry.TOKEN_REVOKED)


class Store:
    """A save-only token store; `hold` makes `save` wait until released (a slow store)."""

    def __init__(self) -> None:
        self.saved: list[OAuthToken] = []
        self.saving = threading.Event()
        self.hold: threading.Event | None = None

    def save(self, token: OAuthToken) -> None:
        self.saving.set()
        if self.hold is not None:
            assert self.hold.wait(10)
        self.saved.append(token)


class SlowLockStore(Store):
    """A shared store (nothing stored yet) whose lock takes `delay` seconds to get, as when
    another process holds it."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay

    def load(self) -> OAuthToken | None:
        return None

    @contextlib.contextmanager
    def lock(self, timeout: float) -> Iterator[None]:
        time.sleep(self.delay)
        yield

    @contextlib.asynccontextmanager
    async def alock(self, timeout: float) -> AsyncIterator[None]:
        time.sleep(self.delay)  # the event loop is not what is measured here
        yield


@pytest.fixture
def capture() -> tuple[Any, Any]:
    return otel_capture.installed()


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="sequence_clients")
    return caplog


def client(sandbox: Sandbox, store: Store, token: OAuthToken) -> BoastClient:
    return BoastClient(**grant_options(sandbox, store, token, max_retries=0))


def issued(sandbox: Sandbox, *, expires_at: dt.datetime | None = LONG_AGO) -> OAuthToken:
    pair = sandbox.boast.issue_token()
    return OAuthToken(pair.access_token, pair.refresh_token, expires_at)


def refreshes(reader: Any) -> float:
    return sum(p.value for p in otel_capture.points(reader).get(REFRESHES, []))


def events(span: ReadableSpan, name: str) -> list[dict[str, Any]]:
    return [dict(e.attributes or {}) for e in span.events if e.name == name]


def token_lines(caplog: pytest.LogCaptureFixture, name: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if vars(r).get("event") == name]


def spans_of(exporter: Any) -> tuple[ReadableSpan, list[ReadableSpan], list[ReadableSpan]]:
    """The call span, the call's attempts, and the token requests."""
    spans = exporter.get_finished_spans()
    (call,) = [s for s in spans if s.kind == SpanKind.INTERNAL]
    clients = [s for s in spans if s.kind == SpanKind.CLIENT]
    tokens = [s for s in clients if dict(s.attributes or {}).get("url.template") == "/oauth/token"]
    return call, [s for s in clients if s not in tokens], tokens


def secrets_of(*tokens: OAuthToken | None) -> list[str]:
    return [t for token in tokens if token for t in (token.access_token, token.refresh_token) if t]


def assert_no_secret(exporter: Any, reader: Any, secrets: list[str]) -> None:
    texts = list(otel_capture.texts(exporter.get_finished_spans(), reader))
    assert texts and secrets
    assert not [t for t in texts for s in secrets if s in t]


def test_an_expiring_token_is_refreshed_inside_the_call_that_needed_it(
    sandbox: Sandbox, capture: tuple[Any, Any], logs: pytest.LogCaptureFixture
) -> None:
    exporter, reader = capture
    before = refreshes(reader)
    store, old = Store(), issued(sandbox)
    with client(sandbox, store, old) as boast:
        boast.get_account()

    call, attempts, token_requests = spans_of(exporter)
    (attempt,) = attempts
    (refresh,) = events(attempt, _telemetry.TOKEN_REFRESH)
    assert refresh["reason"] == "expiring" and refresh["refresh_try"] == 1
    assert refresh["shared_store"] is False
    assert refreshes(reader) - before == len(store.saved) == 1
    # The token request is a CLIENT span of its own, inside the attempt it was made for.
    (token_request,) = token_requests
    attributes = dict(token_request.attributes or {})
    assert token_request.parent is not None
    assert token_request.parent.span_id == attempt.context.span_id
    assert attributes["http.request.method"] == "POST"
    assert str(attributes["url.full"]).startswith(sandbox.boast_auth_base_url)
    assert attributes["http.response.status_code"] == 200
    assert attempt.parent is not None and attempt.parent.span_id == call.context.span_id
    # One log line for the decision, nothing else from the token flow.
    (line,) = token_lines(logs, _telemetry.TOKEN_REFRESH)
    assert line.levelno == logging.INFO and vars(line)["reason"] == "expiring"
    assert sum(len(token_lines(logs, name)) for name in TOKEN_EVENTS) == 1
    assert_no_secret(exporter, reader, secrets_of(old, *store.saved))


async def test_the_async_twin_reports_the_refresh_the_same_way(
    sandbox: Sandbox, capture: tuple[Any, Any], logs: pytest.LogCaptureFixture
) -> None:
    exporter, reader = capture
    before = refreshes(reader)
    store, old = Store(), issued(sandbox)
    async with AsyncBoastClient(**grant_options(sandbox, store, old, max_retries=0)) as boast:
        await boast.get_account()
    _, (attempt,), (token_request,) = spans_of(exporter)
    assert [e["reason"] for e in events(attempt, _telemetry.TOKEN_REFRESH)] == ["expiring"]
    assert token_request.parent is not None
    assert token_request.parent.span_id == attempt.context.span_id
    assert refreshes(reader) - before == len(store.saved) == 1
    assert len(token_lines(logs, _telemetry.TOKEN_REFRESH)) == 1
    assert_no_secret(exporter, reader, secrets_of(old, *store.saved))


def test_a_refused_token_is_refreshed_and_the_refusal_named(
    sandbox: Sandbox, capture: tuple[Any, Any], logs: pytest.LogCaptureFixture
) -> None:
    exporter, reader = capture
    before = refreshes(reader)
    real = issued(sandbox)
    # Not expired by the clock, but unknown to Boast: a 401, then a refresh and a replay.
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    store = Store()
    with client(sandbox, store, OAuthToken("unknown-to-boast", real.refresh_token, later)) as boast:
        boast.get_account()
    _, (attempt,), (token_request,) = spans_of(exporter)
    (refresh,) = events(attempt, _telemetry.TOKEN_REFRESH)
    assert refresh["reason"] == "refused"
    assert refreshes(reader) - before == 1
    assert dict(token_request.attributes or {})["http.response.status_code"] == 200
    assert_no_secret(exporter, reader, secrets_of(real, *store.saved))


def test_a_revoked_grant_is_a_warning_event_and_the_call_gives_up(
    sandbox: Sandbox, capture: tuple[Any, Any], logs: pytest.LogCaptureFixture
) -> None:
    exporter, reader = capture
    old = issued(sandbox)
    # The sandbox's reuse detection: presenting a used refresh token revokes the grant.
    with client(sandbox, Store(), old) as first:
        first.get_account()
    exporter.clear()
    with client(sandbox, Store(), old) as second, pytest.raises(errors.GrantRevokedError):
        second.get_account()
    call, (attempt,), (token_request,) = spans_of(exporter)
    assert [e["refresh_try"] for e in events(attempt, _telemetry.TOKEN_REFRESH)] == [1]
    (revoked,) = events(attempt, _telemetry.TOKEN_REVOKED)
    assert revoked["has_refresh_token"] is True
    assert dict(token_request.attributes or {})["http.response.status_code"] == 400
    assert dict(token_request.attributes or {})["error.type"] == "400"
    assert events(call, _telemetry.GAVE_UP)
    (line,) = token_lines(logs, _telemetry.TOKEN_REVOKED)
    assert line.levelno == logging.WARNING
    assert_no_secret(exporter, reader, secrets_of(old))


def test_waiting_for_another_threads_refresh_is_an_event_and_one_refresh(
    sandbox: Sandbox, capture: tuple[Any, Any], logs: pytest.LogCaptureFixture
) -> None:
    exporter, reader = capture
    before = refreshes(reader)
    store, old = Store(), issued(sandbox)
    store.hold = threading.Event()
    errors_seen: list[BaseException] = []

    def run(boast: BoastClient) -> None:
        try:
            boast.get_account()
        except BaseException as error:  # reported by the assertion below
            errors_seen.append(error)

    with client(sandbox, store, old) as first, client(sandbox, store, old) as second:
        refresher = threading.Thread(target=run, args=(first,))
        refresher.start()
        assert store.saving.wait(10)  # the first holds the grant's lock, saving
        waiter = threading.Thread(target=run, args=(second,))
        waiter.start()
        deadline = time.monotonic() + 10
        while not token_lines(logs, _telemetry.TOKEN_WAIT) and time.monotonic() < deadline:
            time.sleep(0.01)
        store.hold.set()
        refresher.join(10)
        waiter.join(10)
    assert not errors_seen
    assert refreshes(reader) - before == len(store.saved) == 1
    spans = exporter.get_finished_spans()
    waits = [e for s in spans for e in events(s, _telemetry.TOKEN_WAIT)]
    assert [w["holder"] for w in waits] == ["thread"]
    assert len(token_lines(logs, _telemetry.TOKEN_WAIT)) == 1
    assert_no_secret(exporter, reader, secrets_of(old, *store.saved))


@pytest.mark.parametrize("delay", [0.0, 0.12])
def test_a_long_wait_for_the_store_lock_is_an_event(
    sandbox: Sandbox, capture: tuple[Any, Any], logs: pytest.LogCaptureFixture, delay: float
) -> None:
    exporter, reader = capture
    store, old = SlowLockStore(delay), issued(sandbox)
    with client(sandbox, store, old) as boast:
        boast.get_account()
    _, (attempt,), _ = spans_of(exporter)
    waits = events(attempt, _telemetry.TOKEN_WAIT)
    told = delay >= oauth._STORE_WAIT_WORTH_TELLING
    assert [w["holder"] for w in waits] == (["token_store"] if told else [])
    assert all(w["seconds"] >= delay for w in waits)
    assert len(token_lines(logs, _telemetry.TOKEN_WAIT)) == len(waits)
    (refresh,) = events(attempt, _telemetry.TOKEN_REFRESH)
    assert refresh["shared_store"] is True
    assert_no_secret(exporter, reader, secrets_of(old, *store.saved))


def token_request_seconds(caplog: pytest.LogCaptureFixture) -> list[float]:
    """The durations the token requests' attempt records tell (DEBUG lines)."""
    return [
        vars(r)["seconds"]
        for r in token_lines(caplog, _telemetry.ATTEMPT)
        if "/oauth/token" in str(vars(r)["url"])
    ]


def unreachable_token_endpoint(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def test_a_token_endpoint_out_of_reach_is_a_failed_token_request(
    sandbox: Sandbox, capture: tuple[Any, Any], caplog: pytest.LogCaptureFixture
) -> None:
    exporter, _ = capture
    caplog.set_level(logging.DEBUG, logger="sequence_clients")
    transport = httpx.MockTransport(unreachable_token_endpoint)
    options = grant_options(sandbox, Store(), issued(sandbox), max_retries=0)
    with (
        BoastClient(**options, auth_httpx_client=httpx.Client(transport=transport)) as boast,
        pytest.raises(errors.APIConnectionError),
    ):
        boast.get_account()
    _, _, (token_request,) = spans_of(exporter)
    attributes = dict(token_request.attributes or {})
    assert attributes["error.type"] == "APIConnectionError"
    assert "http.response.status_code" not in attributes
    (seconds,) = token_request_seconds(caplog)
    assert 0 <= seconds < 10  # the request's own time, not the clock's reading


async def test_the_async_twin_reports_a_token_endpoint_out_of_reach(
    sandbox: Sandbox, capture: tuple[Any, Any], caplog: pytest.LogCaptureFixture
) -> None:
    exporter, _ = capture
    caplog.set_level(logging.DEBUG, logger="sequence_clients")
    transport = httpx.MockTransport(unreachable_token_endpoint)
    options = grant_options(sandbox, Store(), issued(sandbox), max_retries=0)
    async with AsyncBoastClient(
        **options, auth_httpx_client=httpx.AsyncClient(transport=transport)
    ) as boast:
        with pytest.raises(errors.APIConnectionError):
            await boast.get_account()
    _, _, (token_request,) = spans_of(exporter)
    assert dict(token_request.attributes or {})["error.type"] == "APIConnectionError"
    (seconds,) = token_request_seconds(caplog)
    assert 0 <= seconds < 10


def test_an_answered_token_request_tells_its_own_duration(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="sequence_clients")
    with client(sandbox, Store(), issued(sandbox)) as boast:
        boast.get_account()
    (seconds,) = token_request_seconds(caplog)
    assert 0 <= seconds < 10


async def test_the_async_twin_tells_the_token_request_s_duration(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="sequence_clients")
    options = grant_options(sandbox, Store(), issued(sandbox), max_retries=0)
    async with AsyncBoastClient(**options) as boast:
        await boast.get_account()
    (seconds,) = token_request_seconds(caplog)
    assert 0 <= seconds < 10


@pytest.mark.parametrize("delay", [0.0, 0.12])
async def test_the_async_twin_tells_a_long_wait_for_the_store_lock(
    sandbox: Sandbox, capture: tuple[Any, Any], delay: float
) -> None:
    exporter, _ = capture
    store, old = SlowLockStore(delay), issued(sandbox)
    async with AsyncBoastClient(**grant_options(sandbox, store, old, max_retries=0)) as boast:
        await boast.get_account()
    _, (attempt,), _ = spans_of(exporter)
    waits = events(attempt, _telemetry.TOKEN_WAIT)
    told = delay >= oauth._STORE_WAIT_WORTH_TELLING
    assert [w["holder"] for w in waits] == (["token_store"] if told else [])
    assert all(delay <= w["seconds"] < delay + 10 for w in waits)
