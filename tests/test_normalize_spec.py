"""The normaliser's rules, each on the smallest document that shows the defect it fixes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from normalize_spec import normalize

ROOT = Path(__file__).resolve().parent.parent


def document(**schemas: Any) -> dict[str, Any]:
    return {"openapi": "3.0.0", "paths": {}, "components": {"schemas": schemas}}


def test_nullable_beside_all_of_ref_becomes_ref_or_null() -> None:
    doc = document(
        Enrollment={
            "type": "object",
            "properties": {
                "started_at": {
                    "type": "string",
                    "allOf": [{"$ref": "#/components/schemas/datetime"}],
                    "nullable": True,
                    "description": "kept",
                },
            },
        }
    )
    prop = normalize(doc)["components"]["schemas"]["Enrollment"]["properties"]["started_at"]
    assert prop == {
        "anyOf": [{"$ref": "#/components/schemas/datetime"}, {"type": "null"}],
        "description": "kept",
    }


def test_nullable_plain_type_and_enum_admit_null() -> None:
    doc = document(
        Status={"type": "string", "enum": ["A", "B"], "nullable": True},
        Count={"type": "integer", "nullable": True},
    )
    schemas = normalize(doc)["components"]["schemas"]
    assert schemas["Status"] == {"type": ["string", "null"], "enum": ["A", "B", None]}
    assert schemas["Count"] == {"type": ["integer", "null"]}


def test_nullable_false_is_dropped_and_document_is_31() -> None:
    normalised = normalize(document(Name={"type": "string", "nullable": False}))
    assert normalised["openapi"] == "3.1.0"
    assert normalised["components"]["schemas"]["Name"] == {"type": "string"}


def test_sibling_properties_move_into_all_of() -> None:
    doc = document(
        Reply={
            "type": "object",
            "required": ["received_at"],
            "properties": {"received_at": {"type": "string"}},
            "allOf": [{"$ref": "#/components/schemas/Message"}],
        }
    )
    reply = normalize(doc)["components"]["schemas"]["Reply"]
    assert "properties" not in reply and "required" not in reply
    assert reply["allOf"] == [
        {"$ref": "#/components/schemas/Message"},
        {
            "type": "object",
            "properties": {"received_at": {"type": "string"}},
            "required": ["received_at"],
        },
    ]


def test_inline_union_variants_are_hoisted_and_deduplicated() -> None:
    variant = {
        "type": "object",
        "required": ["in"],
        "properties": {"in": {"type": "array", "items": {"type": "string"}}},
    }
    doc = document(
        Filter={
            "type": "object",
            "properties": {
                "id": {"anyOf": [variant, {"type": "string"}]},
                "play": {"anyOf": [dict(variant)]},
            },
        }
    )
    schemas = normalize(doc)["components"]["schemas"]
    assert schemas["FilterIdVariant1"] == variant
    assert schemas["Filter"]["properties"]["id"]["anyOf"] == [
        {"$ref": "#/components/schemas/FilterIdVariant1"},
        {"type": "string"},
    ]
    assert schemas["Filter"]["properties"]["play"]["anyOf"] == [
        {"$ref": "#/components/schemas/FilterIdVariant1"}
    ]


def test_titled_variant_keeps_its_title_as_name() -> None:
    doc = document(
        F={
            "oneOf": [
                {"title": "in set", "type": "object", "properties": {"in": {"type": "string"}}}
            ]
        }
    )
    schemas = normalize(doc)["components"]["schemas"]
    assert schemas["F"]["oneOf"] == [{"$ref": "#/components/schemas/InSet"}]


def test_operation_schemas_are_normalised_too() -> None:
    doc = {
        "openapi": "3.0.0",
        "paths": {
            "/x": {
                "get": {
                    "operationId": "get_x",
                    "responses": {
                        "200": {
                            "content": {
                                "application/json": {"schema": {"type": "string", "nullable": True}}
                            }
                        }
                    },
                }
            }
        },
    }
    schema = normalize(doc)["paths"]["/x"]["get"]["responses"]["200"]["content"][
        "application/json"
    ]["schema"]
    assert schema == {"type": ["string", "null"]}


def test_input_is_untouched_and_normalising_twice_changes_nothing() -> None:
    vendor = json.loads((ROOT / "spec" / "unify" / "openapi.json").read_text())
    pristine = json.dumps(vendor, sort_keys=True)
    once = normalize(vendor)
    assert json.dumps(vendor, sort_keys=True) == pristine
    assert normalize(once) == once
    assert "nullable" not in json.dumps(once)


def paths_document(servers: list[dict[str, Any]], paths: dict[str, Any]) -> dict[str, Any]:
    return {"openapi": "3.1.0", "servers": servers, "paths": paths, "components": {"schemas": {}}}


def test_server_path_prefix_moves_into_every_path() -> None:
    listed = {"get": {"operationId": "list_enrollments", "responses": {}}}
    prefixed = paths_document(
        [{"url": "https://api.x.com/sequences/v1/"}], {"/enrollments": listed}
    )
    rooted = paths_document([{"url": "https://api.x.com"}], {"/sequences/v1/enrollments": listed})

    assert normalize(prefixed)["servers"] == [{"url": "https://api.x.com"}]
    assert normalize(prefixed)["paths"] == normalize(rooted)["paths"]
    assert list(normalize(prefixed)["paths"]) == ["/sequences/v1/enrollments"]


def test_per_operation_and_path_servers_are_rooted_too() -> None:
    token = {"post": {"operationId": "create_token", "responses": {}}}
    item = {"servers": [{"url": "https://auth.x.com/oauth"}], **token}
    mixed = {
        "get": {"operationId": "get_a", "responses": {}},
        "post": {
            "operationId": "make_a",
            "servers": [
                {"url": "https://{region}.x.com/v2", "variables": {"region": {"default": "eu"}}}
            ],
            "responses": {},
        },
    }
    doc = paths_document([{"url": "https://api.x.com/v1"}], {"/token": item, "/a": mixed})

    normalised = normalize(doc)

    assert normalised["paths"]["/oauth/token"]["servers"] == [{"url": "https://auth.x.com"}]
    assert normalised["paths"]["/v1/a"] == {"get": mixed["get"]}
    assert normalised["paths"]["/v2/a"]["post"]["servers"] == [{"url": "https://eu.x.com"}]


def test_unify_31_excerpt_and_committed_document_give_the_same_urls() -> None:
    import yaml

    excerpt = yaml.safe_load(
        (ROOT.parent / "shared/reference/unify/create-enrollment.openapi.yaml").read_text()
    )
    committed = json.loads((ROOT / "spec" / "unify" / "openapi.json").read_text())

    def urls(document: dict[str, Any]) -> dict[str, str]:
        normalised = normalize(document)
        host = normalised["servers"][0]["url"]
        return {
            operation["operationId"]: f"{method.upper()} {host}{path}"
            for path, item in normalised["paths"].items()
            for method, operation in item.items()
            if isinstance(operation, dict) and "operationId" in operation
        }

    from_excerpt, from_committed = urls(excerpt), urls(committed)
    assert from_excerpt
    assert {op: from_committed[op] for op in from_excerpt} == from_excerpt
