"""API diff: what a regeneration removes or changes in the generated packages' public Python API.

griffe compares the two trees (`find_breaking_changes`: presence, parameters, defaults); it does
not compare annotations, so a field whose type changes (`str` -> `int`) is found here. Each change
names the wrapper's public functions that reach the changed object (wrapper_users).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from .changes import BREAKING, OK, PYTHON_API, Change
from .wrapper_users import users_of, wrapper_users

if TYPE_CHECKING:
    from griffe import Object


def api_changes(old_root: Path, new_root: Path, package: str, wrapper: Path | None) -> list[Change]:
    """griffe's breaking changes between two generated trees, with the wrapper code that uses them.

    `old_root`/`new_root` hold the package directory (the baseline is the tree's own generated/,
    never git history, so a copy of the tree without .git is judged the same).
    """
    import griffe  # a second or two to import: only when a report is asked for

    old = griffe.load(package, search_paths=[old_root])
    new = griffe.load(package, search_paths=[new_root])
    users = wrapper_users(wrapper, package) if wrapper else {}
    found: list[tuple[str, str]] = []
    for breakage in griffe.find_breaking_changes(old, new):
        detail = breakage.kind.value
        if breakage.old_value is not None and breakage.new_value is not None:
            detail += f" ({short(breakage.old_value)} -> {short(breakage.new_value)})"
        found.append((breakage.obj.path, detail))
    found += annotation_changes(old, new)
    return [
        Change(PYTHON_API, path, detail, OK, BREAKING, used_by=users_of(users, path))
        for path, detail in sorted(found)  # griffe's order follows the file system's
    ]


def annotation_changes(old: Object, new: Object) -> list[tuple[str, str]]:
    """(path, detail) for every attribute, return or parameter annotation that differs."""
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
                before, after = short(obj.returns), short(twin.returns)
                changes.append((obj.path, f"return type changed ({before} -> {after})"))
            for parameter in obj.parameters:
                if parameter.name not in twin.parameters:
                    continue
                was, now = parameter.annotation, twin.parameters[parameter.name].annotation
                if str(was) != str(now):
                    changes.append(
                        (obj.path, f"parameter {parameter.name} type changed ({was} -> {now})")
                    )
    return changes


def _api_objects(obj: Object) -> Iterator[Object]:
    for member in obj.members.values():
        if member.is_alias or (member.name.startswith("_") and member.name != "__init__"):
            continue
        yield member
        if member.is_module or member.is_class:
            yield from _api_objects(member)


def short(value: object) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= 80 else text[:77] + "..."
