"""What a process sees after `pip install sequence-clients` without the testing extra, shared by
tests/testing and tests/cli (a plain module beside tests/conftest.py, importable from both)."""

from __future__ import annotations

# Python source to run first in a child process: uvicorn and starlette cannot be imported.
HIDE_SERVER = (
    "import sys, importlib.abc\n"
    "class Hide(importlib.abc.MetaPathFinder):\n"
    "    def find_spec(self, name, path=None, target=None):\n"
    "        if name.split('.')[0] in ('uvicorn', 'starlette'):\n"
    "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
    "sys.meta_path.insert(0, Hide())\n"
)
