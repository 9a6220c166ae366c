"""The waits the client takes, recorded instead of taken: tests read them exactly and a
120-second Retry-After costs nothing.

Only sleeps of the test's own thread are recorded (and skipped); the in-process sandbox serves
from another thread, and its sleeps stay real. An async sleep still yields to the event loop,
so connections keep working.
"""

from __future__ import annotations

import asyncio
import threading
import time

import pytest


def record_waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    waits: list[float] = []
    test_thread = threading.current_thread()
    real_sleep, real_async_sleep = time.sleep, asyncio.sleep

    def sleep(seconds: float) -> None:
        if threading.current_thread() is test_thread:
            waits.append(seconds)
        else:
            real_sleep(seconds)

    async def async_sleep(seconds: float, result: object = None) -> object:
        if threading.current_thread() is test_thread and seconds > 0:
            waits.append(seconds)
            seconds = 0
        return await real_async_sleep(seconds, result)

    monkeypatch.setattr(time, "sleep", sleep)
    monkeypatch.setattr(asyncio, "sleep", async_sleep)
    return waits
