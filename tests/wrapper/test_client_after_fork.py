"""A client used before `os.fork()` (gunicorn --preload, celery prefork) and then by the parent
and its children at once, against the sandbox as a real process: every answer belongs to the
request that asked for it, because each child sends on a connection pool of its own."""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from sequence_clients import UnifyClient, errors

CHILDREN = 4
CALLS = 60  # per process: with one socket shared, answers cross within a few


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def unify_sandbox() -> Iterator[dict[str, str]]:
    """`python -m sequence_clients.sandbox` as its own process; its banner's variables."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "sequence_clients.sandbox", "--port", str(port), "--seed", "5"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        fields: dict[str, str] = {}
        ends = time.monotonic() + 30
        while "UNIFY_API_KEY" not in fields and time.monotonic() < ends:
            line = process.stdout.readline()
            if line.startswith("export "):
                fields |= dict(w.split("=", 1) for w in line.split("#")[0].split()[1:])
        assert "UNIFY_API_KEY" in fields, f"no banner (exit code {process.poll()})"
        yield fields
    finally:
        process.kill()
        process.wait(timeout=10)


def crossed_answers(unify: UnifyClient, ids: list[str], seed: int) -> int:
    """How many of CALLS reads by id came back with another id."""
    chooser = random.Random(seed)
    crossed = 0
    for _ in range(CALLS):
        wanted = chooser.choice(ids)
        crossed += str(unify.get_sequence(wanted).id) != wanted
    return crossed


def in_children(work: Callable[[int], int]) -> list[int]:
    """Run `work(n)` in CHILDREN forked processes while the parent runs `work(0)`: each one's
    result (an exit status: 0 good, 1 wrong, 2 an exception, 3 a typed ForkedClientError)."""
    pids = []
    for n in range(1, CHILDREN + 1):
        pid = os.fork()
        if pid == 0:  # the child: never return into pytest
            try:
                status = work(n)
            except errors.ForkedClientError:
                status = 3
            except BaseException:
                status = 2
            os._exit(status)
        pids.append(pid)
    results = [work(0)]
    for pid in pids:
        _, status = os.waitpid(pid, 0)
        results.append(os.waitstatus_to_exitcode(status))
    return results


def test_a_client_used_before_fork_never_crosses_answers(unify_sandbox: dict[str, str]) -> None:
    unify = UnifyClient(
        unify_sandbox["UNIFY_API_KEY"], base_url=unify_sandbox["UNIFY_BASE_URL"], max_retries=0
    )
    ids = [str(sequence.id) for sequence in unify.list_sequences()]
    assert len(ids) > 1
    unify.get_sequence(ids[0])  # a kept-alive connection in the pool at the fork

    results = in_children(lambda n: 1 if crossed_answers(unify, ids, seed=n) else 0)

    assert results == [0] * (CHILDREN + 1)
    assert str(unify.get_sequence(ids[-1]).id) == ids[-1]  # the parent's pool still works
    unify.close()


def test_a_callers_httpx_client_in_a_child_is_a_typed_error(
    unify_sandbox: dict[str, str],
) -> None:
    http = httpx.Client()
    unify = UnifyClient(
        unify_sandbox["UNIFY_API_KEY"], base_url=unify_sandbox["UNIFY_BASE_URL"], httpx_client=http
    )
    ids = [str(sequence.id) for sequence in unify.list_sequences()]

    def read(n: int) -> int:
        return 1 if crossed_answers(unify, ids, seed=n) else 0

    results = in_children(read)
    assert results == [0] + [3] * CHILDREN  # the parent reads; every child is told why not
    http.close()
