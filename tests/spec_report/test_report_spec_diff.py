"""spec_report.spec_diff on small documents: each kind of difference, judged twice."""

from __future__ import annotations

import copy
from typing import Any

from spec_report import BREAKING, OK, REVIEW, Change
from spec_report.spec_diff import operations, spec_changes

Document = dict[str, Any]


def document(server: str = "https://api.example.com", prefix: str = "/v1") -> Document:
    status = {"type": "string", "enum": ["ACTIVE", "DONE"]}
    thing = {
        "type": "object",
        "required": ["id"],
        "properties": {"id": {"type": "string"}, "status": {"$ref": "#/components/schemas/S"}},
    }
    return {
        "openapi": "3.0.0",
        "servers": [{"url": server}],
        "paths": {
            f"{prefix}/things": {
                "get": {
                    "operationId": "list_things",
                    "parameters": [{"name": "limit", "in": "query", "schema": {"type": "integer"}}],
                    "responses": {"200": _json({"$ref": "#/components/schemas/Thing"})},
                },
                "post": {
                    "operationId": "create_thing",
                    "requestBody": _json({"$ref": "#/components/schemas/NewThing"}),
                    "responses": {"201": _json({"$ref": "#/components/schemas/Thing"})},
                },
            }
        },
        "components": {
            "schemas": {
                "S": status,
                "Thing": thing,
                "NewThing": {"type": "object", "properties": {"name": {"type": "string"}}},
            }
        },
    }


def _json(schema: Document) -> Document:
    return {"content": {"application/json": {"schema": schema}}}


def one(changes: list[Change], kind: str) -> Change:
    matching = [c for c in changes if c.kind == kind]
    assert len(matching) == 1, [c.line() for c in changes]
    return matching[0]


def test_same_document_has_no_changes() -> None:
    assert spec_changes(document(), document()) == []


def test_operations_are_keyed_by_absolute_url() -> None:
    in_paths = operations(document())
    in_server = operations(document(server="https://api.example.com/v1", prefix=""))
    assert in_paths == in_server
    assert in_paths["list_things"][:2] == ("get", "https://api.example.com/v1/things")


def test_removed_operation_breaks_both() -> None:
    new = copy.deepcopy(document())
    del new["paths"]["/v1/things"]["post"]
    removed = one(spec_changes(document(), new), "operation removed")
    assert (removed.where, removed.deployed, removed.code) == ("create_thing", BREAKING, BREAKING)
    assert one(spec_changes(new, document()), "operation added").code is OK


def test_moved_operation_breaks_deployed_clients_only() -> None:
    new = copy.deepcopy(document())
    new["paths"]["/v2/things"] = {"post": new["paths"]["/v1/things"].pop("post")}
    moved = one(spec_changes(document(), new), "operation moved")
    assert (moved.deployed, moved.code) == (BREAKING, OK)


def test_removed_parameter_breaks_code() -> None:
    new = copy.deepcopy(document())
    new["paths"]["/v1/things"]["get"]["parameters"] = []
    removed = one(spec_changes(document(), new), "parameter removed")
    assert removed.where == "list_things(query limit)"
    assert (removed.deployed, removed.code) == (REVIEW, BREAKING)


def test_enum_value_in_a_response_is_for_review() -> None:
    new = copy.deepcopy(document())
    new["components"]["schemas"]["S"]["enum"].append("PAUSED")
    added = one(spec_changes(document(), new), "enum value added")
    assert (added.where, added.detail, added.deployed, added.code) == ("S", "'PAUSED'", OK, REVIEW)


def test_required_request_property_added_breaks_both() -> None:
    new = copy.deepcopy(document())
    schema = new["components"]["schemas"]["NewThing"]
    schema["properties"]["owner"] = {"type": "string"}
    schema["required"] = ["owner"]
    added = one(spec_changes(document(), new), "required property added")
    assert (added.where, added.deployed, added.code) == ("NewThing.owner", BREAKING, BREAKING)


def test_response_type_change_breaks_both() -> None:
    new = copy.deepcopy(document())
    new["components"]["schemas"]["Thing"]["properties"]["id"] = {"type": "integer"}
    changed = one(spec_changes(document(), new), "type changed")
    assert (changed.where, changed.detail) == ("Thing.id", "string -> integer")
    assert changed.breaking
