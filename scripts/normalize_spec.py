"""Rewrite a vendor OpenAPI document into the OpenAPI 3.1 dialect that openapi-python-client reads
faithfully.

Each rule fixes a *kind* of problem, wherever it appears, so that a new vendor release with the same
habits is fixed without anyone touching this file. One-off defects belong in the vendor's overlay.

Rules, in the order they run:
1. ``nullable`` (3.0) becomes 3.1 ``null`` typing. Beside ``allOf``/``$ref`` the generator drops
   ``nullable`` silently, so a real ``null`` from the server crashes ``from_dict``.
2. Sibling ``properties``/``required`` next to ``allOf`` move into the ``allOf`` list; the generator
   reads only the ``allOf`` members and loses the schema's own properties.
3. Inline object variants inside ``anyOf``/``oneOf`` are hoisted into named components; the generator
   cannot build them inline ("Invalid property in union", openapi-python-client issue #1428) and drops
   every operation that touches them.
4. Paths become host-rooted: the path part of the server URL (``servers`` of the document, of a
   path item or of an operation) moves into each path, and the servers keep only scheme and host.
   Releases split the same URL differently (``https://api.x.com`` + ``/v1/a`` or
   ``https://api.x.com/v1`` + ``/a``); the generator ignores servers, so without this rule a
   regeneration would silently send every request to another URL. ``base_url`` is the host root.
"""

from __future__ import annotations

import copy
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

Schema = dict[str, Any]

# Keywords whose values are schemas or lists/maps of schemas.
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SCHEMA_SINGLE = ("items", "not", "additionalProperties", "contains", "if", "then", "else")
_SCHEMA_MAPS = ("properties", "patternProperties", "$defs")
_OBJECT_KEYWORDS = ("properties", "required", "additionalProperties")
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def normalize(document: dict[str, Any]) -> dict[str, Any]:
    """Return a normalised deep copy of ``document``; the input is left untouched."""
    doc = copy.deepcopy(document)
    doc["openapi"] = "3.1.0"
    components = doc.setdefault("components", {}).setdefault("schemas", {})
    hoisted: dict[str, str] = {}  # canonical JSON of a hoisted variant -> component name

    def visit(schema: Any, name: str) -> None:
        if not isinstance(schema, dict):
            return
        _fold_nullable(schema)
        _move_sibling_properties_into_all_of(schema)
        for keyword in ("anyOf", "oneOf"):
            for index, variant in enumerate(schema.get(keyword, [])):
                if _is_inline_object(variant):
                    variant_name = _variant_name(variant, name, index)
                    visit(variant, variant_name)
                    schema[keyword][index] = {"$ref": _hoist(variant, variant_name)}
        for child, child_name in _children(schema, name):
            visit(child, child_name)

    def _hoist(variant: Schema, preferred: str) -> str:
        key = json.dumps(variant, sort_keys=True)
        if key not in hoisted:
            name = preferred
            suffix = 2
            while name in components:
                name, suffix = f"{preferred}{suffix}", suffix + 1
            components[name] = variant
            hoisted[key] = name
        return f"#/components/schemas/{hoisted[key]}"

    for name in list(components):
        visit(components[name], name)
    for path, path_item in doc.get("paths", {}).items():
        for method, operation in path_item.items():
            if isinstance(operation, dict):
                for schema, where in _operation_schemas(operation):
                    visit(schema, _pascal(f"{operation.get('operationId', method + path)} {where}"))
    _root_paths_at_host(doc)
    return doc


def _root_paths_at_host(doc: dict[str, Any]) -> None:
    """Rule 4: move every server URL's path prefix into the paths it serves."""
    document_prefix = _strip_server_paths(doc.get("servers"))
    rooted: dict[str, Any] = {}
    for path, path_item in doc.get("paths", {}).items():
        item_prefix = _strip_server_paths(path_item.get("servers"), default=document_prefix)
        shared = {k: v for k, v in path_item.items() if k not in HTTP_METHODS}
        for method in HTTP_METHODS:
            if method not in path_item:
                continue
            operation = path_item[method]
            prefix = _strip_server_paths(operation.get("servers"), default=item_prefix)
            target = rooted.setdefault(_join(prefix, path), copy.deepcopy(shared))
            target[method] = operation
        if not any(method in path_item for method in HTTP_METHODS):
            rooted.setdefault(_join(item_prefix, path), shared)
    if "paths" in doc:
        doc["paths"] = rooted


def _strip_server_paths(servers: Any, default: str = "") -> str:
    """Reduce each server to its host root; return the first one's path prefix."""
    if not servers:
        return default
    prefixes: list[str] = []
    for server in servers:
        url = str(server.get("url", ""))
        for name, variable in server.get("variables", {}).items():
            url = url.replace("{" + name + "}", str(variable.get("default", "")))
        parts = urlsplit(url)
        prefixes.append(parts.path.rstrip("/"))
        server["url"] = urlunsplit((parts.scheme, parts.netloc, "", "", "")) or "/"
        server.pop("variables", None)
    return prefixes[0]


def _join(prefix: str, path: str) -> str:
    return prefix + ("/" + path.lstrip("/") if path.strip("/") else "") or "/"


def _fold_nullable(schema: Schema) -> None:
    if not schema.pop("nullable", False):
        return
    composed = [k for k in ("allOf", "anyOf", "oneOf") if k in schema]
    if "$ref" in schema or (composed == ["allOf"] and len(schema["allOf"]) == 1):
        # `{type: X, allOf: [$ref], nullable: true}`: the reference or null.
        target = {"$ref": schema.pop("$ref")} if "$ref" in schema else schema.pop("allOf")[0]
        schema.pop("type", None)
        schema["anyOf"] = [target, {"type": "null"}]
    elif composed:
        inner = {k: schema.pop(k) for k in composed}
        schema.pop("type", None)
        schema["anyOf"] = [inner, {"type": "null"}]
    elif "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if "null" not in types:
            schema["type"] = [*types, "null"]
        if "enum" in schema and None not in schema["enum"]:
            schema["enum"] = [*schema["enum"], None]


def _move_sibling_properties_into_all_of(schema: Schema) -> None:
    if "allOf" not in schema or not any(k in schema for k in _OBJECT_KEYWORDS):
        return
    own: Schema = {"type": "object"}
    for keyword in _OBJECT_KEYWORDS:
        if keyword in schema:
            own[keyword] = schema.pop(keyword)
    schema["allOf"] = [*schema["allOf"], own]


def _is_inline_object(schema: Any) -> bool:
    return (
        isinstance(schema, dict)
        and "$ref" not in schema
        and (schema.get("type") == "object" or "properties" in schema)
    )


def _variant_name(variant: Schema, context: str, index: int) -> str:
    if isinstance(variant.get("title"), str):
        return _pascal(variant["title"])
    return f"{context}Variant{index + 1}"


def _children(schema: Schema, name: str) -> Iterator[tuple[Any, str]]:
    for keyword in _SCHEMA_LISTS:
        for child in schema.get(keyword, []):
            yield child, name
    for keyword in _SCHEMA_SINGLE:
        if isinstance(schema.get(keyword), dict):
            yield schema[keyword], f"{name}Item" if keyword == "items" else name
    for keyword in _SCHEMA_MAPS:
        for prop, child in schema.get(keyword, {}).items():
            yield child, name + _pascal(prop)


def _operation_schemas(operation: dict[str, Any]) -> Iterator[tuple[Any, str]]:
    for parameter in operation.get("parameters", []):
        if "schema" in parameter:
            yield parameter["schema"], f"param {parameter.get('name', '')}"
    body = operation.get("requestBody", {})
    for media in body.get("content", {}).values():
        if "schema" in media:
            yield media["schema"], "body"
    for status, response in operation.get("responses", {}).items():
        for media in response.get("content", {}).values():
            if "schema" in media:
                yield media["schema"], f"response {status}"


def _pascal(text: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^0-9A-Za-z]+", text) if part)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: normalize_spec.py INPUT OUTPUT.json", file=sys.stderr)
        return 2
    import yaml  # YAML is a superset of JSON, so one loader reads either form

    document = yaml.safe_load(Path(argv[0]).read_text())
    Path(argv[1]).write_text(json.dumps(normalize(document), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
