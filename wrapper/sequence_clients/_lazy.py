"""A generated endpoint module that loads when its operation is first used.

`unify.py` and `boast.py` name about twenty generated endpoint modules; importing them all up
front was most of `from sequence_clients import UnifyClient`. Each is bound instead to a
`LazyModule`, which imports the real module on its first attribute access (the `.operation(...)`
of the first call that needs it) and forwards to it from then on. Type checkers see the real
modules: `scripts/twins.py` finds each `<name>.operation(...)` of a vendor module's hand-written
part in the generated package and writes, below its marker line, the import under `TYPE_CHECKING`
and the runtime binding.
"""

from __future__ import annotations

import importlib
from types import ModuleType


class LazyModule:
    """Stands for the module `name` until an attribute is read, then imports it."""

    __slots__ = ("_module", "_name")

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attribute: str) -> object:
        # Only reached for names not on the proxy itself: the module's own attributes.
        module = self._module
        if module is None:
            module = self._module = importlib.import_module(self._name)
        return getattr(module, attribute)

    def __repr__(self) -> str:
        state = "loaded" if self._module is not None else "not loaded yet"
        return f"<lazy module {self._name!r} ({state})>"
