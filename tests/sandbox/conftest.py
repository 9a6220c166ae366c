"""Fixtures running the sandbox on a real loopback port.

`sandbox` is a default sandbox; `make_sandbox(**config)` builds one from SandboxConfig fields
(`faults` may be a dict of FaultConfig fields). Both stop the server at teardown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sequence_clients.sandbox import FaultConfig, Sandbox, SandboxConfig

MakeSandbox = Callable[..., Sandbox]


@pytest.fixture
def make_sandbox() -> Iterator[MakeSandbox]:
    started: list[Sandbox] = []

    def make(**overrides: Any) -> Sandbox:
        faults = overrides.get("faults")
        if isinstance(faults, dict):
            overrides["faults"] = FaultConfig(**faults)
        sb = Sandbox(SandboxConfig(**overrides)).start()
        started.append(sb)
        return sb

    yield make
    for sb in started:
        sb.stop()


@pytest.fixture
def sandbox(make_sandbox: MakeSandbox) -> Sandbox:
    return make_sandbox()
