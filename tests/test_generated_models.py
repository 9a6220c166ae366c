"""Every response the specs describe parses into typed models and serialises back unchanged.

hypothesis-jsonschema draws documents from each operation's response schemas (after our
normaliser, as committed in generated/spec/). Each one goes through the generated endpoint's own
response parser, as a real response would. Objects are closed for drawing (no undeclared keys), so
any key that lands in a model's `additional_properties` is a declared property the generator failed
to type.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest
from dateutil.parser import isoparse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {
    "unify": "sequence_clients.generated.unify",
    "boast": "sequence_clients.generated.boast",
}
# A reference may nest this deep inside itself before the branch is closed off, so recursive
# schemas (Unify's step conditions) still yield finite documents.
MAX_REF_DEPTH = 1
# Drawn documents per response schema; raise it for a deeper run: SPEC_EXAMPLES=200 make test
EXAMPLES = int(os.environ.get("SPEC_EXAMPLES", "3"))
# Formats hypothesis-jsonschema does not draw by itself (it would draw "" for a uuid).
CUSTOM_FORMATS = {"uuid": st.uuids().map(str)}


def load_spec(vendor: str) -> dict[str, Any]:
    return json.loads((ROOT / "generated" / "spec" / f"{vendor}.openapi.json").read_text())


def closed_schema(node: Any, document: dict[str, Any], stack: tuple[str, ...] = ()) -> Any:
    """Inline $refs, merge allOf members and forbid undeclared properties."""
    if isinstance(node, list):
        return [closed_schema(item, document, stack) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        ref = node["$ref"]
        if stack.count(ref) >= MAX_REF_DEPTH:
            return {"not": {}}
        target = document
        for part in ref.removeprefix("#/").split("/"):
            target = target[part]
        return closed_schema(target, document, (*stack, ref))
    schema = {key: closed_schema(value, document, stack) for key, value in node.items()}
    if "allOf" in schema:
        members = schema.pop("allOf")
        for member in members:
            schema.setdefault("properties", {}).update(member.get("properties", {}))
            schema["required"] = sorted({*schema.get("required", []), *member.get("required", [])})
        schema["type"] = "object"
    if schema.get("type") == "object" or "properties" in schema:
        schema["additionalProperties"] = False
    return schema


def response_cases(vendor: str) -> Iterator[Any]:
    document = load_spec(vendor)
    package = PACKAGES[vendor]
    for path_item in document["paths"].values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or "operationId" not in operation:
                continue
            module = (
                f"{package}.api.{_module_name(operation['tags'][0])}.{operation['operationId']}"
            )
            for status, response in operation["responses"].items():
                if "$ref" in response:
                    response = _resolve(document, response["$ref"])
                media = response.get("content", {}).get("application/json")
                if media and "schema" in media:
                    schema = closed_schema(media["schema"], document)
                    yield pytest.param(
                        module,
                        int(status),
                        schema,
                        id=f"{vendor}:{operation['operationId']}:{status}",
                    )


def _resolve(document: dict[str, Any], ref: str) -> Any:
    target: Any = document
    for part in ref.removeprefix("#/").split("/"):
        target = target[part]
    return target


def _module_name(tag: str) -> str:
    return "_".join(tag.lower().replace("-", " ").split())


def assert_same_document(expected: Any, actual: Any, where: str = "$") -> None:
    """Equal JSON, treating two spellings of one instant ("Z" vs "+00:00") as equal."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        assert expected.keys() == actual.keys(), f"{where}: keys differ"
        for key in expected:
            assert_same_document(expected[key], actual[key], f"{where}.{key}")
    elif isinstance(expected, list) and isinstance(actual, list):
        assert len(expected) == len(actual), f"{where}: lengths differ"
        for index, (left, right) in enumerate(zip(expected, actual, strict=True)):
            assert_same_document(left, right, f"{where}[{index}]")
    elif isinstance(expected, str) and isinstance(actual, str) and expected != actual:
        assert _as_instant(expected) == _as_instant(actual), f"{where}: {expected!r} != {actual!r}"
    else:
        assert expected == actual and type(expected) is type(actual), (
            f"{where}: {expected!r} != {actual!r}"
        )


def _as_instant(text: str) -> dt.datetime | None:
    try:
        return isoparse(text)
    except ValueError:
        return None


def untyped_keys(model: Any, where: str = "$") -> list[str]:
    """Paths of keys that ended up in `additional_properties` anywhere in a parsed model tree."""
    found: list[str] = []
    if attrs.has(type(model)):
        found += [f"{where}.{key}" for key in getattr(model, "additional_properties", {})]
        for field in attrs.fields(type(model)):
            if field.name != "additional_properties":
                found += untyped_keys(getattr(model, field.name), f"{where}.{field.name}")
    elif isinstance(model, list):
        for index, item in enumerate(model):
            found += untyped_keys(item, f"{where}[{index}]")
    return found


CASES = [case for vendor in PACKAGES for case in response_cases(vendor)]


def test_cases_cover_every_operation() -> None:
    operations = {case.id.rsplit(":", 1)[0] for case in CASES}
    for vendor in PACKAGES:
        document = load_spec(vendor)
        documented = {
            f"{vendor}:{operation['operationId']}"
            for item in document["paths"].values()
            for operation in item.values()
            if isinstance(operation, dict) and "operationId" in operation
        }
        assert documented, vendor
        assert documented <= operations, documented - operations


@pytest.mark.parametrize(("module_name", "status", "schema"), CASES)
def test_response_round_trips_through_generated_model(
    module_name: str, status: int, schema: dict[str, Any]
) -> None:
    module = importlib.import_module(module_name)
    client_module = importlib.import_module(module_name.split(".api.")[0])
    client = client_module.Client(base_url="https://example.invalid")

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def check(data: st.DataObject) -> None:
        document = data.draw(from_schema(schema, custom_formats=CUSTOM_FORMATS))
        response = httpx.Response(status, json=document)
        parsed = module._parse_response(client=client, response=response)
        assert parsed is not None, f"no model for HTTP {status}"
        assert untyped_keys(parsed) == []
        serialised = parsed.to_dict() if hasattr(parsed, "to_dict") else parsed
        assert_same_document(document, serialised)

    check()
