"""Fixtures for wrapper tests: an in-process sandbox on loopback and clients pointed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sequence_clients import UnifyClient
from sequence_clients.sandbox import FaultConfig, Sandbox, SandboxConfig

MakeSandbox = Callable[..., Sandbox]


@pytest.fixture
def make_sandbox() -> Iterator[MakeSandbox]:
    """Build and start a sandbox from SandboxConfig fields; `faults` may be a dict."""
    started: list[Sandbox] = []

    def make(**overrides: Any) -> Sandbox:
        faults = overrides.pop("faults", None)
        if isinstance(faults, dict):
            overrides["faults"] = FaultConfig(**faults)
        sandbox = Sandbox(SandboxConfig(**{"seed": 7, **overrides})).start()
        started.append(sandbox)
        return sandbox

    yield make
    for sandbox in started:
        sandbox.stop()


@pytest.fixture
def sandbox(make_sandbox: MakeSandbox) -> Sandbox:
    return make_sandbox()


@pytest.fixture
def unify(sandbox: Sandbox) -> Iterator[UnifyClient]:
    with UnifyClient(
        sandbox.unify_api_key, base_url=sandbox.unify_base_url, max_retries=0
    ) as client:
        yield client
