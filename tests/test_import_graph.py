"""The layers of `sequence_clients` stay layers: no import cycle anywhere in the package, and
the bulk engine never imports the CLI (the CLI imports the engine, never the other way).

The graph is read from the source with `ast`, so it holds every import a module can make:
module level, inside functions (the lazy ones), under `if TYPE_CHECKING:`,
`importlib.import_module` with a literal name, and the modules a `_LAZY` table names (the
package's exports and the CLI's commands load through `import_module(f".{name}", ...)` on
first use: a table of relative module names, each a string or a tuple's first string). The generated HTTP layers are code we do not
write (`make generate`): imports into them count, their own internals are not read.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE_DIR = Path(__file__).resolve().parent.parent / "wrapper" / "sequence_clients"
PACKAGE = "sequence_clients"
# Generated code (links to generated/): only its package's __init__ is a node of the graph.
GENERATED = f"{PACKAGE}.generated"

Graph = dict[str, set[str]]


def module_files(root: Path, package: str) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package but the generated ones."""
    found: dict[str, Path] = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if parts[0] == "generated" and len(parts) > 1 and parts[1] != "__init__":
            continue
        names = [package, *parts]
        if names[-1] == "__init__":
            names.pop()
        found[".".join(names)] = path
    return found


def _absolute(module: str, is_package: bool, level: int, name: str | None) -> str:
    """The absolute name a `from <level dots><name> import ...` in `module` refers to."""
    if level == 0:
        return name or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, name] if name else base)


def _imported(module: str, is_package: bool, node: ast.AST) -> Iterator[str]:
    """The modules (or names in modules) one import statement or call asks for."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom):
        source = _absolute(module, is_package, node.level, node.module)
        # `from pkg import sub` imports the module pkg.sub; `from mod import name` imports mod.
        yield from (f"{source}.{alias.name}" for alias in node.names)
        yield source
    elif isinstance(node, ast.Call):
        function = node.func
        called = function.attr if isinstance(function, ast.Attribute) else None
        called = function.id if isinstance(function, ast.Name) else called
        first = node.args[0] if node.args else None
        if called == "import_module" and isinstance(first, ast.Constant):
            name = str(first.value)
            stripped = name.lstrip(".")
            yield _absolute(module, is_package, len(name) - len(stripped), stripped or None)
    elif isinstance(node, ast.Assign | ast.AnnAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        named = any(isinstance(t, ast.Name) and t.id == "_LAZY" for t in targets)
        if named and isinstance(node.value, ast.Dict):
            for value in node.value.values:
                first = value.elts[0] if isinstance(value, ast.Tuple) and value.elts else value
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    yield _absolute(module, is_package, 1, first.value)


def import_graph(root: Path, package: str) -> Graph:
    """module -> the package's modules it imports (explicitly; a package's own __init__,
    which Python runs first anyway, is an edge only when imported by name)."""
    files = module_files(root, package)
    graph: Graph = {name: set() for name in files}
    for module, path in files.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if not isinstance(
                node, ast.Import | ast.ImportFrom | ast.Call | ast.Assign | ast.AnnAssign
            ):
                continue
            targets = list(_imported(module, is_package, node))
            if isinstance(node, ast.ImportFrom):
                # Each imported name: the submodule when it is one, else the module it is from.
                source = targets.pop()
                targets = [t if t in files else source for t in targets]
            for target in targets:
                while target and target not in files:  # a name, or a generated module
                    target = target.rpartition(".")[0]
                if target and target != module:
                    graph[module].add(target)
    return graph


def cycles(graph: Graph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def reachable(graph: Graph, start: set[str]) -> set[str]:
    seen: set[str] = set()
    todo = list(start)
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo.extend(graph.get(node, ()))
    return seen


def describe(graph: Graph, component: list[str]) -> str:
    members = set(component)
    return "\n".join(
        f"  {module} -> {', '.join(sorted(graph[module] & members))}" for module in component
    )


@pytest.fixture(scope="module")
def graph() -> Graph:
    return import_graph(PACKAGE_DIR, PACKAGE)


def test_the_graph_sees_the_package_and_its_lazy_imports(graph: Graph) -> None:
    """The reader finds what it is meant to: imports inside functions and through
    importlib, generated code as one leaf."""
    assert f"{PACKAGE}.bulk.engine" in graph and f"{PACKAGE}.cli.app" in graph
    assert not any(name.startswith(GENERATED + ".") for name in graph)
    assert graph[GENERATED] == set()
    app = graph[f"{PACKAGE}.cli.app"]
    assert f"{PACKAGE}.cli.demo" in app  # imported inside the `demo` command
    assert f"{PACKAGE}.cli.boast_cmds" in app  # named in app's _LAZY command table
    assert f"{PACKAGE}.unify" in graph[PACKAGE]  # named in the package's _LAZY exports
    assert GENERATED in graph[f"{PACKAGE}.unify"]


def test_the_package_has_no_import_cycle(graph: Graph) -> None:
    found = cycles(graph)
    assert not found, "import cycles:\n" + "\n\n".join(describe(graph, c) for c in found)


def test_the_bulk_engine_never_reaches_the_cli(graph: Graph) -> None:
    engine = {name for name in graph if name.split(".")[:2] == [PACKAGE, "bulk"]}
    assert f"{PACKAGE}.bulk.engine" in engine
    cli = {name for name in reachable(graph, engine) if name.split(".")[:2] == [PACKAGE, "cli"]}
    assert not cli


def test_a_cycle_through_lazy_and_type_checking_imports_is_found(tmp_path: Path) -> None:
    """The checks above can fail: a cycle hidden in a function and under TYPE_CHECKING."""
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "a.py").write_text("def f():\n    from .sub import b\n")
    (package / "sub" / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..c import Thing\n"
    )
    (package / "c.py").write_text(
        "import importlib\nThing = 1\nimportlib.import_module('.a', __package__)\n"
    )
    (package / "d.py").write_text("from pkg import c\n")  # absolute: an edge, not in the cycle
    graph = import_graph(package, "pkg")
    assert cycles(graph) == [["pkg.a", "pkg.c", "pkg.sub.b"]]
    assert graph["pkg.d"] == {"pkg.c"}
    assert reachable(graph, {"pkg.d"}) == {"pkg.d", "pkg.c", "pkg.a", "pkg.sub.b"}
