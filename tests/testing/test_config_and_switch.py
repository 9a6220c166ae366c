"""Configuration from the environment (explicit arguments win, a missing key names its
variable), the testing switch, and the plugin's promise to load nothing heavy."""

from __future__ import annotations

import asyncio
import shlex
import subprocess
import sys
import time

import pytest
from missing_extra import HIDE_SERVER

from sequence_clients import (
    AsyncBoastClient,
    AsyncUnifyClient,
    BoastClient,
    UnifyClient,
    _clock,
    _config,
    errors,
)
from sequence_clients.sandbox.__main__ import banner
from sequence_clients.testing import (
    BoastSandbox,
    MemoryTokenStore,
    SequenceSandbox,
    ServedSandbox,
    UnifySandbox,
    counted_waits,
    is_testing,
    set_testing,
)


@pytest.fixture
def bare_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in _config.ENVIRONMENT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.parametrize(
    ("make", "variable"),
    [
        (UnifyClient, "UNIFY_API_KEY"),
        (AsyncUnifyClient, "UNIFY_API_KEY"),
        (BoastClient, "BOAST_ACCESS_TOKEN"),
        (AsyncBoastClient, "BOAST_ACCESS_TOKEN"),
    ],
)
def test_a_missing_credential_names_its_variable(
    bare_environment: pytest.MonkeyPatch, make: type, variable: str
) -> None:
    with pytest.raises(errors.ConfigurationError) as raised:
        make()
    assert raised.value.variable == variable
    assert isinstance(raised.value, errors.InvalidRequestError)
    assert variable in str(raised.value)


def test_unify_from_the_environment_reaches_the_sandbox(
    served_sandbox: ServedSandbox, unify_sandbox: UnifySandbox
) -> None:
    with UnifyClient() as unify:
        sequences = list(unify.list_sequences())
    assert {str(s.id) for s in sequences} == {s["id"] for s in unify_sandbox.state.live_sequences()}

    async def listed() -> int:
        async with AsyncUnifyClient() as client:
            return len([s async for s in client.list_sequences()])

    assert asyncio.run(listed()) == len(sequences)


def test_explicit_arguments_win_over_the_environment(
    served_sandbox: ServedSandbox, unify_sandbox: UnifySandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UNIFY_API_KEY", "not-the-key")
    with UnifyClient(max_retries=0) as wrong, pytest.raises(errors.AuthenticationError):
        wrong.list_sequences().pages().__next__()
    with UnifyClient(unify_sandbox.api_key) as right:
        assert next(iter(right.list_sequences())) is not None
    with pytest.raises(errors.InvalidRequestError, match="refusing base URL"):
        UnifyClient(base_url="http://vendor.example")  # the argument, not UNIFY_BASE_URL


def test_boast_refreshes_from_the_environment_only_with_a_token_store(
    served_sandbox: ServedSandbox, boast_sandbox: BoastSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The OAuth host follows BOAST_BASE_URL when BOAST_AUTH_BASE_URL is unset.
    monkeypatch.delenv("BOAST_AUTH_BASE_URL")
    boast_sandbox.fail("get_account", error="token_expired", times=2)
    with BoastClient(max_retries=0) as without, pytest.raises(errors.AuthenticationError):
        without.get_account()
    assert boast_sandbox.requests(operation="create_token") == []
    store = MemoryTokenStore()
    with BoastClient(token_store=store) as refreshing:
        assert str(refreshing.get_account().id) == boast_sandbox.account_id
    assert len(store.saved) == 1
    assert [r.status for r in boast_sandbox.requests(operation="create_token")] == [200]
    # No access token at all: a client that can refresh starts with a refresh. (A store of its
    # own, as in another process: clients on one store object share the grant's newest token.)
    monkeypatch.delenv("BOAST_ACCESS_TOKEN")
    monkeypatch.setenv("BOAST_REFRESH_TOKEN", store.saved[0].refresh_token or "")
    elsewhere = MemoryTokenStore()
    with BoastClient(token_store=elsewhere) as from_refresh:
        from_refresh.get_account()
    assert len(elsewhere.saved) == 1
    with pytest.raises(errors.ConfigurationError):  # and without a store it cannot
        BoastClient()


def test_the_sandbox_banner_exports_every_variable_the_clients_read() -> None:
    with SequenceSandbox() as kit:
        text = banner(kit.app, "http://127.0.0.1:8000", 0, "")
    exported = {
        word.split("=", 1)[0]
        for line in text.splitlines()
        if line.startswith("export ")
        for word in shlex.split(line, comments=True)[1:]
    }
    assert set(_config.ENVIRONMENT_VARIABLES) <= exported


# --- the testing switch ---------------------------------------------------------------------
def test_set_testing_counts_waits_and_restores_the_clock() -> None:
    before = _clock.current()
    with set_testing(True) as clock:
        assert clock is not None and is_testing()
        started = time.monotonic()
        _clock.current().sleep(120)
        assert time.monotonic() - started < 1
        assert counted_waits() == [120] and clock.waited == 120
        # The request path's clock moved by the wait: deadlines run out as they would.
        assert _clock.current().monotonic() - started >= 120
    assert _clock.current() is before and not is_testing() and counted_waits() == []


def test_a_clients_own_rate_limit_waits_are_instant_and_counted(
    unify_sandbox: UnifySandbox, instant_waits: object
) -> None:
    started = time.monotonic()
    with unify_sandbox.client(rate_limit="2/s") as client:
        for _ in range(6):
            client.get_sequence(unify_sandbox.sequence())
    assert time.monotonic() - started < 2  # six calls at 2/s take over 2 s for real
    assert len(counted_waits()) >= 2 and sum(counted_waits()) >= 1.5


def test_a_deadline_shorter_than_retry_after_fails_at_once(
    unify_sandbox: UnifySandbox, instant_waits: object
) -> None:
    (person,) = unify_sandbox.free_people()
    unify_sandbox.fail("create_sequence_enrollment", status=429, retry_after=30)
    started = time.monotonic()
    with unify_sandbox.client(deadline=10) as client, pytest.raises(errors.DeadlineExceededError):
        client.enroll(unify_sandbox.sequence(), person, mailbox_emails=[unify_sandbox.mailbox()])
    assert time.monotonic() - started < 5
    assert counted_waits() == []  # the 30 s wait was never started: it would pass the deadline


def test_loading_the_plugin_builds_nothing() -> None:
    code = (
        "import sys, sequence_clients.testing.plugin, sequence_clients.testing\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in ('starlette', 'uvicorn', 'vcr')\n"
        "         or m.startswith('sequence_clients.sandbox')]\n"
        "print(heavy)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_every_test_gets_fresh_state(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(
        """
        def test_first(unify_sandbox, unify_client):
            person, = unify_sandbox.free_people()
            unify_sandbox.fail("list_sequences", status=503, times=None)
            unify_client.enroll(unify_sandbox.sequence(), person,
                                mailbox_emails=[unify_sandbox.mailbox()])
            assert unify_sandbox.active_enrollments(person) == 1

        def test_second(unify_sandbox, unify_client):
            person, = unify_sandbox.free_people()
            assert unify_sandbox.active_enrollments(person) == 0
            assert unify_sandbox.requests() == [] and unify_sandbox.pending_faults() == []
            assert len(list(unify_client.list_sequences())) > 0
        """
    )
    result = pytester.runpytest("-p", "no:xdist", "-q")
    result.assert_outcomes(passed=2)


def test_without_the_testing_extra_the_kit_names_it() -> None:
    """As after `pip install sequence-clients`: the switch and vcr_config work, the sandbox
    says which extra it needs, and so does `python -m sequence_clients.sandbox`."""
    code = HIDE_SERVER + (
        "from sequence_clients.testing import set_testing, vcr_config\n"
        "with set_testing(True):\n"
        "    assert vcr_config()['match_on']\n"
        "try:\n"
        "    from sequence_clients.testing import SequenceSandbox\n"
        "except ModuleNotFoundError as missing:\n"
        "    print(missing)\n"
        "sys.argv = ['sandbox', '--port', '0']\n"
        "import runpy\n"
        "runpy.run_module('sequence_clients.sandbox', run_name='__main__')\n"
    )
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert ran.returncode == 2
    assert "pip install 'sequence-clients[testing]'" in ran.stdout
    (line,) = ran.stderr.strip().splitlines()
    assert line.endswith("pip install 'sequence-clients[testing]'") and "Traceback" not in line
