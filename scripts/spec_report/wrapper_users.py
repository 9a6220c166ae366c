"""Wrapper users scan: which public functions of the wrapper reach which generated objects.

Read from the wrapper's source with `ast` (nothing is imported, so a half-regenerated tree cannot
break the scan). A public method often delegates to a private helper (`UnifyClient.enroll` ->
`_UnifyPlans.enroll` -> `create_sequence_enrollment`), so uses are followed through the functions
of the same module a function calls, by name: `helper(...)`, `self.helper(...)` and
`self._plans.helper(...)`. Following by name may over-report (two methods of one name), never
under-report, which is the safe side for a change report.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

GENERATED_PREFIX = "sequence_clients.generated."


@dataclass
class _Function:
    qualname: str
    public: bool
    uses: set[str] = field(default_factory=set)  # generated object paths, e.g. unify.models.X
    calls: set[str] = field(default_factory=set)  # bare names of functions it may call


def wrapper_users(wrapper: Path, package: str) -> dict[str, set[str]]:
    """Generated object path (`<package>.api.<tag>.<op>`, `<package>.models.<Name>`) -> the
    wrapper's public functions (`sequence_clients.unify.UnifyClient.enroll`) that reach it."""
    sources = [
        source
        for source in sorted(wrapper.rglob("*.py"))
        if "generated" not in source.relative_to(wrapper).parts
    ]
    # One run of `make generate` asks several times (the report, then docs/api.md per vendor);
    # the scan is kept for as long as no file changes.
    stamp = tuple((str(source), source.stat().st_mtime_ns) for source in sources)
    key = (str(wrapper.resolve()), package, stamp)
    if key not in _SCANS:
        if len(_SCANS) > 8:  # edited sources: older scans are stale
            _SCANS.clear()
        _SCANS[key] = _scan(wrapper, sources, package)
    return {name: set(users) for name, users in _SCANS[key].items()}


_SCANS: dict[tuple[str, str, tuple[tuple[str, int], ...]], dict[str, set[str]]] = {}


def _scan(wrapper: Path, sources: list[Path], package: str) -> dict[str, set[str]]:
    users: dict[str, set[str]] = {}
    for source in sources:
        relative = source.relative_to(wrapper)
        parts = ["sequence_clients", *relative.with_suffix("").parts]
        is_package = parts[-1] == "__init__"
        module = ".".join(parts[:-1] if is_package else parts)
        tree = ast.parse(source.read_text())
        imported = generated_imports(tree, parts[:-1], package)
        functions = list(_functions(tree, imported))
        by_name: dict[str, list[_Function]] = {}
        for function in functions:
            by_name.setdefault(function.qualname.rsplit(".", 1)[-1], []).append(function)
        for function in functions:
            if function.public:
                for used in _reach(function, by_name):
                    users.setdefault(used, set()).add(f"{module}.{function.qualname}")
    return users


def generated_imports(tree: ast.Module, package_parts: list[str], package: str) -> dict[str, str]:
    """Local name -> generated object path, for every import from
    `sequence_clients.generated.<package>`; `package_parts` names the package the module is in
    (what a relative import starts from)."""
    prefix = GENERATED_PREFIX + package
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package_parts[: len(package_parts) - (node.level - 1)]
                base = ".".join([*parent, *([base] if base else [])])
            for alias in node.names:
                # `from <prefix> import models` and `from sequence_clients.generated import unify`
                # both name a generated module: its objects are then reached as `models.X`.
                full = f"{base}.{alias.name}"
                if full == prefix or full.startswith(prefix + "."):
                    found[alias.asname or alias.name] = package + full.removeprefix(prefix)
    return found


def _functions(tree: ast.Module, imported: dict[str, str]) -> Iterator[_Function]:
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield _function(node.name, node, not node.name.startswith("_"), imported)
        elif isinstance(node, ast.ClassDef):
            for member in node.body:
                if isinstance(member, ast.FunctionDef | ast.AsyncFunctionDef):
                    public = not node.name.startswith("_") and (
                        not member.name.startswith("_") or member.name == "__init__"
                    )
                    yield _function(f"{node.name}.{member.name}", member, public, imported)


def _function(qualname: str, node: ast.AST, public: bool, imported: dict[str, str]) -> _Function:
    function = _Function(qualname, public)
    # `models.X` uses the model X, not every model: the package's name is only the way there.
    # (An endpoint module is itself what is used: `create_thing.operation(...)`.)
    via_module = set()
    for child in ast.walk(node):
        if (
            isinstance(child, ast.Attribute)
            and isinstance(child.value, ast.Name)
            and _is_namespace(imported.get(child.value.id))
        ):
            function.uses.add(f"{imported[child.value.id]}.{child.attr}")
            via_module.add(id(child.value))
    for child in ast.walk(node):
        if isinstance(child, ast.Name):
            if child.id in imported and id(child) not in via_module:
                function.uses.add(imported[child.id])
            function.calls.add(child.id)
        elif isinstance(child, ast.Attribute) and _on_self(child.value):
            function.calls.add(child.attr)
    return function


def _is_namespace(path: str | None) -> bool:
    """A generated package whose objects are reached through it: the root or its models."""
    return path is not None and ("." not in path or path.endswith(".models"))


def _on_self(node: ast.expr) -> bool:
    """`self.x` or `self._plans.x`: where a method reaches its own class and its helpers."""
    if isinstance(node, ast.Attribute):
        node = node.value
    return isinstance(node, ast.Name) and node.id in ("self", "cls")


def _reach(start: _Function, by_name: dict[str, list[_Function]]) -> set[str]:
    reached: set[str] = set()
    seen = {id(start)}
    todo = [start]
    while todo:
        function = todo.pop()
        reached |= function.uses
        for name in function.calls:
            for callee in by_name.get(name, []):
                if id(callee) not in seen:
                    seen.add(id(callee))
                    todo.append(callee)
    return reached


def touches(imported: str, changed: str) -> bool:
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


def users_of(users: dict[str, set[str]], changed: str) -> tuple[str, ...]:
    """The wrapper functions affected by a change to the generated object `changed`, sorted."""
    return tuple(sorted({u for name, who in users.items() if touches(name, changed) for u in who}))
