"""Which generated operation a request is: (method, vendor path) -> the spec's operationId.

Read from the generated modules themselves (one module per operationId, snake_case, with the
method and URL template in `_get_kwargs`), so a regeneration that adds or renames an operation
changes this map with it. The modules are parsed, not imported: a few ms for both vendors.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import pkgutil
import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Route:
    operation: str
    method: str
    template: str
    pattern: re.Pattern[str]


def _kwargs_literal(source: str) -> tuple[str, str] | None:
    """The "method" and "url" template of a generated module's `_get_kwargs`."""
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Dict):
            continue
        found: dict[str, str] = {}
        for key, value in zip(node.keys, node.values, strict=True):
            if not (isinstance(key, ast.Constant) and key.value in ("method", "url")):
                continue
            if isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute):
                value = value.func.value  # "/v1/{id}".format(...)
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                found[key.value] = value.value
        if len(found) == 2:
            return found["method"].upper(), found["url"]
    return None


@functools.cache
def routes(vendor: str) -> tuple[Route, ...]:
    """Every operation of `vendor` ("unify" or "boast"), literal paths before templated ones."""
    package = f"sequence_clients.generated.{vendor}.api"
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise LookupError(f"no generated package {package}")
    found: list[Route] = []
    for info in pkgutil.walk_packages(spec.submodule_search_locations, package + "."):
        if info.ispkg:
            continue
        module = importlib.util.find_spec(info.name)
        if module is None or module.origin is None:
            continue
        literal = _kwargs_literal(Path(module.origin).read_text(encoding="utf-8"))
        if literal is None:
            continue
        method, template = literal
        regex = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
        name = info.name.rsplit(".", 1)[1]
        found.append(Route(name, method, template, re.compile(regex + "/?")))
    # /enrollments/query-jobs before /enrollments/{id}: the fewer placeholders, the first.
    found.sort(key=lambda route: route.template.count("{"))
    return tuple(found)


def operation_names(vendor: str) -> frozenset[str]:
    return frozenset(route.operation for route in routes(vendor))


def operation_of(vendor: str, method: str, path: str) -> str | None:
    """The operationId of a request to the vendor (path below the vendor's mount), or None."""
    for route in routes(vendor):
        if route.method == method.upper() and route.pattern.fullmatch(path):
            return route.operation
    return None
