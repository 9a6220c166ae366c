"""CPU per request of each async HTTP client, side by side: the transports and the wrapper on each.

Against a plain HTTP/1.1 keep-alive server in another process (bench/_plain_server.py), 16
requests in flight, each client in a fresh process of its own, warmed up, then timed
(`time.process_time`, the client process's own CPU) over --requests requests:

  httpx               a bare httpx.AsyncClient (httpcore, anyio, h11)
  httpx-aiohttp       httpx.AsyncClient on httpx-aiohttp's AiohttpTransport, as published
  aiohttp             a plain aiohttp.ClientSession: the floor
  generated/httpx     the generated `pause_sequence.asyncio_detailed` on httpx
  generated/aiohttp   the same on sequence_clients.AioHttpClient
  wrapper/httpx       AsyncUnifyClient.pause_sequence on its default httpx client
  wrapper/aiohttp     AsyncUnifyClient.pause_sequence on AioHttpClient

Rounds interleave the kinds in a shuffled order, so a busy machine weighs on all alike; the
figures are medians over rounds. Targets: wrapper ÷ generated <= 1.10 on each transport.

    .venv/bin/python bench/transport.py [--rounds 5] [--requests 3000] [--in-flight 16]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from _harness import machine

SERVER = Path(__file__).with_name("_plain_server.py")
SEQUENCE_ID = uuid.UUID("3d1f0e2c-5b4a-4c3d-9e8f-7a6b5c4d3e2f")
PATH = f"/sequences/v1/sequences/{SEQUENCE_ID}/pause"
KINDS = (
    "httpx",
    "httpx-aiohttp",
    "aiohttp",
    "generated/httpx",
    "generated/aiohttp",
    "wrapper/httpx",
    "wrapper/aiohttp",
)
TARGET_WRAPPER_VS_GENERATED = 1.10
WARM_UP = 300
Send = Callable[[], Awaitable[object]]


def bench_env() -> dict[str, str]:
    """The environment for measured child processes: bytecode cached, as an install has it."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


async def _sender(kind: str, url: str) -> tuple[Send, Callable[[], Awaitable[None]]]:
    """One request of `kind` as a coroutine function, and how to close what it holds."""
    headers = {"x-api-key": "bench-key"}
    if kind == "aiohttp":
        import aiohttp

        session = aiohttp.ClientSession(base_url=url, headers=headers)

        async def plain() -> object:
            async with session.post(PATH) as response:
                response.raise_for_status()
                return await response.json()

        return plain, session.close
    import httpx

    if kind in ("httpx", "httpx-aiohttp"):
        transport = None
        if kind == "httpx-aiohttp":
            from httpx_aiohttp import AiohttpTransport

            transport = AiohttpTransport()
        http = httpx.AsyncClient(base_url=url, headers=headers, transport=transport)

        async def bare() -> object:
            response = await http.post(PATH)
            response.raise_for_status()
            return response.json()

        return bare, http.aclose
    layer, _, backend = kind.partition("/")
    from sequence_clients import AioHttpClient

    http = AioHttpClient() if backend == "aiohttp" else httpx.AsyncClient()
    if layer == "generated":
        from sequence_clients.generated.unify import Client
        from sequence_clients.generated.unify.api.sequences import pause_sequence

        http.base_url = httpx.URL(url)
        http.headers.update(headers)
        http.timeout = httpx.Timeout(30)
        client = Client(base_url=url).set_async_httpx_client(http)

        async def generated() -> object:
            return (await pause_sequence.asyncio_detailed(SEQUENCE_ID, client=client)).parsed

        return generated, http.aclose
    from sequence_clients import AsyncUnifyClient

    wrapper = AsyncUnifyClient("bench-key", base_url=url, httpx_client=http)

    async def wrapped() -> object:
        return await wrapper.pause_sequence(SEQUENCE_ID)

    return wrapped, http.aclose


async def _client_run(kind: str, url: str, requests: int, in_flight: int) -> float:
    """CPU seconds per request of `kind`, after a warm-up."""
    send, close = await _sender(kind, url)

    async def worker(count: int) -> None:
        for _ in range(count):
            await send()

    async def batch(total: int) -> None:
        share, extra = divmod(total, in_flight)
        await asyncio.gather(*(worker(share + (i < extra)) for i in range(in_flight)))

    await batch(WARM_UP)
    start = time.process_time()
    await batch(requests)
    cpu = time.process_time() - start
    await close()
    return cpu / requests


def run_client(kind: str, url: str, requests: int, in_flight: int) -> float:
    done = subprocess.run(
        [sys.executable, __file__, "--client", kind, "--url", url,
         "--requests", str(requests), "--in-flight", str(in_flight)],
        capture_output=True, text=True, env=bench_env(), check=False,
    )  # fmt: skip
    if done.returncode:
        raise RuntimeError(f"{kind} failed:\n{done.stderr}")
    return float(json.loads(done.stdout)["cpu_per_request"])


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--in-flight", type=int, default=16)
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--client", help=argparse.SUPPRESS)  # a child process: one kind
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        seconds = asyncio.run(_client_run(args.client, args.url, args.requests, args.in_flight))
        print(json.dumps({"cpu_per_request": seconds}))
        return 0

    kinds = args.kinds.split(",")
    print(f"machine: {machine()}")
    print(
        f"{args.requests} requests per run, {args.in_flight} in flight, {args.rounds} rounds, "
        "each client a fresh process; the server a process of its own"
    )
    server = subprocess.Popen(
        [sys.executable, str(SERVER)], stdout=subprocess.PIPE, text=True, env=bench_env()
    )
    try:
        assert server.stdout is not None
        url = f"http://127.0.0.1:{int(server.stdout.readline())}"
        samples: dict[str, list[float]] = {kind: [] for kind in kinds}
        rng = random.Random(0)
        for kind in kinds:  # one untimed run each: bytecode caches written, imports warm
            run_client(kind, url, 200, args.in_flight)
        for _ in range(args.rounds):
            order = list(kinds)
            rng.shuffle(order)
            for kind in order:
                samples[kind].append(run_client(kind, url, args.requests, args.in_flight))
    finally:
        server.terminate()
        server.wait()

    medians = {kind: statistics.median(values) for kind, values in samples.items()}
    floor = medians.get("aiohttp")
    print(f"\n  {'client':<18} {'CPU µs/request':>15} {'min':>7} {'max':>7} {'÷ aiohttp':>10}")
    for kind in kinds:
        values = samples[kind]
        versus = f"{medians[kind] / floor:>10.2f}" if floor else ""
        print(
            f"  {kind:<18} {medians[kind] * 1e6:>15.0f} {min(values) * 1e6:>7.0f}"
            f" {max(values) * 1e6:>7.0f} {versus}"
        )
    checks: dict[str, bool] = {}
    for backend in ("httpx", "aiohttp"):
        wrapper, generated = f"wrapper/{backend}", f"generated/{backend}"
        if wrapper in medians and generated in medians:
            ratio = medians[wrapper] / medians[generated]
            print(f"  {wrapper} ÷ {generated} = {ratio:.3f}")
            checks[f"{wrapper} ÷ {generated} <= {TARGET_WRAPPER_VS_GENERATED} ({ratio:.3f})"] = (
                ratio <= TARGET_WRAPPER_VS_GENERATED
            )
    if "wrapper/httpx" in medians and "wrapper/aiohttp" in medians:
        gain = medians["wrapper/httpx"] / medians["wrapper/aiohttp"]
        print(f"  wrapper on httpx ÷ wrapper on aiohttp = {gain:.2f}")
    missed = [name for name, ok in checks.items() if not ok]
    print("targets: all met" if not missed else f"targets missed: {'; '.join(missed)}")
    return 0 if not missed else 1


if __name__ == "__main__":
    sys.exit(main())
