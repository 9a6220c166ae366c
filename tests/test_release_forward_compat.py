"""What the committed (old) client does with responses from a later vendor release.

A release adds enum values and stops sending fields it marks nullable. For every response schema of
both vendors (generated/spec/), hypothesis draws a document; then every enum value is replaced by
one the spec does not list and every required-but-nullable field is dropped, at any depth, and the
generated endpoint's own parser must still read it: the unknown value kept as its string, the
absent field as None. Single-valued enums inside a variant of a union stay as drawn: they are the
tags the parser chooses the variant by (scripts/open_enums.py).
"""

from __future__ import annotations

import copy
import importlib
import inspect
import json
from enum import Enum
from pathlib import Path
from typing import Any

import attrs
import httpx
import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema
from test_generated_models import (
    CASES,
    CUSTOM_FORMATS,
    EXAMPLES,
    PACKAGES,
    assert_same_document,
    closed_schema,
    load_spec,
)

from open_enums import reachable_components, request_schemas, response_schemas
from sequence_clients.generated.boast import Client as BoastClient
from sequence_clients.generated.boast.api.sequence_enrollments import get_sequence_enrollment
from sequence_clients.generated.unify import Client as UnifyClient
from sequence_clients.generated.unify.api.sequence_enrollments import (
    get_sequence_enrollment_query_job,
    list_sequence_enrollments,
)
from sequence_clients.generated.unify.models import (
    BulkApiJobStatus,
    EnrollmentReplyEmailMessage,
    SequenceEnrollmentStatus,
)

ROOT = Path(__file__).resolve().parent.parent
UNKNOWN = "VALUE_FROM_A_LATER_RELEASE"


def later_release(value: Any, schema: dict[str, Any], in_variant: bool = False) -> Any:
    """`value` with unknown enum values and without its required-but-nullable fields."""
    if not isinstance(schema, dict):
        return value
    values = [v for v in schema.get("enum", []) if v is not None]
    if values and all(isinstance(v, str) for v in values) and isinstance(value, str):
        return value if in_variant and len(values) == 1 else UNKNOWN
    for keyword in ("anyOf", "oneOf"):
        if keyword in schema and value is not None:
            members = [m for m in schema[keyword] if m.get("type") != "null"]
            chosen = next(m for m in members if jsonschema.Draft202012Validator(m).is_valid(value))
            return later_release(value, chosen, in_variant or len(members) > 1)
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        changed = {}
        for key, item in value.items():
            prop = properties.get(key, {})
            if key in schema.get("required", []) and item is None and _nullable(prop):
                continue  # the release stopped sending it
            changed[key] = later_release(item, prop, in_variant)
        return changed
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [later_release(item, schema["items"], in_variant) for item in value]
    return value


def _nullable(schema: dict[str, Any]) -> bool:
    kinds = schema.get("type", [])
    kinds = kinds if isinstance(kinds, list) else [kinds]
    members = schema.get("anyOf", []) + schema.get("oneOf", [])
    return "null" in kinds or any(m.get("type") == "null" for m in members)


def restored(value: Any, original: Any) -> Any:
    """What the parsed model serialises back to: dropped nullable fields come back as null."""
    if isinstance(value, dict) and isinstance(original, dict):
        return {
            key: restored(value[key], item) if key in value else None
            for key, item in original.items()
        }
    if isinstance(value, list) and isinstance(original, list):
        return [restored(v, o) for v, o in zip(value, original, strict=True)]
    return value


def enum_members(model: Any) -> list[Enum]:
    found: list[Enum] = []
    if isinstance(model, Enum):
        found.append(model)
    elif attrs.has(type(model)):
        for field in attrs.fields(type(model)):
            found += enum_members(getattr(model, field.name))
    elif isinstance(model, list):
        for item in model:
            found += enum_members(item)
    return found


@pytest.mark.parametrize(("module_name", "status", "schema"), CASES)
def test_old_client_reads_a_later_release_of_every_response(
    module_name: str, status: int, schema: dict[str, Any]
) -> None:
    module = importlib.import_module(module_name)
    client_module = importlib.import_module(module_name.split(".api.")[0])
    client = client_module.Client(base_url="https://example.invalid")

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def check(data: st.DataObject) -> None:
        drawn = data.draw(from_schema(schema, custom_formats=CUSTOM_FORMATS))
        newer = later_release(copy.deepcopy(drawn), schema)
        parsed = module._parse_response(client=client, response=httpx.Response(status, json=newer))
        assert parsed is not None, f"no model for HTTP {status}"
        assert all(member.value != UNKNOWN for member in enum_members(parsed))
        serialised = parsed.to_dict() if hasattr(parsed, "to_dict") else parsed
        assert_same_document(restored(newer, drawn), serialised)

    check()


def closed(vendor: str, name: str) -> dict[str, Any]:
    document = load_spec(vendor)
    return closed_schema({"$ref": f"#/components/schemas/{name}"}, document)  # type: ignore[no-any-return]


def page_of_three_with_a_reply() -> dict[str, Any]:
    """ListEnrollmentsResponse with three enrollments; the second has a classified reply."""
    page = closed("unify", "ListEnrollmentsResponse")
    items = page["properties"]["enrollments"]
    items.update(minItems=3, maxItems=3)
    enrollment = items["items"]
    enrollment["properties"]["reply_email_message"] = reply = closed(
        "unify", "EnrollmentReplyEmailMessage"
    )
    reply["properties"]["classifications"]["minItems"] = 1
    return page


@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))
@given(from_schema(page_of_three_with_a_reply(), custom_formats=CUSTOM_FORMATS))
def test_a_page_with_one_unknown_status_yields_every_enrollment(page: dict[str, Any]) -> None:
    odd = page["enrollments"][1]
    odd["status"] = "PAUSED"
    odd["reply_email_message"]["classifications"][0]["category"] = "OUT_OF_OFFICE"
    for absent in ("started_at", "ended_at"):  # required, nullable, and no longer sent
        odd.pop(absent)

    parsed = list_sequence_enrollments._parse_response(
        client=UnifyClient(base_url="https://example.invalid"),
        response=httpx.Response(200, json=page),
    )

    assert len(parsed.enrollments) == 3
    first, second, third = (item.status for item in parsed.enrollments)
    assert second == "PAUSED" and not isinstance(second, SequenceEnrollmentStatus)
    assert isinstance(first, SequenceEnrollmentStatus) and isinstance(
        third, SequenceEnrollmentStatus
    )
    assert first == SequenceEnrollmentStatus(page["enrollments"][0]["status"])
    reply = parsed.enrollments[1].reply_email_message
    assert isinstance(reply, EnrollmentReplyEmailMessage)  # a model, not the raw dict
    assert reply.classifications[0].category == "OUT_OF_OFFICE"
    assert parsed.enrollments[1].started_at is None and parsed.enrollments[1].ended_at is None


@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))
@given(from_schema(closed("unify", "GetBulkApiJobSuccessResponse"), custom_formats=CUSTOM_FORMATS))
def test_unknown_bulk_job_status_is_kept(job: dict[str, Any]) -> None:
    job["status"] = "QUEUED"
    parsed = get_sequence_enrollment_query_job._parse_response(
        client=UnifyClient(base_url="https://example.invalid"),
        response=httpx.Response(200, json=job),
    )
    assert parsed.status == "QUEUED"
    assert not isinstance(parsed.status, BulkApiJobStatus)


@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))
@given(from_schema(closed("boast", "SequenceEnrollmentResponse"), custom_formats=CUSTOM_FORMATS))
def test_boast_enrollment_with_an_undocumented_status_parses(body: dict[str, Any]) -> None:
    body["data"]["status"] = "paused_by_boast"
    parsed = get_sequence_enrollment._parse_response(
        client=BoastClient(base_url="https://example.invalid"),
        response=httpx.Response(200, json=body),
    )
    assert parsed.data.status == "paused_by_boast"


def test_request_enums_stay_strict() -> None:
    """Only response models widen: request models, enum classes and filters still refuse garbage."""
    with pytest.raises(ValueError, match="is not a valid SequenceEnrollmentStatus"):
        SequenceEnrollmentStatus("PAUSED_OR_WHATEVER")
    checked = 0
    for vendor, package in PACKAGES.items():
        document = json.loads((ROOT / "generated" / "spec" / f"{vendor}.openapi.json").read_text())
        components = document["components"]["schemas"]
        requests = reachable_components(list(request_schemas(document)), components)
        responses = reachable_components(list(response_schemas(document)), components)
        models = importlib.import_module(f"{package}.models")
        for name in sorted(requests - responses):
            model = getattr(models, name, None)
            if model is None or not attrs.has(model):
                continue
            for field, annotation in inspect.get_annotations(model).items():
                enum_names = [
                    n for n in models.__all__ if issubclass_enum(models, n) and n in str(annotation)
                ]
                if enum_names:
                    checked += 1
                    assert "| str" not in str(annotation), f"{name}.{field}: {annotation}"
    assert checked, "no request model with an enum field found"


def issubclass_enum(models: Any, name: str) -> bool:
    value = getattr(models, name)
    return isinstance(value, type) and issubclass(value, Enum)
