"""The testing kit's scripted faults: each kind reaches a client as the typed error (or the
recovery) the real vendor's answer would give, the request log shows what happened, and the
operation names are the generated modules' own."""

from __future__ import annotations

import asyncio
import importlib
import pkgutil
import time
import uuid

import httpx
import pytest

from sequence_clients import AsyncUnifyClient, BoastClient, UnifyClient, errors
from sequence_clients._client import DEFAULT_MAX_RETRIES
from sequence_clients.sandbox import operations
from sequence_clients.testing import BoastSandbox, InstantClock, UnifySandbox
from sequence_clients.testing._transport import InProcessTransport

ENROLL = "create_sequence_enrollment"


def enroll(client: UnifyClient, sandbox: UnifySandbox) -> tuple[str, str]:
    (person,) = sandbox.free_people()
    sequence = sandbox.sequence()
    client.enroll(sequence, person, mailbox_emails=[sandbox.mailbox()])
    return sequence, person


@pytest.mark.parametrize("vendor", ["unify", "boast"])
def test_operation_names_are_the_generated_modules(vendor: str) -> None:
    package = importlib.import_module(f"sequence_clients.generated.{vendor}.api")
    modules = {
        info.name.rsplit(".", 1)[1]
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + ".")
        if not info.ispkg
    }
    assert operations.operation_names(vendor) == modules
    for route in operations.routes(vendor):
        filled = route.template.format_map(_Filler())
        assert operations.operation_of(vendor, route.method, filled) == route.operation


class _Filler(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return str(uuid.uuid4())


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, errors.BadRequestError),
        (401, errors.AuthenticationError),
        (403, errors.PermissionDeniedError),
        (404, errors.NotFoundError),
    ],
)
def test_refusals_are_typed_and_not_retried(
    unify_sandbox: UnifySandbox, unify_client: UnifyClient, status: int, error: type[Exception]
) -> None:
    (person,) = unify_sandbox.free_people()
    unify_sandbox.fail(ENROLL, status=status)
    with pytest.raises(error) as raised:
        unify_client.enroll(
            unify_sandbox.sequence(), person, mailbox_emails=[unify_sandbox.mailbox()]
        )
    assert isinstance(raised.value, errors.APIStatusError) and raised.value.status_code == status
    assert [r.status for r in unify_sandbox.requests(operation=ENROLL)] == [status]
    assert unify_sandbox.active_enrollments(person) == 0


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_every_time_exhaust_the_retries(
    unify_sandbox: UnifySandbox, unify_client: UnifyClient, instant_waits: InstantClock, status: int
) -> None:
    unify_sandbox.fail(ENROLL, status=status, times=None)
    with pytest.raises(errors.ServerError) as raised:
        enroll(unify_client, unify_sandbox)
    assert raised.value.codes == ("error",)  # Unify's enum for every 5xx: the real shape
    assert len(unify_sandbox.requests(operation=ENROLL)) == DEFAULT_MAX_RETRIES + 1
    assert len(instant_waits.waits) == DEFAULT_MAX_RETRIES
    assert len(unify_sandbox.pending_faults()) == 1


def test_rate_limit_answer_carries_retry_after(
    unify_sandbox: UnifySandbox, unify_sandbox_client_no_retry: UnifyClient
) -> None:
    unify_sandbox.fail(ENROLL, status=429, retry_after=7)
    with pytest.raises(errors.RateLimitError) as raised:
        enroll(unify_sandbox_client_no_retry, unify_sandbox)
    assert raised.value.retry_after == 7
    assert raised.value.codes == ("rate_limited",)


@pytest.fixture
def unify_sandbox_client_no_retry(unify_sandbox: UnifySandbox) -> UnifyClient:
    return unify_sandbox.client(max_retries=0)


def test_reset_before_applies_nothing_and_the_retry_enrolls(
    unify_sandbox: UnifySandbox, unify_client: UnifyClient
) -> None:
    unify_sandbox.fail(ENROLL, error="reset_before")
    _, person = enroll(unify_client, unify_sandbox)
    assert unify_sandbox.active_enrollments(person) == 1
    log = unify_sandbox.requests(operation=ENROLL)
    assert [(r.status, r.fault) for r in log] == [(0, "reset_before"), (201, None)]


@pytest.mark.parametrize("kind", ["reset_after_commit", "timeout"])
def test_ambiguous_failures_end_with_one_enrollment(
    unify_sandbox: UnifySandbox, unify_client: UnifyClient, kind: str
) -> None:
    unify_sandbox.fail(ENROLL, error=kind)
    _, person = enroll(unify_client, unify_sandbox)
    assert unify_sandbox.active_enrollments(person) == 1
    assert [r.fault for r in unify_sandbox.requests(operation=ENROLL)] == [kind, None]


def test_timeout_without_retries_is_a_timeout_that_may_have_applied(
    unify_sandbox: UnifySandbox,
) -> None:
    unify_sandbox.fail(ENROLL, error="timeout")
    with (
        unify_sandbox.client(max_retries=0) as client,
        pytest.raises(errors.APITimeoutError) as raised,
    ):
        enroll(client, unify_sandbox)
    assert raised.value.maybe_applied


def test_already_enrolled_and_active_elsewhere(
    unify_sandbox: UnifySandbox, unify_client: UnifyClient
) -> None:
    (person,) = unify_sandbox.free_people()
    sequence = unify_sandbox.sequence()
    unify_sandbox.fail(ENROLL, error="active_in_another_sequence")
    with pytest.raises(errors.AlreadyEnrolledError) as elsewhere:
        unify_client.enroll(sequence, person, mailbox_emails=[unify_sandbox.mailbox()])
    assert elsewhere.value.active_sequence_id not in (None, sequence)
    (other,) = unify_sandbox.free_people()
    unify_sandbox.fail(ENROLL, error="already_enrolled")
    with pytest.raises(errors.AlreadyEnrolledError) as here:
        unify_client.enroll(sequence, other, mailbox_emails=[unify_sandbox.mailbox()])
    assert here.value.active_sequence_id == sequence


def test_boast_already_enrolled(boast_sandbox: BoastSandbox, boast_client: BoastClient) -> None:
    (contact,) = boast_sandbox.contacts()
    boast_sandbox.fail(ENROLL, error="already_enrolled")
    with pytest.raises(errors.AlreadyEnrolledError) as raised:
        boast_client.enroll(contact, boast_sandbox.sequence())
    assert raised.value.active_sequence_id == boast_sandbox.sequence()
    assert raised.value.codes == ("already_enrolled",)


def test_boast_expiry_refreshes_into_the_store(boast_sandbox: BoastSandbox) -> None:
    store = boast_sandbox.token_store()
    client = boast_sandbox.client(store)
    boast_sandbox.fail("get_account", error="token_expired")
    assert str(client.get_account().id) == boast_sandbox.account_id
    assert len(store.saved) == 1 and store.token is store.saved[0]
    assert [r.status for r in boast_sandbox.requests()] == [401, 200, 200]


def test_boast_invalid_grant_is_an_authentication_error(
    boast_sandbox: BoastSandbox, boast_client: BoastClient
) -> None:
    boast_sandbox.fail("get_account", error="token_expired")
    boast_sandbox.fail("create_token", error="invalid_grant")
    with pytest.raises(errors.AuthenticationError) as raised:
        boast_client.get_account()
    assert "invalid_grant" in raised.value.codes


def test_faults_are_per_vendor_and_checked(unify_sandbox: UnifySandbox) -> None:
    with pytest.raises(errors.InvalidRequestError, match="create_sequence_enrollment"):
        unify_sandbox.fail("enroll", status=429)
    with pytest.raises(errors.InvalidRequestError):
        unify_sandbox.fail(ENROLL, error="token_expired")  # Unify has no tokens
    with pytest.raises(errors.InvalidRequestError):
        unify_sandbox.fail("list_sequences", error="already_enrolled")
    with pytest.raises(errors.InvalidRequestError):
        unify_sandbox.fail(ENROLL, status=200)
    with pytest.raises(errors.InvalidRequestError):
        unify_sandbox.fail(ENROLL, status=429, error="timeout")
    with pytest.raises(errors.InvalidRequestError):
        unify_sandbox.fail(ENROLL, status=429, times=0)
    assert unify_sandbox.pending_faults() == []


def test_boast_token_faults_are_checked(boast_sandbox: BoastSandbox) -> None:
    with pytest.raises(errors.InvalidRequestError):
        boast_sandbox.fail("get_account", error="invalid_grant")
    with pytest.raises(errors.InvalidRequestError):
        boast_sandbox.fail("create_token", error="token_expired")
    with pytest.raises(errors.InvalidRequestError):
        boast_sandbox.fail(ENROLL, error="active_in_another_sequence")  # a Unify notion
    assert boast_sandbox.pending_faults() == []


def test_async_client_sees_the_same_script(
    unify_sandbox: UnifySandbox, async_unify_client: AsyncUnifyClient, instant_waits: InstantClock
) -> None:
    unify_sandbox.fail(ENROLL, status=429, retry_after=2, times=2)
    (person,) = unify_sandbox.free_people()

    async def run() -> None:
        await async_unify_client.enroll(
            unify_sandbox.sequence(), person, mailbox_emails=[unify_sandbox.mailbox()]
        )

    asyncio.run(run())
    assert instant_waits.waits == [2, 2]
    logged = unify_sandbox.requests(operation=ENROLL)
    assert [r.json()["person_id"] for r in logged] == [person] * 3
    unify_sandbox.reset()
    assert unify_sandbox.requests() == []


def test_a_sandbox_outside_the_kit_keeps_no_request_log() -> None:
    """`sequence-clients sandbox` and the benchmarks serve millions of requests: no log grows."""
    from sequence_clients.sandbox.server import SandboxApp
    from sequence_clients.testing import SequenceSandbox

    with SequenceSandbox() as kit:
        plain = SandboxApp(kit.app.config)
        client = httpx.Client(transport=InProcessTransport(plain), base_url="http://localhost")
        with client:
            headers = {"x-api-key": plain.unify.api_keys[0]}
            assert client.get("/unify/sequences/v1/sequences", headers=headers).status_code == 200
        assert plain.unify_script.log == [] and not plain.unify_script.recording


def test_in_process_clients_keep_their_read_timeout() -> None:
    """ASGITransport enforces no timeout; the kit's transports apply the client's own."""
    from sequence_clients.testing import SequenceSandbox

    with SequenceSandbox(latency=2.0) as kit:
        started = time.monotonic()
        client = kit.unify.client(timeout=0.2, max_retries=0)
        with client, pytest.raises(errors.APITimeoutError):
            next(iter(client.list_sequences()))

        async def listed() -> None:
            async with kit.unify.async_client(timeout=0.2, max_retries=0) as client:
                async for _ in client.list_sequences():
                    break

        with pytest.raises(errors.APITimeoutError):
            asyncio.run(listed())
        assert time.monotonic() - started < 1.8
