"""Spec diff: every difference between two normalised documents that a client can notice.

Each becomes a `Change` judged twice:

- deployed: a service already running the old client, talking to the new API. Will the new
  responses still parse, and will its requests still be accepted?
- code: code written against the wrapper or the generated API, upgraded to the new client. Will it
  still type-check and behave the same?

Each verdict is OK, REVIEW (works, but someone should look: e.g. a new enum value arrives as a
member code has never seen) or BREAKING.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from normalize_spec import HTTP_METHODS
from open_enums import reachable_components, request_schemas, response_schemas

from .changes import BREAKING, OK, REVIEW, Change

Schema = dict[str, Any]
_REF_PREFIX = "#/components/schemas/"


def spec_changes(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    """Every difference between two normalised documents that a client can notice."""
    changes = list(_operation_changes(old, new))
    old_schemas = old.get("components", {}).get("schemas", {})
    new_schemas = new.get("components", {}).get("schemas", {})
    directions = _Directions(old, new)
    for name in sorted(old_schemas.keys() - new_schemas.keys()):
        changes.append(
            Change(
                "schema removed", name, "", OK, BREAKING, "its model class is no longer generated"
            )
        )
    for name in sorted(new_schemas.keys() - old_schemas.keys()):
        changes.append(Change("schema added", name, "", OK, OK))
    for name in sorted(old_schemas.keys() & new_schemas.keys()):
        changes += _schema_changes(
            old_schemas[name], new_schemas[name], name, directions.of(name), old, new
        )
    return changes


class _Directions:
    """Whether a component travels in responses, requests or both (in either release)."""

    def __init__(self, *documents: dict[str, Any]) -> None:
        self.responses: set[str] = set()
        self.requests: set[str] = set()
        for doc in documents:
            components = doc.get("components", {}).get("schemas", {})
            self.responses |= reachable_components(list(response_schemas(doc)), components)
            self.requests |= reachable_components(list(request_schemas(doc)), components)

    def of(self, name: str) -> frozenset[str]:
        return frozenset({"response"} if name in self.responses else set()) | frozenset(
            {"request"} if name in self.requests else set()
        )


def operations(doc: dict[str, Any]) -> dict[str, tuple[str, str, dict[str, Any]]]:
    """operationId -> (method, absolute URL, operation): a move is a change of absolute URL."""
    found = {}
    document_server = _server(doc.get("servers"), "")
    for path, item in doc.get("paths", {}).items():
        item_server = _server(item.get("servers"), document_server)
        for method in HTTP_METHODS:
            if method in item:
                operation = item[method]
                url = _server(operation.get("servers"), item_server).rstrip("/") + path
                found[operation.get("operationId", f"{method} {path}")] = (method, url, operation)
    return found


def _server(servers: Any, default: str) -> str:
    return str(servers[0].get("url", "")) if servers else default


def _operation_changes(old: dict[str, Any], new: dict[str, Any]) -> Iterator[Change]:
    before, after = operations(old), operations(new)
    for op_id in sorted(before.keys() - after.keys()):
        method, path, _ = before[op_id]
        yield Change(
            "operation removed", op_id, f"{method.upper()} {path}", BREAKING, BREAKING,
            "old clients calling it get an error; its generated module is gone",
        )  # fmt: skip
    for op_id in sorted(after.keys() - before.keys()):
        method, path, _ = after[op_id]
        yield Change("operation added", op_id, f"{method.upper()} {path}", OK, OK)
    for op_id in sorted(before.keys() & after.keys()):
        (old_method, old_path, old_op), (new_method, new_path, new_op) = before[op_id], after[op_id]
        if (old_method, old_path) != (new_method, new_path):
            yield Change(
                "operation moved", op_id,
                f"{old_method.upper()} {old_path} -> {new_method.upper()} {new_path}",
                BREAKING, OK, "old clients still call the old URL; the function keeps its name",
            )  # fmt: skip
        yield from _parameter_changes(op_id, old_op, new_op)
        for where, old_schema, new_schema, direction in _inline_schemas(op_id, old_op, new_op):
            yield from _schema_changes(old_schema, new_schema, where, direction, old, new)


def _parameter_changes(
    op_id: str, old_op: dict[str, Any], new_op: dict[str, Any]
) -> Iterator[Change]:
    def keyed(op: dict[str, Any]) -> dict[str, dict[str, Any]]:
        return {
            f"{p.get('in')} {p.get('name')}": p for p in op.get("parameters", []) if "name" in p
        }

    before, after = keyed(old_op), keyed(new_op)
    for key in sorted(before.keys() - after.keys()):
        yield Change(
            "parameter removed", f"{op_id}({key})", "", REVIEW, BREAKING,
            "old clients may still send it; the keyword argument is gone",
        )  # fmt: skip
    for key in sorted(after.keys() - before.keys()):
        if after[key].get("required"):
            yield Change(
                "required parameter added", f"{op_id}({key})", "", BREAKING, BREAKING,
                "old clients do not send it; calls need a new argument",
            )  # fmt: skip
        else:
            yield Change("optional parameter added", f"{op_id}({key})", "", OK, OK)
    for key in sorted(before.keys() & after.keys()):
        was, now = bool(before[key].get("required")), bool(after[key].get("required"))
        if now and not was:
            yield Change(
                "parameter made required", f"{op_id}({key})", "", BREAKING, BREAKING,
                "old clients may omit it",
            )  # fmt: skip
        elif was and not now:
            yield Change("parameter made optional", f"{op_id}({key})", "", OK, OK)
        old_schema, new_schema = before[key].get("schema", {}), after[key].get("schema", {})
        yield from _schema_changes(
            old_schema, new_schema, f"{op_id}({key})", frozenset({"request"}), {}, {}
        )


def _inline_schemas(
    op_id: str, old_op: dict[str, Any], new_op: dict[str, Any]
) -> Iterator[tuple[str, Schema, Schema, frozenset[str]]]:
    """Inline (non-$ref) request and response schemas present in both releases."""
    for media, old_media in old_op.get("requestBody", {}).get("content", {}).items():
        new_media = new_op.get("requestBody", {}).get("content", {}).get(media)
        if new_media and "$ref" not in old_media.get("schema", {}):
            yield (
                f"{op_id} request body",
                old_media.get("schema", {}),
                new_media.get("schema", {}),
                frozenset({"request"}),
            )
    for status, old_response in old_op.get("responses", {}).items():
        new_response = new_op.get("responses", {}).get(status, {})
        for media, old_media in old_response.get("content", {}).items():
            new_media = new_response.get("content", {}).get(media)
            if new_media and "$ref" not in old_media.get("schema", {}):
                yield (
                    f"{op_id} response {status}",
                    old_media.get("schema", {}),
                    new_media.get("schema", {}),
                    frozenset({"response"}),
                )


def _schema_changes(
    old: Schema,
    new: Schema,
    where: str,
    direction: frozenset[str],
    old_doc: dict[str, Any],
    new_doc: dict[str, Any],
) -> Iterator[Change]:
    responds, requests = "response" in direction, "request" in direction
    old_shape, new_shape = _shape(old), _shape(new)
    if old_shape != new_shape:
        yield Change(
            "type changed", where, f"{old_shape} -> {new_shape}",
            BREAKING if responds else REVIEW, BREAKING,
            "old clients parse the old type; the attribute's type changes",
        )  # fmt: skip
        return
    was_nullable, is_nullable = _nullable(old), _nullable(new)
    if is_nullable and not was_nullable:
        yield Change(
            "became nullable", where, "", BREAKING if responds and _constructed(old) else
            REVIEW if responds else OK, BREAKING if responds else OK,
            "a null arrives where the old client builds a value"
            if _constructed(old) else "a null arrives where the old type says it cannot",
        )  # fmt: skip
    elif was_nullable and not is_nullable:
        yield Change("no longer nullable", where, "", OK, REVIEW if requests else OK)
    old_values, new_values = _enum_values(old), _enum_values(new)
    for value in [v for v in new_values if v not in old_values]:
        yield Change(
            "enum value added", where, repr(value), OK, REVIEW if responds else OK,
            "old clients keep it as a str (open enums); new code gets a member" if responds else "",
        )  # fmt: skip
    for value in [v for v in old_values if v not in new_values]:
        yield Change(
            "enum value removed", where, repr(value), BREAKING if requests else OK, BREAKING,
            "old clients may still send it" if requests else "code using the member breaks",
        )  # fmt: skip
    yield from _property_changes(old, new, where, direction, old_doc, new_doc)
    if isinstance(old.get("items"), dict) and isinstance(new.get("items"), dict):
        yield from _schema_changes(
            old["items"], new["items"], f"{where}[]", direction, old_doc, new_doc
        )


def _property_changes(
    old: Schema,
    new: Schema,
    where: str,
    direction: frozenset[str],
    old_doc: dict[str, Any],
    new_doc: dict[str, Any],
) -> Iterator[Change]:
    responds, requests = "response" in direction, "request" in direction
    (old_props, old_required), (new_props, new_required) = _object(old), _object(new)
    for name in sorted(old_props.keys() - new_props.keys()):
        required_before = name in old_required and not _nullable(old_props[name])
        yield Change(
            "property removed", f"{where}.{name}", "",
            BREAKING if responds and required_before else REVIEW if requests else OK, BREAKING,
            "old clients require it in every response" if responds and required_before
            else "the attribute is gone",
        )  # fmt: skip
    for name in sorted(new_props.keys() - old_props.keys()):
        if name in new_required and requests:
            yield Change(
                "required property added", f"{where}.{name}", "", BREAKING, BREAKING,
                "old clients do not send it; building the model needs it",
            )  # fmt: skip
        else:
            kind = "required property added" if name in new_required else "optional property added"
            yield Change(
                kind, f"{where}.{name}", "", OK, OK, "old clients keep it in additional_properties"
            )
    for name in sorted(old_props.keys() & new_props.keys()):
        was, now = name in old_required, name in new_required
        nullable = _nullable(new_props[name])
        if was and not now:
            yield Change(
                "required -> optional", f"{where}.{name}", "",
                OK if not responds or _nullable(old_props[name]) else BREAKING, BREAKING if responds else OK,
                "old clients fail when it is absent" if responds and not nullable
                else "the attribute may now be Unset",
            )  # fmt: skip
        elif now and not was:
            yield Change(
                "optional -> required", f"{where}.{name}", "",
                BREAKING if requests else OK, BREAKING if requests else OK,
                "old clients may omit it" if requests else "",
            )  # fmt: skip
        yield from _schema_changes(
            old_props[name], new_props[name], f"{where}.{name}", direction, old_doc, new_doc
        )


def _object(schema: Schema) -> tuple[dict[str, Schema], set[str]]:
    """Own properties and required names, through inline allOf members."""
    properties = dict(schema.get("properties", {}))
    required = set(schema.get("required", []))
    for member in schema.get("allOf", []):
        if "$ref" not in member:
            more, more_required = _object(member)
            properties.update(more)
            required |= more_required
    return properties, required


def _non_null(members: Iterable[Schema]) -> list[Schema]:
    return [m for m in members if m.get("type") != "null"]


def _shape(schema: Schema) -> str:
    """The type a client builds for `schema`, without nullability or enum values."""
    if "$ref" in schema:
        return str(schema["$ref"]).removeprefix(_REF_PREFIX)
    for keyword in ("anyOf", "oneOf"):
        if keyword in schema:
            members = _non_null(schema[keyword])
            if len(members) == 1:
                return _shape(members[0])
            return f"{keyword}({', '.join(sorted(_shape(m) for m in members))})"
    if "allOf" in schema:
        bases = [_shape(m) for m in schema["allOf"] if "$ref" in m]
        return f"object({', '.join(bases)})" if bases else "object"
    kinds = schema.get("type", [])
    kinds = [k for k in (kinds if isinstance(kinds, list) else [kinds]) if k != "null"]
    if not kinds:
        return "object" if "properties" in schema else "any"
    text = "|".join(sorted(kinds))
    if "format" in schema:
        text += f"<{schema['format']}>"
    if text == "array" and isinstance(schema.get("items"), dict):
        text = f"array[{_shape(schema['items'])}]"
    return text


def _nullable(schema: Schema) -> bool:
    kinds = schema.get("type", [])
    return (
        "null" in (kinds if isinstance(kinds, list) else [kinds])
        or None in schema.get("enum", [])
        or any(m.get("type") == "null" for k in ("anyOf", "oneOf") for m in schema.get(k, []))
    )


def _constructed(schema: Schema) -> bool:
    """Whether the old client builds an object from the value (and so fails on null)."""
    shape = _shape(schema)
    return not (shape in {"string", "integer", "number", "boolean", "any"} and "enum" not in schema)


def _enum_values(schema: Schema) -> list[Any]:
    return [v for v in schema.get("enum", []) if v is not None]
