"""Stateful fake of the Unify Sequences API (work in progress: auth only)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .core import ASGIApp
from .data import DataGen


class UnifyState:
    def __init__(
        self, seed: int = 0, job_ttl: float = 3600.0, clock: Callable[[], float] = time.time
    ) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.job_ttl = job_ttl
        gen = DataGen(seed, "unify/keys")
        self.api_keys = ["sandbox_unify_" + gen.token(16)]

    def error_body(self, status: int, code: str, message: str) -> dict[str, Any]:
        return {"status": code, "message": message}


def build_unify_app(state: UnifyState) -> ASGIApp:
    async def list_sequences(request: Request) -> JSONResponse:
        if request.headers.get("x-api-key") not in state.api_keys:
            return JSONResponse(state.error_body(401, "unauthorized", "Unauthorized"), 401)
        return JSONResponse({"sequences": [], "next_cursor": None})

    return Starlette(routes=[Route("/sequences/v1/sequences", list_sequences)])
