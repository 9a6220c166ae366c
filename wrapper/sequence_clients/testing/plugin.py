"""pytest plugin of `sequence-clients[testing]` (entry point `pytest11`).

Loading it defines fixtures and nothing else: no sandbox is built, no clock switched and no
server started until a test asks for one of these fixtures.

- `instant_waits`: back-off, Retry-After and rate-limit waits are instant for the test, and
  counted (`instant_waits.waits`). Every sandbox fixture turns it on.
- `sequence_sandbox`: both fakes, seeded with `sequence_clients_seed` (override that fixture
  in your conftest.py), fresh for every test; `sequence_clients_sandbox_options` passes
  SandboxConfig fields (e.g. {"rate_limit": "vendor"}).
- `unify_sandbox`, `boast_sandbox`: the per-vendor views (fail, requests, seed helpers).
- `unify_client`, `async_unify_client`, `boast_client`, `async_boast_client`: ready clients on
  them, in process (no port).
- `served_sandbox`: the same fakes on a loopback port, with UNIFY_* and BOAST_* set in the
  environment for the test, for code that builds its own clients.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # the fixtures import the kit when first used
    from ..boast import AsyncBoastClient, BoastClient
    from ..unify import AsyncUnifyClient, UnifyClient
    from ._instant import InstantClock
    from ._kit import BoastSandbox, SequenceSandbox, ServedSandbox, UnifySandbox


@pytest.fixture
def instant_waits() -> Iterator[InstantClock]:
    from ._instant import set_testing

    with set_testing(True) as clock:
        assert clock is not None
        yield clock


@pytest.fixture
def sequence_clients_seed() -> int:
    """The sandbox seed; override in a conftest.py for other (equally stable) ids."""
    from ._kit import DEFAULT_SEED

    return DEFAULT_SEED


@pytest.fixture
def sequence_clients_sandbox_options() -> dict[str, Any]:
    """SandboxConfig fields for `sequence_sandbox`, besides the seed; override to change."""
    return {}


@pytest.fixture
def sequence_sandbox(
    instant_waits: InstantClock,
    sequence_clients_seed: int,
    sequence_clients_sandbox_options: dict[str, Any],
) -> Iterator[SequenceSandbox]:
    from ._kit import SequenceSandbox

    with SequenceSandbox(sequence_clients_seed, **sequence_clients_sandbox_options) as kit:
        yield kit


@pytest.fixture
def unify_sandbox(sequence_sandbox: SequenceSandbox) -> UnifySandbox:
    return sequence_sandbox.unify


@pytest.fixture
def boast_sandbox(sequence_sandbox: SequenceSandbox) -> BoastSandbox:
    return sequence_sandbox.boast


@pytest.fixture
def unify_client(unify_sandbox: UnifySandbox) -> UnifyClient:
    return unify_sandbox.client()


@pytest.fixture
def async_unify_client(unify_sandbox: UnifySandbox) -> AsyncUnifyClient:
    return unify_sandbox.async_client()


@pytest.fixture
def boast_client(boast_sandbox: BoastSandbox) -> BoastClient:
    return boast_sandbox.client()


@pytest.fixture
def async_boast_client(boast_sandbox: BoastSandbox) -> AsyncBoastClient:
    return boast_sandbox.async_client()


@pytest.fixture
def served_sandbox(
    sequence_sandbox: SequenceSandbox, monkeypatch: pytest.MonkeyPatch
) -> ServedSandbox:
    served = sequence_sandbox.serve()
    for name, value in served.env.items():
        monkeypatch.setenv(name, value)
    return served
