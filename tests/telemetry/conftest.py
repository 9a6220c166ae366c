"""Telemetry tests drive the client as the wrapper tests do: with their virtual clock."""

from __future__ import annotations

import sys
from pathlib import Path

# tests/wrapper's helpers (virtual_clock) are modules of that directory, not a package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "wrapper"))
