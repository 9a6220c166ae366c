"""The change report of `make generate`: what a vendor release changes, and for whom it breaks.

Two inputs per vendor: the committed normalised spec (generated/spec/<vendor>.openapi.json at git
HEAD) and the one just built. Every difference becomes a `Change`, judged twice:

- deployed: a service already running the old client, talking to the new API. Will the new
  responses still parse, and will its requests still be accepted?
- code: code written against the wrapper or the generated API, upgraded to the new client. Will it
  still type-check and behave the same?

Each verdict is OK, REVIEW (works, but someone should look: e.g. a new enum value arrives as a
member code has never seen) or BREAKING. The public Python API of the generated packages is
compared with griffe (`find_breaking_changes`); for each removed or changed object, the wrapper's
public functions that use it are named. Any BREAKING entry stops `make generate` unless it runs
with ALLOW_BREAKING=1.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from normalize_spec import HTTP_METHODS
from open_enums import reachable_components, request_schemas, response_schemas

Schema = dict[str, Any]
_REF_PREFIX = "#/components/schemas/"


class Verdict(Enum):
    OK = "ok"
    REVIEW = "review"
    BREAKING = "breaking"


OK, REVIEW, BREAKING = Verdict.OK, Verdict.REVIEW, Verdict.BREAKING


@dataclass(frozen=True)
class Change:
    kind: str  # e.g. "enum value added"
    where: str  # e.g. "SequenceEnrollmentStatus" or "Enrollment.status"
    detail: str
    deployed: Verdict
    code: Verdict
    why: str = ""

    @property
    def breaking(self) -> bool:
        return BREAKING in (self.deployed, self.code)

    def line(self) -> str:
        mark = (
            "BREAKING"
            if self.breaking
            else "review"
            if REVIEW in (self.deployed, self.code)
            else "ok"
        )
        why = f" ({self.why})" if self.why else ""
        return (
            f"[{mark}] {self.kind}: {self.where}{': ' + self.detail if self.detail else ''}"
            f" | deployed clients: {self.deployed.value} | code: {self.code.value}{why}"
        )


# ----------------------------------------------------------------------------- spec comparison


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


def _operations(doc: dict[str, Any]) -> dict[str, tuple[str, str, dict[str, Any]]]:
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
    before, after = _operations(old), _operations(new)
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


# ----------------------------------------------------------------------------- Python API


def api_changes(
    old_root: Path | None, new_root: Path, package: str, wrapper: Path | None
) -> list[Change]:
    """griffe's breaking changes between two generated trees, with the wrapper code that uses them.

    `old_root`/`new_root` hold the package directory; None for `old_root` means the committed tree
    (git HEAD of this repository).
    """
    import griffe  # a second or two to import: only when a report is asked for

    old = (
        _committed_api(package)
        if old_root is None
        else griffe.load(package, search_paths=[old_root])
    )
    new = griffe.load(package, search_paths=[new_root])
    users = _wrapper_users(wrapper, package) if wrapper else {}
    found: list[tuple[str, str]] = []
    for breakage in griffe.find_breaking_changes(old, new):
        detail = breakage.kind.value
        if breakage.old_value is not None and breakage.new_value is not None:
            detail += f" ({_short(breakage.old_value)} -> {_short(breakage.new_value)})"
        found.append((breakage.obj.path, detail))
    # griffe compares presence, parameters and defaults, not annotations: a field whose type
    # changes (`str` -> `int`) would pass unnamed, so annotations are compared here.
    found += _annotation_changes(old, new)
    changes = []
    for path, detail in sorted(found):  # griffe's order follows the file system's
        used_by = sorted({u for name, who in users.items() if _touches(name, path) for u in who})
        if used_by:
            detail += f"; used by {', '.join(used_by)}"
        changes.append(Change("python API", path, detail, OK, BREAKING))
    return changes


@functools.cache
def _committed_api(package: str) -> Any:
    import griffe

    root = Path(__file__).resolve().parent.parent
    return griffe.load_git(package, ref="HEAD", repo=root, search_paths=[root / "generated"])


def _annotation_changes(old: Any, new: Any) -> list[tuple[str, str]]:
    changes = []
    for obj in _api_objects(old):
        try:
            twin = new[obj.path.removeprefix(old.path + ".")]
        except KeyError:
            continue  # removed: griffe reports it
        if twin.is_alias or twin.kind != obj.kind:
            continue
        if obj.is_attribute and str(obj.annotation) != str(twin.annotation):
            changes.append((obj.path, f"type changed ({obj.annotation} -> {twin.annotation})"))
        elif obj.is_function:
            if str(obj.returns) != str(twin.returns):
                before, after = _short(obj.returns), _short(twin.returns)
                changes.append((obj.path, f"return type changed ({before} -> {after})"))
            for parameter in obj.parameters:
                if parameter.name not in twin.parameters:
                    continue
                before, after = parameter.annotation, twin.parameters[parameter.name].annotation
                if str(before) != str(after):
                    changes.append(
                        (obj.path, f"parameter {parameter.name} type changed ({before} -> {after})")
                    )
    return changes


def _api_objects(obj: Any) -> Iterator[Any]:
    for member in obj.members.values():
        if member.is_alias or (member.name.startswith("_") and member.name != "__init__"):
            continue
        yield member
        if member.is_module or member.is_class:
            yield from _api_objects(member)


def _short(value: object) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= 80 else text[:77] + "..."


def _touches(imported: str, changed: str) -> bool:
    """A wrapper import of `imported` is affected by a change to `changed` (same object or inside).

    Models are imported from the package (`models.Enrollment`) but live in their own module
    (`models.enrollment.Enrollment`): the module part is dropped before comparing.
    """
    parts = changed.split(".")
    if len(parts) > 3 and parts[1] == "models":
        changed = ".".join([*parts[:2], *parts[3:]])
    return (
        changed == imported
        or changed.startswith(imported + ".")
        or imported.startswith(changed + ".")
    )


def _wrapper_users(wrapper: Path, package: str) -> dict[str, set[str]]:
    """Generated object path (as griffe names it) -> wrapper public functions that use it."""
    users: dict[str, set[str]] = {}
    prefix = f"sequence_clients.generated.{package}"
    for source in sorted(wrapper.rglob("*.py")):
        if "generated" in source.relative_to(wrapper).parts:
            continue
        module = ".".join(("sequence_clients", *source.relative_to(wrapper).with_suffix("").parts))
        module = module.removesuffix(".__init__")
        tree = ast.parse(source.read_text())
        imported = _generated_imports(tree, module, prefix, package)
        for qualname, node in _public_functions(tree):
            names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
            names |= {
                n.value.id
                for n in ast.walk(node)
                if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)
            }
            for local in names & imported.keys():
                users.setdefault(imported[local], set()).add(f"{module}.{qualname}")
    return users


def _generated_imports(tree: ast.Module, module: str, prefix: str, package: str) -> dict[str, str]:
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = (
                    module.split(".")[: -node.level]
                    if not module.endswith("__init__")
                    else module.split(".")
                )
                base = ".".join([*parent, *([base] if base else [])])
            if not base.startswith(prefix):
                continue
            for alias in node.names:
                found[alias.asname or alias.name] = (
                    f"{package}{base.removeprefix(prefix)}.{alias.name}"
                )
    return found


def _public_functions(tree: ast.Module) -> Iterator[tuple[str, ast.AST]]:
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and not node.name.startswith(
            "_"
        ):
            yield node.name, node
        elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            for member in node.body:
                if isinstance(member, ast.FunctionDef | ast.AsyncFunctionDef) and (
                    not member.name.startswith("_") or member.name == "__init__"
                ):
                    yield f"{node.name}.{member.name}", member


# ----------------------------------------------------------------------------- the report


@dataclass(frozen=True)
class VendorReport:
    vendor: str
    old_digest: str
    new_digest: str
    changes: list[Change]

    @property
    def breaking(self) -> list[Change]:
        return [c for c in self.changes if c.breaking]

    def text(self) -> str:
        if not self.changes:
            return f"{self.vendor}: no changes against the committed spec"
        counted = f"{len(self.changes)} change(s), {len(self.breaking)} breaking"
        lines = [
            f"{self.vendor}: {counted} (normalised spec {self.old_digest} -> {self.new_digest})"
        ]
        return "\n".join([*lines, *(f"  {c.line()}" for c in self.changes)])

    def markdown(self) -> str:
        def cell(text: str) -> str:
            return text.replace("|", "\\|")

        rows = [
            f"| {c.kind} | `{cell(c.where)}` | {cell(c.detail)} | {c.deployed.value} "
            f"| {c.code.value} | {cell(c.why)} |"
            for c in self.changes
        ]
        changelog = [
            f"- {self.vendor}: {c.kind} `{c.where}`{' ' + c.detail if c.detail else ''}"
            + (" (breaking)" if c.breaking else "")
            for c in self.changes
            if c.kind != "python API"
        ]
        api = [c for c in self.changes if c.kind == "python API"]
        if api:
            changelog.append(
                f"- {self.vendor}: {len(api)} public objects of the generated package changed or"
                " removed (breaking for code; listed in spec/CHANGES.md)"
            )
        return "\n".join(
            [
                f"## {self.vendor}: normalised spec {self.old_digest} -> {self.new_digest}",
                "",
                f"{len(self.changes)} change(s), {len(self.breaking)} breaking.",
                "",
                "| Change | Where | Detail | Deployed old clients | Code using the API | Why |",
                "|---|---|---|---|---|---|",
                *rows,
                "",
                "For CHANGELOG.md, `### Vendor API changes` under `[Unreleased]`:",
                "",
                *changelog,
                "",
            ]
        )


def digest(document: dict[str, Any]) -> str:
    canonical = json.dumps(document, sort_keys=True, ensure_ascii=False).encode()
    return hashlib.sha256(canonical).hexdigest()[:12]


CHANGES_HEADER = """# Vendor API changes, as `make generate` reported them

Written by scripts/generate.py (scripts/spec_report.py): one section per regeneration that changed
a vendor's normalised spec, newest first, judged for deployed old clients and for code using the
API. Regenerating the same spec again rewrites its own section, never adds one. Do not edit by hand.
"""


def update_changes_file(path: Path, reports: list[VendorReport]) -> None:
    """Put each report with changes at the top of `path`, replacing an earlier one for the same spec."""
    sections = _sections(path.read_text()) if path.exists() else []
    for report in reversed([r for r in reports if r.changes]):
        heading = f"## {report.vendor}: normalised spec {report.old_digest} -> {report.new_digest}"
        sections = [s for s in sections if not s.startswith(heading)]
        sections.insert(0, report.markdown())
    path.write_text(CHANGES_HEADER + "".join("\n" + s.rstrip("\n") + "\n" for s in sections))


def _sections(text: str) -> list[str]:
    parts = text.split("\n## ")
    return ["## " + part for part in parts[1:]]
