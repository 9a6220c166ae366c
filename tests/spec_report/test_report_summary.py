"""spec_report.summary: one group per operation or model, one Python entry per public name, and
the semantic-version bump."""

from __future__ import annotations

import pytest

from spec_report import BREAKING, OK, PYTHON_API, REVIEW, Bump, Change, bump_for, group_changes
from spec_report.summary import Subjects, owner, pascal

SUBJECTS = Subjects(
    {"get_thing": "pkg.api.things.get_thing", "list_things": "pkg.api.things.list_things"},
    frozenset({"Thing", "ThingStatus"}),
)


def api(where: str, detail: str = "Public object was removed") -> Change:
    return Change(PYTHON_API, where, detail, OK, BREAKING, used_by=("sequence_clients.x.C.m",))


@pytest.mark.parametrize(
    ("version", "bump", "expected"),
    [
        ("0.1.0", Bump.MAJOR, "1.0.0"),
        ("1.4.2", Bump.MINOR, "1.5.0"),
        ("1.4.2", Bump.PATCH, "1.4.3"),
        ("1.4.2", Bump.NONE, "1.4.2"),
    ],
)
def test_bump_applies_semver(version: str, bump: Bump, expected: str) -> None:
    assert bump.apply(version) == expected


def test_a_version_that_is_not_semver_is_refused() -> None:
    with pytest.raises(ValueError, match=r"MAJOR\.MINOR\.PATCH"):
        Bump.MINOR.apply("1.0")


def test_bump_follows_the_code_verdict_then_additions() -> None:
    added = Change("enum value added", "S", "'X'", OK, REVIEW)
    moved = Change("operation moved", "op", "", BREAKING, OK)
    relaxed = Change("parameter made optional", "op(query q)", "", OK, OK)
    assert bump_for([added, api("pkg.api.t.op")]) is Bump.MAJOR
    assert bump_for([moved, added]) is Bump.MINOR  # breaks old deployments, not code: not major
    assert bump_for([relaxed]) is Bump.PATCH
    assert bump_for([], document_changed=True) is Bump.PATCH
    assert bump_for([], document_changed=False) is Bump.NONE


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("pkg.api.things.get_thing.sync", ("operation", "get_thing", "sync")),
        ("pkg.api.things.get_thing", ("operation", "get_thing", "")),
        ("pkg.models.thing.Thing.status", ("model", "Thing", "status")),
        ("pkg.models.Thing", ("model", "Thing", "")),
        ("pkg.models.thing_status", ("model", "ThingStatus", "")),
        # generated for one operation's error answer: counted with the operation
        (
            "pkg.models.get_thing_response_404",
            ("operation", "get_thing", "models.GetThingResponse404"),
        ),
        # generated for one property of a model: counted with the model
        ("pkg.models.thing_owner.ThingOwner.name", ("model", "Thing", "ThingOwner.name")),
        ("pkg.types.Unset.x", ("other", "pkg.types.Unset", "x")),
    ],
)
def test_owner_of_a_python_path(path: str, expected: tuple[str, str, str]) -> None:
    assert owner(path, SUBJECTS) == expected


def test_pascal_matches_the_generators_class_names() -> None:
    assert pascal("get_thing_response_404") == "GetThingResponse404"
    assert pascal("Thing") == "Thing"


def test_the_five_functions_of_an_operation_are_one_entry() -> None:
    functions = ["sync", "sync_detailed", "asyncio", "asyncio_detailed", "operation"]
    changes = [api(f"pkg.api.things.list_things.{f}", "Parameter was removed") for f in functions]
    changes.append(api("pkg.models.list_things_response_400.ListThingsResponse400"))

    (group,) = group_changes(changes, SUBJECTS)

    assert (group.kind, group.name, group.python) == (
        "operation",
        "pkg.api.things.list_things",
        True,
    )
    assert group.members() == {
        "Parameter was removed": functions,
        "Public object was removed": ["models.ListThingsResponse400"],
    }
    assert group.used_by == ("sequence_clients.x.C.m",)


def test_spec_changes_group_under_their_operation_or_model() -> None:
    changes = [
        Change("parameter removed", "list_things(query limit)", "", REVIEW, BREAKING),
        Change("operation removed", "get_thing", "GET /things/{id}", BREAKING, BREAKING),
        Change("property removed", "Thing.owner", "", OK, BREAKING),
        Change("enum value added", "Thing.status[]", "'X'", OK, REVIEW),
    ]

    groups = group_changes(changes, SUBJECTS)

    assert [(g.kind, g.subject, len(g.changes)) for g in groups] == [
        ("operation", "list_things", 1),
        ("operation", "get_thing", 1),
        ("model", "Thing", 2),
    ]
    assert all(not g.python for g in groups) and groups[2].breaking
