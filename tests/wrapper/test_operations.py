"""Every operation of both vendors' normalised specs runs through the wrapper's typed path.

The operations are enumerated from generated/spec/*.json at test time, never counted by hand:
an operation a vendor release adds is covered the day it is generated. For each one, the
request is built from the generated `operation(...)` with arguments made from its signature,
sent by `client.call` through a transport that checks method and path against the spec and
answers the spec's success status with a body synthesised from the success schema; the result
must be the generated success model (not an error model, not a dict).
"""

from __future__ import annotations

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

from sequence_clients import BoastClient, UnifyClient
from sequence_clients.generated.boast import types as boast_types
from sequence_clients.generated.unify import types as unify_types

ROOT = Path(__file__).resolve().parents[2]
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


def runtime_types(model: Any) -> tuple[type, ...]:
    """The classes isinstance() can check for a success type (a model, or a union of models)."""
    members = typing.get_args(model) if isinstance(model, types.UnionType) else (model,)
    return tuple(member for member in members if isinstance(member, type))


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
