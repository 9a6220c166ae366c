"""Fixtures running the sandbox on a real loopback port, with the contract check on.

`sandbox` is a default sandbox; `make_sandbox(**config)` builds one from SandboxConfig fields
(`faults` may be a dict of FaultConfig fields; `contract=False` turns the check off). Both stop
the server at teardown, then fail the test if any exchange broke the vendor spec.

The contract check validates every request the fake received and every response it sent
against the normalised vendor specs in generated/spec (what the generated clients are built
from). A request the spec rejects must be rejected by the fake (a 4xx such as 400/401/404 or a 429); the
response must match the spec for its status either way. Injected faults are deliberately
broken and skipped, except the 429 bursts, which must still look like the vendor's 429s.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from openapi_check import ContractChecker

from sequence_clients.sandbox import FaultConfig, Sandbox, SandboxConfig

MakeSandbox = Callable[..., Sandbox]


def pytest_configure(config: pytest.Config) -> None:
    # openapi-core cannot check oauth2 security and warns on every Boast request; the fake
    # checks bearer tokens itself (tests/sandbox/test_boast_fake.py), so the warning is noise.
    config.addinivalue_line("filterwarnings", "ignore:Unsupported scheme type:UserWarning")


@pytest.fixture
def make_sandbox() -> Iterator[MakeSandbox]:
    started: list[tuple[Sandbox, ContractChecker | None]] = []

    def make(contract: bool = True, **overrides: Any) -> Sandbox:
        faults = overrides.get("faults")
        if isinstance(faults, dict):
            overrides["faults"] = FaultConfig(**faults)
        checker = ContractChecker() if contract else None
        if checker is not None:
            overrides["observer"] = checker
        sb = Sandbox(SandboxConfig(**overrides)).start()
        started.append((sb, checker))
        return sb

    yield make
    violations: list[str] = []
    for sb, checker in started:
        sb.stop(wait=False)
        if checker is not None:
            violations += checker.violations
    if violations:
        shown = "\n".join(violations[:20])
        pytest.fail(f"{len(violations)} contract violation(s):\n{shown}", pytrace=False)


@pytest.fixture
def sandbox(make_sandbox: MakeSandbox) -> Sandbox:
    return make_sandbox()


class FakeClock:
    """Injectable wall clock for expiry tests (the states read it for timestamps and TTLs)."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()
