"""Open response enums: the generator's view of a normalised document, for forward compatibility.

Vendors add enum values without notice (`PAUSED`, `QUEUED`, a new reply category). A client
generated from the closed enum raises on the first unknown value, and one such item fails a whole
list page. So before the generator runs, every string enum that a *response* can carry is widened
at the place it is used:

    status: {$ref: SequenceEnrollmentStatus}
 -> status: {anyOf: [{$ref: SequenceEnrollmentStatus}, {type: string}]}

openapi-python-client turns that into `status: SequenceEnrollmentStatus | str`: a known value is
the enum member (comparisons with members keep working), an unknown one is kept as its string, and
mypy makes every caller handle both. The enum classes themselves stay strict, so request-side code
(`SequenceEnrollmentStatus("garbage")`, request models and query parameters, which are not
widened) still refuses values the vendor does not list.

Two kinds of enum stay closed: request-only schemas, and single-valued enums inside a variant of a
multi-member union (`type: [AND]`, `status: [results_not_ready]`). Those are tags: the union parser
tries each variant in turn and needs the tag to refuse the wrong one.

This view is only what the generator reads; generated/spec/*.json keeps the vendor's closed enums,
because the sandbox contract check and the change report need the contract as published.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from normalize_spec import HTTP_METHODS

Schema = dict[str, Any]
_OPEN_STRING: Schema = {"type": "string"}
_REF_PREFIX = "#/components/schemas/"


def open_response_enums(document: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of a normalised document whose response enums accept any string."""
    doc = copy.deepcopy(document)
    components: dict[str, Schema] = doc.get("components", {}).get("schemas", {})
    response_roots = list(response_schemas(doc))
    reachable = reachable_components(response_roots, components)
    variants = _union_variants(components)

    for name in sorted(reachable):
        if _is_enum(components[name]):
            continue  # the enum itself stays strict; its uses are widened
        _widen_sites(components[name], components, keep_tags=name in variants)
    for schema in response_roots:
        _widen_sites(schema, components, keep_tags=False)
    return doc


def response_schemas(doc: dict[str, Any]) -> Iterator[Schema]:
    responses = doc.get("components", {}).get("responses", {})
    for path_item in doc.get("paths", {}).values():
        for method in HTTP_METHODS:
            for response in path_item.get(method, {}).get("responses", {}).values():
                if "$ref" in response:
                    response = responses.get(response["$ref"].rsplit("/", 1)[-1], {})
                for media in response.get("content", {}).values():
                    if isinstance(media.get("schema"), dict):
                        yield media["schema"]


def request_schemas(doc: dict[str, Any]) -> Iterator[Schema]:
    for path_item in doc.get("paths", {}).values():
        for method in HTTP_METHODS:
            operation = path_item.get(method, {})
            for parameter in [*path_item.get("parameters", []), *operation.get("parameters", [])]:
                if isinstance(parameter.get("schema"), dict):
                    yield parameter["schema"]
            for media in operation.get("requestBody", {}).get("content", {}).values():
                if isinstance(media.get("schema"), dict):
                    yield media["schema"]


def reachable_components(roots: list[Schema], components: dict[str, Schema]) -> set[str]:
    seen: set[str] = set()
    pending = [ref for root in roots for ref in _refs(root)]
    while pending:
        name = pending.pop()
        if name in seen or name not in components:
            continue
        seen.add(name)
        pending.extend(_refs(components[name]))
    return seen


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_REF_PREFIX):
            yield ref.removeprefix(_REF_PREFIX)
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _union_variants(components: dict[str, Schema]) -> set[str]:
    """Components that are one of several members of an anyOf/oneOf, with their allOf bases."""
    variants: set[str] = set()

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            for keyword in ("anyOf", "oneOf"):
                members = [m for m in node.get(keyword, []) if m.get("type") != "null"]
                if len(members) > 1:
                    variants.update(
                        m["$ref"].removeprefix(_REF_PREFIX) for m in members if "$ref" in m
                    )
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for item in node:
                collect(item)

    collect(components)
    pending = list(variants)
    while pending:
        for member in components.get(pending.pop(), {}).get("allOf", []):
            base = member.get("$ref", "").removeprefix(_REF_PREFIX)
            if base and base not in variants:
                variants.add(base)
                pending.append(base)
    return variants


def _widen_sites(schema: Schema, components: dict[str, Schema], keep_tags: bool) -> None:
    """Widen every enum used inside `schema`, without following references."""
    for keyword in ("anyOf", "oneOf"):
        if keyword in schema:
            members = schema[keyword]
            if any(_is_open_enum_site(m, components, keep_tags) for m in members):
                if _OPEN_STRING not in members:
                    schema[keyword] = [*members, _OPEN_STRING]
                continue
            for member in members:
                _widen_sites(member, components, keep_tags)
    for member in schema.get("allOf", []):
        _widen_sites(member, components, keep_tags)
    children: list[tuple[Any, str, str | None]] = [
        (schema, "items", None),
        (schema, "additionalProperties", None),
    ]
    children += [(schema["properties"], name, name) for name in schema.get("properties", {})]
    for holder, key, property_name in children:
        child = holder.get(key)
        if not isinstance(child, dict):
            continue
        if _is_open_enum_site(child, components, keep_tags):
            holder[key] = _widened(child, property_name, components)
        else:
            _widen_sites(child, components, keep_tags)


def _is_open_enum_site(schema: Any, components: dict[str, Schema], keep_tags: bool) -> bool:
    if not isinstance(schema, dict):
        return False
    if "$ref" in schema:
        target = components.get(schema["$ref"].removeprefix(_REF_PREFIX), {})
        return _is_enum(target) and not (keep_tags and _is_tag(target))
    return _is_enum(schema) and not (keep_tags and _is_tag(schema))


def _is_enum(schema: Schema) -> bool:
    values = [v for v in schema.get("enum", []) if v is not None]
    return bool(values) and all(isinstance(v, str) for v in values)


def _is_tag(schema: Schema) -> bool:
    return len([v for v in schema.get("enum", []) if v is not None]) == 1


def _widened(site: Schema, property_name: str | None, components: dict[str, Schema]) -> Schema:
    """`site` or any string; an inline enum keeps the class name the generator gave it before."""
    annotations: Schema = {k: site[k] for k in ("description", "default") if k in site}
    if "$ref" in site and "description" not in annotations:
        target = components[site["$ref"].removeprefix(_REF_PREFIX)]
        annotations.update(
            {"description": target["description"]} if "description" in target else {}
        )
    enum = {k: v for k, v in site.items() if k not in annotations}
    members = [enum]
    if "$ref" not in enum:
        nullable = None in enum["enum"] or "null" in _types(enum)
        enum["enum"] = [v for v in enum["enum"] if v is not None]
        enum["type"] = "string"
        if property_name and "title" not in enum:
            enum["title"] = property_name
        members = [enum, {"type": "null"}] if nullable else [enum]
    return {"anyOf": [*members, _OPEN_STRING], **annotations}


def _types(schema: Schema) -> list[str]:
    kind = schema.get("type", [])
    return kind if isinstance(kind, list) else [kind]
