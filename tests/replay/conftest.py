"""Fixtures for cassette-backed tests: one code path for recording and replaying.

- `--record-mode=none` (CI): no sandbox, no network; clients point at the vendors' canonical
  https URLs and vcr answers from tests/cassettes. Ids the test needs come from the
  cassette's metadata, written when it was recorded.
- `--record-mode=rewrite` (`make record`): a fresh seeded in-process sandbox per test, with a
  fixed clock, so recording twice gives byte-identical cassettes.
- `SEQUENCE_CLIENTS_LIVE=unify|boast` with a record mode (`make record-live`): the real vendor,
  credentials and ids from the environment; sandbox-only tests (faults) are skipped.

Retry waits never really sleep here except live: `sleeps` collects what would have been slept.
"""

from __future__ import annotations

import os
import random
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
import replay_support as rs
from replay_support import Session

from sequence_clients import _clock
from sequence_clients.sandbox import Sandbox, SandboxConfig

DEFAULT_SEED = 7
# 2027-01-15. The recording sandbox's clock starts here and moves only by what the client would
# have slept (`sleeps`): a query job's seconds pass as the client polls, and the same test
# gives the same timestamps on every recording, as a wall clock would not.
FIXED_CLOCK = 1_800_000_000.0


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sandbox_seed(n): record this test with sandbox seed n")


@pytest.fixture
def live_vendor() -> str | None:
    return os.environ.get(rs.LIVE_ENV) or None


@pytest.fixture
def session(
    request: pytest.FixtureRequest, vcr: Any, live_vendor: str | None, sleeps: list[float]
) -> Iterator[Session]:
    recording = request.config.getoption("--record-mode") not in (None, "none")
    sandbox: Sandbox | None = None
    if recording and live_vendor is None:
        marker = request.node.get_closest_marker("sandbox_seed")
        seed = marker.args[0] if marker else DEFAULT_SEED
        # Retry waits are jittered with `random`; seeded per test, the waits (and the clock
        # that follows them) repeat on every recording.
        random.seed(f"record/{request.node.nodeid}")

        def clock() -> float:
            return FIXED_CLOCK + sum(sleeps)

        sandbox = Sandbox(SandboxConfig(seed=seed, clock=clock)).start()
    try:
        yield Session(recording=recording, live=live_vendor, sandbox=sandbox, cassette=vcr)
    finally:
        if sandbox is not None:
            sandbox.stop(wait=False)


@pytest.fixture(autouse=True)
def sleeps(monkeypatch: pytest.MonkeyPatch, live_vendor: str | None) -> list[float]:
    """Retry and poll waits, recorded instead of slept (a real vendor gets real waits)."""
    slept: list[float] = []
    if live_vendor is not None:
        return slept

    async def asleep(seconds: float) -> None:
        slept.append(seconds)

    # The request path sleeps and reads a call's deadline on `_clock.current()`: here a clock
    # that moves only by the waits recorded.
    clock = rs.Namespace(sleep=slept.append, asleep=asleep, monotonic=lambda: sum(slept))
    monkeypatch.setattr(_clock, "_current", clock)
    return slept


@pytest.fixture
def unify_env(session: Session) -> rs.UnifyEnv:
    return rs.unify_env(session)


def _closing_factory(build: Callable[..., Any]) -> Iterator[Callable[..., Any]]:
    """A fixture body: yields `build`, closing every client it made at teardown."""
    made: list[Any] = []

    def make(**options: Any) -> Any:
        made.append(build(**options))
        return made[-1]

    yield make
    for client in made:
        client.close()


async def _aclosing_factory(build: Callable[..., Any]) -> AsyncIterator[Callable[..., Any]]:
    made: list[Any] = []

    def make(**options: Any) -> Any:
        made.append(build(**options))
        return made[-1]

    yield make
    for client in made:
        await client.close()


@pytest.fixture
def make_unify(session: Session, unify_env: rs.UnifyEnv) -> Iterator[Callable[..., Any]]:
    """UnifyClient factory pointed at the sandbox or the canonical URL; closes at teardown."""
    yield from _closing_factory(lambda **options: rs.unify_client(unify_env, **options))


@pytest.fixture
async def make_async_unify(
    session: Session, unify_env: rs.UnifyEnv
) -> AsyncIterator[Callable[..., Any]]:
    async for make in _aclosing_factory(
        lambda **options: rs.async_unify_client(unify_env, **options)
    ):
        yield make


@pytest.fixture
def boast_env(session: Session) -> rs.BoastEnv:
    return rs.boast_env(session)


@pytest.fixture
def make_boast(session: Session, boast_env: rs.BoastEnv) -> Iterator[Callable[..., Any]]:
    """BoastClient factory (first request refreshes an expired token); closes at teardown."""
    yield from _closing_factory(lambda **options: rs.boast_client(boast_env, **options))


@pytest.fixture
async def make_async_boast(
    session: Session, boast_env: rs.BoastEnv
) -> AsyncIterator[Callable[..., Any]]:
    async for make in _aclosing_factory(
        lambda **options: rs.async_boast_client(boast_env, **options)
    ):
        yield make
