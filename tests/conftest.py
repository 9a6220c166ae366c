"""Suite-wide fixtures: the in-process sandbox, and the vcr configuration (pytest-recording).

Only tests marked `vcr` use cassettes.
CI replays with `--record-mode=none --block-network`: a request without a recorded answer
fails (vcr's CannotOverwriteExistingCassetteException), and a missing cassette file fails the
test with a message naming it. Scrubbing and matching live in sequence_clients/testing/scrub.py.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from vcr.persisters.filesystem import FilesystemPersister

from sequence_clients.sandbox import FaultConfig, Sandbox, SandboxConfig
from sequence_clients.testing import scrub

CASSETTE_ROOT = Path(__file__).parent / "cassettes"
MakeSandbox = Callable[..., Sandbox]


@pytest.fixture
def sandbox_seed() -> int:
    """Seed of the sandboxes `make_sandbox` builds; a directory's conftest may override it."""
    return 7


@pytest.fixture
def make_sandbox(sandbox_seed: int) -> Iterator[MakeSandbox]:
    """Build and start a sandbox from SandboxConfig fields (`faults` may be a dict of
    FaultConfig fields); every one started is stopped at teardown."""
    started: list[Sandbox] = []

    def make(**overrides: Any) -> Sandbox:
        faults = overrides.pop("faults", None)
        if isinstance(faults, dict):
            overrides["faults"] = FaultConfig(**faults)
        sandbox = Sandbox(SandboxConfig(**{"seed": sandbox_seed, **overrides})).start()
        started.append(sandbox)
        return sandbox

    yield make
    for sandbox in started:
        sandbox.stop(wait=False)


@pytest.fixture
def sandbox(make_sandbox: MakeSandbox) -> Sandbox:
    return make_sandbox()


def pytest_configure(config: pytest.Config) -> None:
    # vcr logs each recorded response, unscrubbed, at INFO: keep that out of captured output.
    logging.getLogger("vcr").setLevel(logging.WARNING)
    # Tests press Ctrl-C on the CLI and the sandbox they start (SIGINT). A suite started in the
    # background by a non-interactive shell (`make test &`, `nohup … &`) inherits SIGINT
    # ignored, and so would every process it starts: those tests then waited for an interrupt
    # that never came. A handler here is reset to the default in each child at exec.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture
def vcr_config() -> dict[str, Any]:
    # A fresh scrubber per test: placeholder numbers count from 1 in every cassette.
    return scrub.vcr_config(scrub.Scrubber())


@pytest.fixture(scope="module")
def vcr_cassette_dir(request: pytest.FixtureRequest) -> str:
    """tests/cassettes/<test module>/<test name>.yaml, outside the test code's directories."""
    return str(CASSETTE_ROOT / request.node.path.stem)


def pytest_recording_configure(config: pytest.Config, vcr: Any) -> None:
    scrub.register_matchers(vcr)
    # pytest-recording 0.14's own persister (for its multi-cassette feature, unused here)
    # cannot load cassettes carrying vcrpy's metadata section, which ours do (the ids a test
    # was recorded with, deliberately broken responses). vcrpy's default persister can.
    vcr.register_persister(FilesystemPersister)


def replaying(config: pytest.Config) -> bool:
    return config.getoption("--record-mode") in (None, "none")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    """Fail, naming the file, when a replayed test has no cassette (rather than letting the
    first request fail with a 'cannot overwrite' or network error)."""
    if item.get_closest_marker("vcr") is None or not replaying(item.config):
        return
    cassette = getattr(item, "funcargs", {}).get("vcr")
    if cassette is None:
        return
    path = Path(cassette.path)
    if not path.exists():
        shown = path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path
        pytest.fail(
            f"missing cassette {shown}: this test replays recorded HTTP. "
            "Re-record with `make record` (sandbox) or `make record-live VENDOR=...`.",
            pytrace=False,
        )
