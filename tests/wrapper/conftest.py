"""Fixtures for wrapper tests: an in-process sandbox on loopback and clients pointed at it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from twin_harness import ASYNC, SYNC, Twin
from wrapper_helpers import MemoryTokenStore, clock, clock_at_zero, slept, wire  # noqa: F401  (fixtures

from sequence_clients import BoastClient, UnifyClient
from sequence_clients._plan import _retrying_of
from sequence_clients.sandbox import Sandbox


@pytest.fixture(autouse=True)
def fresh_retry_machinery() -> None:
    """Each test builds the tenacity.Retrying of its policies itself: the process-wide cache
    would otherwise hand the second test with an equal policy the first one's, so only the first
    would ever exercise RetryPolicy.retrying (and mutation testing, which runs only the tests
    that reached a function, would judge its mutants by that one test)."""
    _retrying_of.cache_clear()


@pytest.fixture
def unify(sandbox: Sandbox) -> Iterator[UnifyClient]:
    with UnifyClient(
        sandbox.unify_api_key, base_url=sandbox.unify_base_url, max_retries=0
    ) as client:
        yield client


@pytest.fixture
def token_store() -> MemoryTokenStore:
    return MemoryTokenStore()


BoastOptions = Callable[..., dict[str, Any]]


def _boast_options(sandbox: Sandbox, store: MemoryTokenStore, **overrides: Any) -> dict[str, Any]:
    state = sandbox.boast
    pair = state.issue_token()
    return {
        "account_id": state.account_ids[0],
        "access_token": pair.access_token,
        "refresh_token": pair.refresh_token,
        "expires_at": dt.datetime.now(dt.UTC) + dt.timedelta(seconds=pair.expires_in),
        "client_id": state.client_id,
        "client_secret": state.client_secret,
        "token_store": store,
        "base_url": sandbox.boast_base_url,
        "auth_base_url": sandbox.boast_auth_base_url,
        "max_retries": 0,
        **overrides,
    }


@pytest.fixture
def boast_options() -> BoastOptions:
    """`boast_options(sandbox, store, **overrides)`: constructor arguments for a Boast client on
    the sandbox's first account, with a freshly issued token pair and refresh credentials."""
    return _boast_options


@pytest.fixture
def boast(sandbox: Sandbox, token_store: MemoryTokenStore) -> Iterator[BoastClient]:
    with BoastClient(**_boast_options(sandbox, token_store)) as client:
        yield client


# The async clients' HTTP transports: httpx's own and aiohttp's (sequence_clients.AioHttpClient).
# A test taking `async_http` runs once on each; `async_http(**httpx_client_options)` builds an
# httpx.AsyncClient on that transport (closed at teardown) to pass as `httpx_client=`.
AsyncHttp = Callable[..., Any]


@pytest.fixture(params=["httpx", "aiohttp"])
async def async_http(request: pytest.FixtureRequest) -> Any:
    import httpx

    from sequence_clients import AioHttpClient

    kind: type[httpx.AsyncClient] = httpx.AsyncClient if request.param == "httpx" else AioHttpClient
    built: list[httpx.AsyncClient] = []

    def build(**options: Any) -> httpx.AsyncClient:
        built.append(kind(**options))
        return built[-1]

    yield build
    for http in built:
        await http.aclose()


@pytest.fixture(params=[SYNC, ASYNC], ids=lambda twin: twin.name)
def twin(request: pytest.FixtureRequest) -> Twin:
    """The one twin harness (tests/wrapper/twin_harness.py): each test taking it runs on the sync
    client, then on the async one."""
    return request.param  # type: ignore[no-any-return]
