"""Every operation of both vendors' specs through the typed path (`call`, `paginate`) and the
named methods: what is asked for is what is sent (method, path, query, body), and the answer
comes back as the documented model, on both twins."""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib
import inspect
import json
import pkgutil
import re
import subprocess
import sys
import textwrap
import types
import typing
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from twin_harness import Twin, closed, every, settle
from wrapper_helpers import (
    ACCOUNT,
    ROOT,
    BoastOptions,
    ScriptedBoast,
    Wire,
    boast_on,
    boast_on_boast,
    boast_root,
    free_pair,
    ids,
    listing_recorder,
    targets,
    unavailable,
)

import sequence_clients.generated.boast as boast_client
from sequence_clients import (
    AsyncBoastClient,
    AsyncUnifyClient,
    BoastClient,
    UnifyClient,
    errors,
)
from sequence_clients.generated.boast import types as boast_types
from sequence_clients.generated.boast.models import Contact, SequenceEnrollment
from sequence_clients.generated.unify import types as unify_types
from sequence_clients.generated.unify.models import (
    Enrollment,
    SequenceEnrollmentStatus,
)
from sequence_clients.sandbox import Sandbox

ENROLLMENT_CALLS = {
    "get_enrollment": ("GET", "/enrollments/{}"),
    "cancel_enrollment": ("DELETE", "/enrollments/{}"),
    "pause_enrollment": ("POST", "/enrollments/{}/pause"),
    "resume_enrollment": ("POST", "/enrollments/{}/resume"),
}


SEQUENCE_CALLS = {
    "get_sequence": ("GET", "/sequences/{}"),
    "pause_sequence": ("POST", "/sequences/{}/pause"),
    "resume_sequence": ("POST", "/sequences/{}/resume"),
    "delete_sequence": ("DELETE", "/sequences/{}"),
}


def a_live_sequence(sandbox: Sandbox) -> str:
    return str(sandbox.unify.live_sequences()[0]["id"])


VENDORS = ("unify", "boast")


EXAMPLE_ID = uuid.UUID("8f0c3a52-1d2e-4b7a-9c3d-5e6f7a8b9c0d")


Json = Any  # a JSON value synthesised from a schema


def load_spec(vendor: str) -> dict[str, Any]:
    spec: dict[str, Any] = json.loads(
        (ROOT / "generated" / "spec" / f"{vendor}.openapi.json").read_text()
    )
    return spec


def spec_operations(vendor: str) -> dict[str, tuple[str, str, dict[str, Any]]]:
    """operationId -> (METHOD, path, operation object)."""
    found = {}
    for path, item in load_spec(vendor)["paths"].items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "operationId" in operation:
                found[operation["operationId"]] = (method.upper(), path, operation)
    return found


def endpoint_modules(vendor: str) -> Iterator[ModuleType]:
    api = importlib.import_module(f"sequence_clients.generated.{vendor}.api")
    for info in pkgutil.walk_packages(api.__path__, api.__name__ + "."):
        module = importlib.import_module(info.name)
        if hasattr(module, "operation"):
            yield module


def example(schema: dict[str, Any], spec: dict[str, Any]) -> Json:
    """A small instance of `schema`: required properties only, first enum value or variant."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return example(spec["components"]["schemas"][name], spec)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return next(value for value in schema["enum"] if value is not None)
    if "allOf" in schema:
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            merged.update(example(part, spec))
        return merged
    for union in ("anyOf", "oneOf"):
        if union in schema:
            variants = [v for v in schema[union] if v.get("type") != "null"]
            return example(variants[0], spec)
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = next(k for k in kind if k != "null")
    if kind == "object":
        properties = schema.get("properties", {})
        return {name: example(properties[name], spec) for name in schema.get("required", [])}
    if kind == "array":
        return [example(schema.get("items", {}), spec)] * max(1, schema.get("minItems", 1))
    if kind == "integer":
        return max(1, schema.get("minimum", 1))
    if kind == "number":
        return float(max(1, schema.get("minimum", 1)))
    if kind == "boolean":
        return True
    formats = {
        "uuid": str(EXAMPLE_ID),
        "date-time": "2026-01-01T00:00:00Z",
        "date": "2026-01-01",
        "email": "rep@acme.example",
        "uri": "https://acme.example/x",
    }
    return formats.get(schema.get("format", ""), "text")


def success_answer(operation: dict[str, Any], spec: dict[str, Any]) -> tuple[int, Json]:
    status = min(code for code in operation["responses"] if code.startswith("2"))
    content = operation["responses"][status].get("content", {})
    schema = content.get("application/json", {}).get("schema")
    return int(status), None if schema is None else example(schema, spec)


def arguments(
    module: ModuleType, operation: dict[str, Any], spec: dict[str, Any]
) -> dict[str, Any]:
    """Values for the required parameters of `module.operation`, from its annotations."""
    hints = typing.get_type_hints(module.operation)
    values: dict[str, Any] = {}
    for name, parameter in inspect.signature(module.operation).parameters.items():
        if parameter.default is not inspect.Parameter.empty:
            continue
        hint = hints[name]
        if name == "body":
            content = operation["requestBody"]["content"]  # JSON or a form: the first documented
            schema = next(iter(content.values()))["schema"]
            values[name] = hint.from_dict(example(schema, spec))
        elif hint is uuid.UUID:
            values[name] = EXAMPLE_ID
        elif hint is int:
            values[name] = 1
        else:
            values[name] = "job-1"
    return values


def path_pattern(path: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)) + "$")


def success_model(module: ModuleType) -> Any:
    operation_type = typing.get_type_hints(module.operation)["return"]
    return typing.get_args(operation_type)[0]


def make_client(vendor: str, handler: Callable[[httpx.Request], httpx.Response]) -> Any:
    http = httpx.Client(transport=httpx.MockTransport(handler))
    if vendor == "unify":
        return UnifyClient("key", httpx_client=http, max_retries=0)
    return BoastClient(account_id=EXAMPLE_ID, access_token="t", httpx_client=http, max_retries=0)


def runtime_types(model: Any) -> tuple[type, ...]:
    """The classes isinstance() can check for a success type (a model, or a union of models)."""
    members = typing.get_args(model) if isinstance(model, types.UnionType) else (model,)
    return tuple(member for member in members if isinstance(member, type))


@pytest.fixture
def live_sequence(sandbox: Sandbox) -> Iterator[str]:
    yield next(s["id"] for s in sandbox.unify.live_sequences() if sandbox.unify.steps[s["id"]])


async def test_unify_list_sequence_steps_sends_its_arguments(
    twin: Twin, sandbox: Sandbox, wire: Wire
) -> None:
    steps = sandbox.unify.steps
    sequence = next(
        s["id"]
        for s in sandbox.unify.live_sequences()
        if len({step["type"] for step in steps[s["id"]]}) >= 2
        and any(step["type"] == "AUTOMATIC_EMAIL" for step in steps[s["id"]])
    )
    unify = twin.unify(
        sandbox.unify_api_key, base_url=sandbox.unify_base_url, httpx_client=twin.over(wire)
    )
    everything = await every(unify.list_sequence_steps(sequence, page_size=1))
    emails = await every(unify.list_sequence_steps(uuid.UUID(sequence), types=["AUTOMATIC_EMAIL"]))
    assert len(everything) == len(steps[sequence])
    assert len(wire.sent) == len(everything) + 1  # one step to a page, then the filtered list
    first = wire.sent[0]
    assert first.method == "GET" and first.url.path.endswith(f"/sequences/{sequence}/steps")
    assert first.url.params["limit"] == "1" and "type" not in first.url.params
    last = wire.sent[-1]
    assert last.url.params.get_list("type") == ["AUTOMATIC_EMAIL"]
    assert last.url.params["limit"] == "100"
    automatic = [s for s in steps[sequence] if s["type"] == "AUTOMATIC_EMAIL"]
    assert [str(step.id) for step in emails] == [s["id"] for s in automatic]
    await closed(unify)


@pytest.mark.parametrize("method", [*ENROLLMENT_CALLS, *SEQUENCE_CALLS])
async def test_unify_named_calls_send_the_id_and_name_a_bad_one(twin: Twin, method: str) -> None:
    verb, path = (ENROLLMENT_CALLS | SEQUENCE_CALLS)[method]
    argument = "enrollment_id" if method in ENROLLMENT_CALLS else "sequence_id"
    wire = Wire(unavailable)
    unify = twin.unify("key", max_retries=0, httpx_client=twin.over(wire))
    with pytest.raises(errors.InvalidRequestError, match=rf"^{argument} "):
        await settle(getattr(unify, method)("x"))
    assert wire.sent == []
    wanted = uuid.uuid4()
    with pytest.raises(errors.ServerError):
        await settle(getattr(unify, method)(str(wanted)))
    (request,) = wire.sent
    assert request.method == verb
    assert request.url.path == "/sequences/v1" + path.format(wanted)
    await closed(unify)


async def test_unify_list_enrollments_and_sequences_send_their_filters(twin: Twin) -> None:
    empty = {"enrollments": [], "sequences": [], "next_cursor": None}
    wire = Wire(lambda r: httpx.Response(200, json=empty))
    unify = twin.unify("key", httpx_client=twin.over(wire))
    sequence, person, mailbox, play = (uuid.uuid4() for _ in range(4))
    after = dt.datetime(2026, 11, 1, 8, 30, tzinfo=dt.UTC)
    before = dt.datetime(2026, 11, 20, 17, 0, tzinfo=dt.UTC)
    found = unify.list_enrollments(
        sequence_id=sequence,
        person_id=str(person),
        mailbox_id=mailbox,
        enrolled_by_play_id=play,
        status=["IN_PROGRESS", "FINISHED"],
        updated_after=after,
        updated_before=before,
        page_size=7,
    )
    assert await every(found) == []
    await every(unify.list_sequences(page_size=3))
    enrollments, sequences = (r.url.params for r in wire.sent)
    assert enrollments["sequence_id"] == str(sequence)
    assert enrollments["person_id"] == str(person)
    assert enrollments["mailbox_id"] == str(mailbox)
    assert enrollments["enrolled_by_play_id"] == str(play)
    assert enrollments.get_list("status") == ["IN_PROGRESS", "FINISHED"]
    assert dt.datetime.fromisoformat(enrollments["updated_after"]) == after
    assert dt.datetime.fromisoformat(enrollments["updated_before"]) == before
    assert enrollments["limit"] == "7" and sequences["limit"] == "3"
    with pytest.raises(errors.InvalidRequestError, match=r"^page_size "):
        unify.list_sequences(page_size=101)
    await closed(unify)


async def test_boast_enrollment_calls_send_the_ids_and_name_a_bad_one(
    twin: Twin, sandbox: Sandbox, wire: Wire
) -> None:
    root = boast_root(sandbox)
    account, contact, sequence = free_pair(sandbox)
    boast = boast_on(twin, sandbox, wire)
    created = await settle(boast.enroll(contact, sequence))
    got = await settle(boast.get_enrollment(created.id))
    removed = await settle(boast.remove_enrollment(str(created.id)))
    assert got.id == created.id and str(got.contact_id) == contact
    assert removed.id == created.id and removed.status == "removed"
    where = f"{root}/accounts/{account}/sequence_enrollments"
    assert wire.paths() == [
        f"POST {where}",
        f"GET {where}/{created.id}",
        f"DELETE {where}/{created.id}",
    ]
    for method in ("get_enrollment", "remove_enrollment"):
        with pytest.raises(errors.InvalidRequestError, match=r"^enrollment_id "):
            await settle(getattr(boast, method)("x"))
    assert len(wire.sent) == 3
    await closed(boast)


async def test_boast_create_contact_sends_every_field_given(
    twin: Twin, sandbox: Sandbox, wire: Wire
) -> None:
    root = boast_root(sandbox)
    boast = boast_on(twin, sandbox, wire)
    fields = {
        "email": "ann@acme.example",
        "mobile_phone": "+15555550123",
        "first_name": "Ann",
        "last_name": "Lee",
        "organization": "Acme",
        "job_title": "CTO",
        "time_zone": "Europe/Paris",
        "country_code": "FR",
        "source": "integration",
    }
    contact = await settle(boast.create_contact(**fields))
    assert json.loads(wire.sent[0].content) == fields
    assert contact.first_name == "Ann" and contact.mobile_phone == "+15555550123"
    phone_only = await settle(boast.create_contact(mobile_phone="+4915112345678"))
    assert json.loads(wire.sent[1].content) == {"mobile_phone": "+4915112345678"}
    assert phone_only.mobile_phone == "+4915112345678"
    await settle(boast.create_contact(email="bo@acme.example", source="api"))
    assert json.loads(wire.sent[2].content) == {"email": "bo@acme.example", "source": "api"}
    account = sandbox.boast.account_ids[0]
    assert wire.paths() == [f"POST {root}/accounts/{account}/contacts"] * 3
    await closed(boast)


def test_enrollment_filters_reach_the_request() -> None:
    server = ScriptedBoast()
    contact, sequence = uuid.uuid4(), uuid.uuid4()
    with boast_on_boast(server) as boast:
        list(boast.list_enrollments(contact_id=contact, sequence_id=sequence, status="paused"))
    assert server.queries == [
        {"page": "1", "contact_id": str(contact), "sequence_id": str(sequence), "status": "paused"}
    ]


async def test_async_enrollment_filters_reach_the_request() -> None:
    server = ScriptedBoast()
    contact, sequence = uuid.uuid4(), uuid.uuid4()
    http = httpx.AsyncClient(transport=httpx.MockTransport(server.handle))
    async with AsyncBoastClient(account_id=ACCOUNT, access_token="t", httpx_client=http) as boast:
        found = boast.list_enrollments(contact_id=contact, sequence_id=sequence, status="paused")
        assert [e async for e in found] == []
    assert server.queries == [
        {"page": "1", "contact_id": str(contact), "sequence_id": str(sequence), "status": "paused"}
    ]
    await http.aclose()


def test_sequence_lifecycle_and_steps(sandbox: Sandbox) -> None:
    sequence_id = a_live_sequence(sandbox)
    with UnifyClient(sandbox.unify_api_key, base_url=sandbox.unify_base_url) as unify:
        assert str(unify.get_sequence(sequence_id).id) == sequence_id
        paused = unify.pause_sequence(sequence_id)
        assert str(paused.id) == sequence_id and paused.is_paused is True
        assert unify.get_sequence(sequence_id).is_paused is True
        assert unify.resume_sequence(sequence_id).is_paused is False
        steps = list(unify.list_sequence_steps(sequence_id, page_size=1))
        assert steps, "every sandbox sequence has steps"
        kinds = {step.type_ for step in steps}
        only = next(iter(kinds))
        picked = list(unify.list_sequence_steps(sequence_id, types=[only]))
        assert picked and {step.type_ for step in picked} == {only}
        deleted = unify.delete_sequence(sequence_id)
        assert str(deleted.id) == sequence_id and deleted.is_deleted is True
        with pytest.raises(errors.NotFoundError):
            unify.get_sequence(sequence_id)


async def test_async_sequence_lifecycle_and_steps(sandbox: Sandbox) -> None:
    sequence_id = a_live_sequence(sandbox)
    async with AsyncUnifyClient(sandbox.unify_api_key, base_url=sandbox.unify_base_url) as unify:
        assert str((await unify.get_sequence(sequence_id)).id) == sequence_id
        assert (await unify.pause_sequence(sequence_id)).is_paused is True
        assert (await unify.resume_sequence(sequence_id)).is_paused is False
        steps = [s async for s in unify.list_sequence_steps(sequence_id, page_size=1)]
        only = steps[0].type_
        picked = [s async for s in unify.list_sequence_steps(sequence_id, types=[only])]
        assert picked and {s.type_ for s in picked} == {only}
        assert (await unify.delete_sequence(sequence_id)).is_deleted is True


def test_get_account_reads_the_clients_account(sandbox: Sandbox) -> None:
    state = sandbox.boast
    pair = state.issue_token()
    account = state.account_ids[0]
    with BoastClient(
        account_id=account, access_token=pair.access_token, base_url=sandbox.boast_base_url
    ) as boast:
        assert str(boast.get_account().id) == str(account)


def test_every_list_filter_reaches_the_request() -> None:
    http, sent = listing_recorder()
    sequence, person, mailbox, play = (uuid.uuid4() for _ in range(4))
    after = dt.datetime(2026, 11, 1, 8, 30, tzinfo=dt.UTC)
    before = dt.datetime(2026, 11, 20, 17, 0, tzinfo=dt.UTC)
    with UnifyClient("key", httpx_client=http) as unify:
        list(
            unify.list_enrollments(
                sequence_id=sequence,
                person_id=person,
                mailbox_id=mailbox,
                enrolled_by_play_id=play,
                status=["IN_PROGRESS", "FINISHED"],
                updated_after=after,
                updated_before=before,
                page_size=25,
            )
        )
    (request,) = sent
    query = request.url.params
    assert query["sequence_id"] == str(sequence)
    assert query["person_id"] == str(person)
    assert query["mailbox_id"] == str(mailbox)
    assert query["enrolled_by_play_id"] == str(play)
    assert query.get_list("status") == ["IN_PROGRESS", "FINISHED"]
    assert dt.datetime.fromisoformat(query["updated_after"]) == after
    assert dt.datetime.fromisoformat(query["updated_before"]) == before
    assert query["limit"] == "25"


def test_unset_filters_are_not_sent() -> None:
    http, sent = listing_recorder()
    with UnifyClient("key", httpx_client=http) as unify:
        list(unify.list_enrollments())
    assert dict(sent[0].url.params) == {"limit": "100"}


def test_enroll_get_remove(sandbox: Sandbox, boast: BoastClient) -> None:
    contacts, sequence, _ = targets(sandbox)

    created = boast.enroll(contacts[0], sequence)

    assert isinstance(created, SequenceEnrollment)
    assert (str(created.contact_id), str(created.sequence_id)) == (contacts[0], sequence)
    assert created.status == "active"
    assert boast.get_enrollment(str(created.id)).id == created.id
    removed = boast.remove_enrollment(created.id)
    assert removed.id == created.id and removed.status == "removed"
    assert sandbox.boast.active_enrollment(contacts[0], sequence) is None
    assert isinstance(boast.raw, boast_client.Client)


def test_create_contact(sandbox: Sandbox, boast: BoastClient) -> None:
    by_email = boast.create_contact(email="ann@acme.example", first_name="Ann", source="api")
    by_phone = boast.create_contact(mobile_phone="+15555550123")
    assert isinstance(by_email, Contact) and by_email.email == "ann@acme.example"
    assert by_email.first_name == "Ann" and by_phone.mobile_phone == "+15555550123"
    assert sandbox.boast.contacts_created == 2
    _, sequence, _ = targets(sandbox)
    assert boast.enroll(by_phone.id, sequence).contact_id == by_phone.id


async def test_boast_async_twin_covers_every_method(
    sandbox: Sandbox, token_store: Any, boast_options: BoastOptions
) -> None:
    contacts, sequence, _ = targets(sandbox)
    state = sandbox.boast
    async with AsyncBoastClient(**boast_options(sandbox, token_store)) as boast:
        created = await boast.enroll(contacts[0], sequence)
        with pytest.raises(errors.AlreadyEnrolledError) as raised:
            await boast.enroll(contacts[0], sequence)
        assert raised.value.active_enrollment_id == str(created.id)
        again = await boast.enroll(contacts[0], sequence, on_conflict="return_existing")
        assert again.id == created.id
        assert (await boast.get_enrollment(created.id)).status == "active"
        listed = [e.id async for e in boast.list_enrollments(contact_id=contacts[0])]
        assert listed == [created.id]
        accounts = [a async for a in boast.list_accounts()]
        assert [str(a.id) for a in accounts] == state.account_ids
        sequences = [s async for s in boast.list_sequences()]
        assert len(sequences) == len(state.sequences[state.account_ids[0]])
        pages = [p async for p in boast.list_contacts().pages()]
        assert sum(len(p.items) for p in pages) == 3000
        contact = await boast.create_contact(email="bo@acme.example")
        assert contact.email == "bo@acme.example"
        assert (await boast.remove_enrollment(created.id)).status == "removed"
        with pytest.raises(errors.NotFoundError):
            await boast.get_enrollment(uuid.uuid4())
        patient = boast.with_options(max_retries=7)
        assert "max_retries=7" in repr(patient)
        await patient.close()


@pytest.mark.parametrize("vendor", VENDORS)
def test_every_spec_operation_has_a_typed_operation(vendor: str) -> None:
    spec = load_spec(vendor)
    operations = spec_operations(vendor)
    built = {}
    for module in endpoint_modules(vendor):
        operation_id = module.__name__.rsplit(".", 1)[-1]
        described = module.operation(**arguments(module, operations[operation_id][2], spec))
        built[described.operation_id] = described
    assert set(built) == set(operations)
    generated_types = unify_types if vendor == "unify" else boast_types
    assert all(isinstance(o, generated_types.Operation) for o in built.values())


@pytest.mark.parametrize("vendor", VENDORS)
def test_every_operation_is_callable_through_the_client(vendor: str) -> None:
    spec = load_spec(vendor)
    operations = spec_operations(vendor)
    sent: list[httpx.Request] = []
    current: dict[str, Any] = {}

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        method, path, operation = operations[current["id"]]
        assert request.method == method and path_pattern(path).match(request.url.path), (
            current["id"], request.method, request.url.path,
        )  # fmt: skip
        status, body = success_answer(operation, spec)
        return httpx.Response(status) if body is None else httpx.Response(status, json=body)

    called = set()
    with make_client(vendor, answer) as client:
        for module in endpoint_modules(vendor):
            current["id"] = module.__name__.rsplit(".", 1)[-1]
            described = module.operation(**arguments(module, operations[current["id"]][2], spec))
            result = client.call(described)
            assert isinstance(result, runtime_types(success_model(module))), current["id"]
            called.add(current["id"])
    assert called == set(operations) and len(sent) == len(operations)


@dataclasses.dataclass(frozen=True)
class HandMadeOperation:
    """The four members `call` needs and no `url_template` (which generated operations have)."""

    operation_id: str
    request: dict[str, Any]
    success_statuses: frozenset[int]
    parse: Callable[[httpx.Response], object]


def test_any_object_with_the_four_members_of_an_operation_can_be_called() -> None:
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"ok": True})

    hand_made = HandMadeOperation(
        "ping", {"method": "get", "url": "/ping"}, frozenset({200}), lambda r: r.json()
    )
    with make_client("unify", answer) as client:
        assert client.call(hand_made) == {"ok": True}
    assert [r.url.path for r in sent] == ["/ping"]


def test_mypy_sees_the_success_model_and_checks_parameters(tmp_path: Path) -> None:
    """What a service type-checking against the package sees: `call` returns the 2xx model
    (no union with error models), a list operation's items are typed, a wrong argument fails."""
    consumer = tmp_path / "consumer.py"
    consumer.write_text(
        textwrap.dedent(
            """
            import uuid
            from sequence_clients import UnifyClient
            from sequence_clients.generated.unify.api.sequences import pause_sequence
            from sequence_clients.generated.unify.api.sequence_enrollments import (
                list_sequence_enrollment_query_jobs,
            )

            def use(unify: UnifyClient) -> None:
                reveal_type(unify.call(pause_sequence.operation(uuid.uuid4())))
                for job in unify.paginate(list_sequence_enrollment_query_jobs.operation()):
                    reveal_type(job)
                unify.call(pause_sequence.operation("not a uuid"))
                n: int = unify.call(pause_sequence.operation(uuid.uuid4())).id
            """
        )
    )
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", str(consumer)],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )  # fmt: skip
    lines = result.stdout.splitlines()
    revealed = [
        line.split('Revealed type is "')[1].rstrip('"') for line in lines if "Revealed type" in line
    ]
    assert revealed == [
        "sequence_clients.generated.unify.models.pause_sequence_success_response.PauseSequenceSuccessResponse",
        "sequence_clients.generated.unify.models.bulk_api_job.BulkApiJob",
    ], result.stdout
    errors = [line for line in lines if ": error:" in line]
    assert any('"str"' in e and '"UUID"' in e for e in errors), result.stdout
    assert any("Incompatible types in assignment" in e for e in errors), result.stdout


def test_named_sequence_methods_on_the_sandbox(sandbox: Sandbox, live_sequence: str) -> None:
    with UnifyClient(sandbox.unify_api_key, base_url=sandbox.unify_base_url) as unify:
        assert str(unify.get_sequence(live_sequence).id) == live_sequence
        steps = list(unify.list_sequence_steps(live_sequence, page_size=1))
        assert [str(s.id) for s in steps] == [s["id"] for s in sandbox.unify.steps[live_sequence]]
        assert unify.pause_sequence(live_sequence).is_paused is True
        with pytest.raises(errors.ConflictError):
            unify.pause_sequence(live_sequence)  # already paused
        assert unify.resume_sequence(live_sequence).is_paused is False
        assert unify.delete_sequence(live_sequence).is_deleted is True
        with pytest.raises(errors.InvalidRequestError, match="step types must be among"):
            unify.list_sequence_steps(live_sequence, types=["FAX"])


async def test_named_sequence_methods_on_the_async_twin(
    sandbox: Sandbox, live_sequence: str
) -> None:
    async with AsyncUnifyClient(sandbox.unify_api_key, base_url=sandbox.unify_base_url) as unify:
        assert str((await unify.get_sequence(live_sequence)).id) == live_sequence
        assert (await unify.pause_sequence(live_sequence)).is_paused is True
        assert (await unify.resume_sequence(live_sequence)).is_paused is False
        steps = [s async for s in unify.list_sequence_steps(live_sequence)]
        assert len(steps) == len(sandbox.unify.steps[live_sequence])
        assert (await unify.delete_sequence(live_sequence)).is_deleted is True


def test_enroll_then_get_pause_resume_cancel(sandbox: Sandbox, unify: UnifyClient) -> None:
    sequence_id, people, mailbox = ids(sandbox)

    created = unify.enroll(sequence_id, people[0], mailbox_emails=[mailbox])

    assert isinstance(created, Enrollment)
    assert str(created.sequence.id) == sequence_id and str(created.person.id) == people[0]
    assert created.status == SequenceEnrollmentStatus.IN_PROGRESS
    assert unify.get_enrollment(created.id).id == created.id
    assert unify.pause_enrollment(created.id).is_paused is True
    assert unify.get_enrollment(created.id).is_paused is True
    assert unify.resume_enrollment(created.id).id == created.id
    assert unify.cancel_enrollment(str(created.id)).is_canceled is True
    assert sandbox.unify.active_enrollment_count() == sandbox.unify.active_enrollment_count(None)
    assert sandbox.unify.active_enrollment_of(people[0]) is None


async def test_unify_async_twin_covers_every_method(sandbox: Sandbox) -> None:
    sequence_id, people, mailbox = ids(sandbox)
    async with AsyncUnifyClient(sandbox.unify_api_key, base_url=sandbox.unify_base_url) as unify:
        created = await unify.enroll(sequence_id, people[0], mailbox_emails=[mailbox])
        with pytest.raises(errors.AlreadyEnrolledError):
            await unify.enroll(sequence_id, people[0], mailbox_emails=[mailbox])
        assert (
            await unify.enroll(
                sequence_id, people[0], mailbox_emails=[mailbox], on_conflict="return_existing"
            )
        ).id == created.id
        assert (await unify.get_enrollment(created.id)).id == created.id
        assert (await unify.pause_enrollment(created.id)).is_paused is True
        assert (await unify.resume_enrollment(created.id)).id == created.id
        listed = [e.id async for e in unify.list_enrollments(sequence_id=sequence_id)]
        assert created.id in listed
        pages = [p async for p in unify.list_sequences(page_size=2).pages()]
        assert sum(len(p.items) for p in pages) == len(sandbox.unify.live_sequences())
        rows = [r async for r in unify.export_enrollments(sequence_id=sequence_id)]
        assert str(created.id) in {r.id for r in rows}
        assert (await unify.cancel_enrollment(created.id)).is_canceled is True
        with pytest.raises(errors.NotFoundError):
            await unify.get_enrollment(uuid.uuid4())
