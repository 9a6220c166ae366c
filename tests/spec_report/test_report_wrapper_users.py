"""spec_report.wrapper_users: public wrapper methods reach generated objects through helpers."""

from __future__ import annotations

from pathlib import Path

from spec_report.wrapper_users import touches, users_of, wrapper_users

CLIENT = """
from sequence_clients.generated.pkg.api.things import create_thing, get_thing
from .generated.pkg.models import Thing


class _Plans:
    def create(self, name):
        return create_thing.operation(body=name)

    def _unused(self):
        return get_thing


class Client:
    def __init__(self):
        self._plans = _Plans()

    def create(self, name):
        return self._plans.create(name)

    def get(self, thing_id) -> Thing:
        return self._call(get_thing.operation(thing_id))

    def export(self):
        return self._pager(lambda token: _page(token))

    def _call(self, operation):
        return operation


def _page(token):
    return get_thing.operation(token)


def build_thing() -> Thing:
    return Thing()
"""


def wrapper(tmp_path: Path) -> Path:
    root = tmp_path / "sequence_clients"
    (root / "generated").mkdir(parents=True)
    (root / "client.py").write_text(CLIENT)
    (root / "generated" / "ignored.py").write_text("from sequence_clients.generated.pkg import x\n")
    return root


def test_public_methods_are_followed_through_private_helpers(tmp_path: Path) -> None:
    users = wrapper_users(wrapper(tmp_path), "pkg")

    assert users["pkg.api.things.create_thing"] == {"sequence_clients.client.Client.create"}
    assert users["pkg.api.things.get_thing"] == {
        "sequence_clients.client.Client.get",
        "sequence_clients.client.Client.export",  # through a lambda and a module function
    }
    assert users["pkg.models.Thing"] == {
        "sequence_clients.client.Client.get",
        "sequence_clients.client.build_thing",
    }


LAZY_CLIENT = """
from sequence_clients.generated import pkg as generated
from sequence_clients.generated.pkg import models


class Client:
    def __init__(self):
        self.raw = generated.Client()

    def create(self, name):
        return models.CreateThing(name=name)
"""


def test_objects_reached_through_their_package_are_each_a_use(tmp_path: Path) -> None:
    root = wrapper(tmp_path)
    (root / "lazy.py").write_text(LAZY_CLIENT)
    users = wrapper_users(root, "pkg")

    assert users["pkg.Client"] == {"sequence_clients.lazy.Client.__init__"}
    assert users["pkg.models.CreateThing"] == {"sequence_clients.lazy.Client.create"}
    # The package's name is the way to its objects, not a use of every object in it.
    assert "pkg.models" not in users and "pkg" not in users
    assert users_of(users, "pkg.models.thing.Thing.name") == (
        "sequence_clients.client.Client.get",
        "sequence_clients.client.build_thing",
    )


def test_private_functions_and_generated_code_are_not_users(tmp_path: Path) -> None:
    users = wrapper_users(wrapper(tmp_path), "pkg")
    everyone = {user for who in users.values() for user in who}
    assert not [u for u in everyone if "._" in u or "generated" in u]
    assert "pkg.x" not in users


def test_a_change_inside_a_model_module_touches_its_importers() -> None:
    users = {"pkg.models.Thing": {"a.f"}, "pkg.api.things.get_thing": {"a.g"}}
    assert touches("pkg.models.Thing", "pkg.models.thing.Thing.name")
    assert not touches("pkg.models.Thing", "pkg.models.thing_status.ThingStatus")
    assert users_of(users, "pkg.api.things.get_thing.sync") == ("a.g",)
    assert users_of(users, "pkg.models.other.Other") == ()
