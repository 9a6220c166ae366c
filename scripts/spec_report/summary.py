"""The report's shape for a reader: changes grouped per operation or model, Python API changes per
public name (one entry for `sync`, `sync_detailed`, `asyncio`, `asyncio_detailed` and `operation`
of one operation), and the semantic-version bump the changes imply.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import IntEnum

from .changes import BREAKING, PYTHON_API, Change

# Kinds that add to what code can do: a minor release when nothing breaks.
ADDITIONS = frozenset(
    {
        "operation added",
        "schema added",
        "optional parameter added",
        "optional property added",
        "required property added",
        "enum value added",
    }
)


class Bump(IntEnum):
    """Ordered, so the largest of several is the release's."""

    NONE = 0
    PATCH = 1
    MINOR = 2
    MAJOR = 3

    def apply(self, version: str) -> str:
        match = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)", version)
        if match is None:
            raise ValueError(f"version {version!r} is not MAJOR.MINOR.PATCH")
        major, minor, patch = (int(part) for part in match.groups())
        if self is Bump.MAJOR:
            return f"{major + 1}.0.0"
        if self is Bump.MINOR:
            return f"{major}.{minor + 1}.0"
        if self is Bump.PATCH:
            return f"{major}.{minor}.{patch + 1}"
        return version


def bump_for(changes: Iterable[Change], document_changed: bool = True) -> Bump:
    """Breaking for code -> major; added operations, fields, parameters or enum values -> minor;
    any other change of the document (descriptions, relaxed constraints) -> patch."""
    changes = list(changes)
    if any(c.code is BREAKING for c in changes):
        return Bump.MAJOR
    if any(c.kind in ADDITIONS for c in changes):
        return Bump.MINOR
    return Bump.PATCH if changes or document_changed else Bump.NONE


@dataclass(frozen=True)
class Subjects:
    """What a change can belong to: the operations (operationId -> the generated module's path,
    e.g. `unify.api.sequences.list_sequences`) and the models (class names) of both releases."""

    operations: dict[str, str] = field(default_factory=dict)
    models: frozenset[str] = frozenset()


@dataclass
class Group:
    """All changes to one operation or model: in the spec, or in the generated Python API."""

    subject: str  # operationId or model class name
    kind: str  # "operation" or "model"
    python: bool  # a group of Python API changes (their public name: `name`)
    name: str
    changes: list[Change] = field(default_factory=list)
    inside: list[str] = field(default_factory=list)  # per change: what in `name` it touches

    @property
    def breaking(self) -> bool:
        return any(c.breaking for c in self.changes)

    @property
    def used_by(self) -> tuple[str, ...]:
        return tuple(sorted({u for c in self.changes for u in c.used_by}))

    def members(self) -> dict[str, list[str]]:
        """detail -> the members it applies to ("" for the public name itself), first-seen order:
        `sync`, `sync_detailed`, `asyncio`, `asyncio_detailed`, `operation` in one line."""
        found: dict[str, list[str]] = {}
        for change, inside in zip(self.changes, self.inside, strict=True):
            listed = found.setdefault(change.detail, [])
            if inside not in listed:
                listed.append(inside)
        return found


def group_changes(changes: Iterable[Change], subjects: Subjects) -> list[Group]:
    """Spec changes per operation (operationId) or model (schema name); Python API changes per
    public name, a model generated for one operation (`GetSequenceEnrollmentResponse400`) or
    one property (`EnrollmentEnrolledByPlay`) counted with its owner. First-seen order, which
    follows the sorted report."""
    groups: dict[tuple[bool, str, str], Group] = {}
    for change in changes:
        python = change.kind == PYTHON_API
        if python:
            kind, subject, inside = owner(change.where, subjects)
        else:
            subject, inside = spec_subject(change.where), change.where
            kind = "operation" if subject in subjects.operations else "model"
        key = (python, kind, subject)
        if key not in groups:
            groups[key] = Group(
                subject, kind, python, _name(kind, subject, python, change, subjects)
            )
        groups[key].changes.append(change)
        groups[key].inside.append(inside)
    return list(groups.values())


def _name(kind: str, subject: str, python: bool, change: Change, subjects: Subjects) -> str:
    if not python:
        return subject
    package = change.where.split(".", 1)[0]
    if kind == "operation":
        return subjects.operations.get(subject) or f"{package}.api.{subject}"
    if kind == "model":
        return f"{package}.models.{subject}"
    return subject


def spec_subject(where: str) -> str:
    """`Enrollment.status[]` -> `Enrollment`; `list_sequences(query limit)` -> `list_sequences`."""
    return re.split(r"[(. \[]", where, maxsplit=1)[0]


def pascal(name: str) -> str:
    """The class name the generator gives a schema or module name (`get_x_response_400` ->
    `GetXResponse400`)."""
    return "".join(word[:1].upper() + word[1:] for word in re.split(r"[^0-9A-Za-z]+", name) if word)


def owner(path: str, subjects: Subjects) -> tuple[str, str, str]:
    """(kind, subject, member) for a griffe path of the generated package: an operation's module
    and what is in it (`unify.api.sequences.list_sequences.sync` -> operation list_sequences,
    `sync`), or a model and its attribute (`unify.models.enrollment.Enrollment.status` -> model
    Enrollment, `status`); "" as member for the object itself."""
    parts = path.split(".")
    if len(parts) >= 4 and parts[1] == "api":
        return "operation", parts[3], ".".join(parts[4:])
    if len(parts) >= 3 and parts[1] == "models":
        # models.<module>.<Class>.<attr>, or models.<Class> (re-export) / models.<module>
        cls, rest = (parts[3], parts[4:]) if len(parts) >= 4 else (pascal(parts[2]), [])
        inside = ".".join(rest)
        if cls in subjects.models:
            return "model", cls, inside
        for op_id in sorted(subjects.operations, key=len, reverse=True):
            if cls.startswith(pascal(op_id)):
                return "operation", op_id, ".".join(["models", cls, *rest])
        for model in sorted(subjects.models, key=len, reverse=True):
            if cls.startswith(model):
                return "model", model, ".".join([cls, *rest])
        return "model", cls, inside
    for index, part in enumerate(parts):
        if part[:1].isupper():
            return "other", ".".join(parts[: index + 1]), ".".join(parts[index + 1 :])
    return "other", path, ""
