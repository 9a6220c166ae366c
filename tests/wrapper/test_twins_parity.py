"""The async twins offer what the sync clients offer: the same public methods, parameters,
defaults and annotations, a return that differs only by being awaited, and docstrings on both.
The method lists come from introspection, so a method added to one twin only fails here."""

from __future__ import annotations

import importlib.util
import inspect
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from wrapper_helpers import ROOT

from sequence_clients import AsyncBoastClient, AsyncUnifyClient, BoastClient, UnifyClient

TWINS = [(UnifyClient, AsyncUnifyClient), (BoastClient, AsyncBoastClient)]
# Context-manager protocol methods are named after the protocol, not twinned by name.
PROTOCOL = {"__enter__", "__exit__", "__aenter__", "__aexit__"}


def public(cls: type) -> dict[str, Any]:
    """Public attributes defined by the client or its wrapper bases (not object's)."""
    return {
        name: inspect.getattr_static(cls, name)
        for name in dir(cls)
        if (not name.startswith("_") or name == "__init__") and name not in PROTOCOL
        if not hasattr(object, name) or name == "__init__"
    }


def ids(pair: tuple[type, type]) -> str:
    return pair[0].__name__


@pytest.mark.parametrize("pair", TWINS, ids=ids)
def test_the_twins_offer_the_same_public_names(pair: tuple[type, type]) -> None:
    sync, asynchronous = pair
    assert public(sync).keys() == public(asynchronous).keys()
    assert len(public(sync)) > 5  # the introspection sees the named methods at all


def awaitable_return(annotation: str) -> bool:
    return annotation.startswith(("Awaitable[", "Coroutine["))


def _signature(function: Callable[..., Any]) -> inspect.Signature:
    return inspect.signature(function, eval_str=False)


@pytest.mark.parametrize("pair", TWINS, ids=ids)
def test_every_method_has_the_same_signature_on_both_twins(pair: tuple[type, type]) -> None:
    sync, asynchronous = pair
    for name, member in public(sync).items():
        twin = public(asynchronous)[name]
        assert type(member) is type(twin), name
        if isinstance(member, property):
            assert member.fget is not None and twin.fget is not None
            assert _signature(member.fget) == _signature(twin.fget), name
            continue
        if not callable(member):
            assert member == twin, name
            continue
        ours, theirs = _signature(member), _signature(twin)
        assert [_async_parameter(p) for p in ours.parameters.values()] == list(
            theirs.parameters.values()
        ), name
        if inspect.iscoroutinefunction(twin):
            # `async def f() -> T` is awaited to T: the same annotation as the sync `def f() -> T`.
            assert ours.return_annotation == theirs.return_annotation, name
            assert not inspect.iscoroutinefunction(member), name
        else:
            # A plain method of the async twin returns the async form of the sync result.
            assert theirs.return_annotation == _async_form(ours.return_annotation), name


def _async_form(annotation: Any) -> Any:
    """The one documented difference: sync pagers and httpx clients are async on the twin."""
    if not isinstance(annotation, str):  # `self`, unannotated
        return annotation
    return annotation.replace("SyncPager", "AsyncPager").replace(
        "httpx.Client", "httpx.AsyncClient"
    )


def _async_parameter(parameter: inspect.Parameter) -> inspect.Parameter:
    return parameter.replace(annotation=_async_form(parameter.annotation))


@pytest.mark.parametrize("pair", TWINS, ids=ids)
def test_the_async_twin_awaits_whatever_the_sync_one_runs(pair: tuple[type, type]) -> None:
    sync, asynchronous = pair
    for name, member in public(sync).items():
        if callable(member) and name != "__init__":
            returns = _signature(member).return_annotation
            # Pagers (iterated with `async for`) and copies are made at once; the rest is awaited.
            made_at_once = "Pager[" in returns or returns == "Self"
            assert inspect.iscoroutinefunction(public(asynchronous)[name]) is not made_at_once, name


@pytest.mark.parametrize("pair", TWINS, ids=ids)
def test_docstrings_are_on_both_twins(pair: tuple[type, type]) -> None:
    for cls in pair:
        assert inspect.getdoc(cls), cls.__name__
        for name, member in public(cls).items():
            if name != "__init__":
                function = member.fget if isinstance(member, property) else member
                assert inspect.getdoc(function), f"{cls.__name__}.{name} has no docstring"


def _twins_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("twins_script", ROOT / "scripts" / "twins.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("twins_script", module)
    spec.loader.exec_module(module)
    return module


def test_the_async_twins_are_what_the_generator_writes() -> None:
    assert _twins_module().stale() == []


def test_a_new_sync_method_reaches_the_twin_awaited(tmp_path: Path) -> None:
    twins = _twins_module()
    source = '''
class DemoClient(SyncClient):
    """Doc."""

    def get(self, thing_id: str) -> Thing:
        """One thing."""
        return self._call(get_thing.operation(thing_id)).data

    def things(self) -> SyncPager[Thing]:
        """Every thing."""
        return self._paginate(list_things.operation())
'''
    twin = twins.twin_class(source, "DemoClient")
    namespace: dict[str, Any] = {}
    exec(compile("from __future__ import annotations\n" + twin, "twin", "exec"), {
        "AsyncClient": object}, namespace)  # fmt: skip
    demo = namespace["AsyncDemoClient"]
    assert inspect.iscoroutinefunction(demo.get)
    assert "(await self._call(get_thing.operation(thing_id))).data" in twin
    assert not inspect.iscoroutinefunction(demo.things)
    assert _signature(demo.things).return_annotation == "AsyncPager[Thing]"
    assert inspect.getdoc(demo.get) == "One thing."


def test_the_generated_imports_refuse_what_the_generated_package_does_not_have() -> None:
    twins = _twins_module()
    imports, endpoints = twins.generated_imports(
        "def f(x: UnifySequence) -> Enrollment:\n    return get_sequence_enrollment.operation(x)\n",
        "unify",
    )
    assert "from sequence_clients.generated.unify.models import Enrollment" in imports
    assert (
        "from sequence_clients.generated.unify.models import Sequence as UnifySequence" in imports
    )
    assert endpoints == {
        "get_sequence_enrollment": "sequence_clients.generated.unify.api.sequence_enrollments"
        ".get_sequence_enrollment"
    }
    with pytest.raises(twins.TwinError, match=r"calls get_enrolment\.operation.*renamed"):
        twins.generated_imports("def f() -> None:\n    get_enrolment.operation()\n", "unify")
    with pytest.raises(twins.TwinError, match="annotates with Enrolment, which"):
        twins.generated_imports("def f() -> Enrolment: ...\n", "unify")
    with pytest.raises(twins.TwinError, match="uses the model Enrollment at runtime"):
        twins.generated_imports("def f() -> Enrollment:\n    return Enrollment()\n", "unify")
