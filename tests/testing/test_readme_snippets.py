"""The README's Python works as written: the first-call and usage snippets run, each in a fresh
interpreter, in a shell holding only the exports `sequence-clients sandbox` prints; the testing
snippet runs as a service's test file under pytest. The first-call shell block stays within
five commands."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
CLI = [sys.executable, "-m", "sequence_clients.cli"]
TESTING_SECTION = "Testing your own service"


def sections() -> dict[str, str]:
    text = README.read_text()
    return {
        part.split("\n", 1)[0]: part.split("\n", 1)[1]
        for part in re.split(r"^## ", text, flags=re.M)[1:]
    }


def blocks(language: str, body: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", body, re.S)


def python_snippets() -> list[tuple[str, str]]:
    return [
        (title, code)
        for title, body in sections().items()
        if title != TESTING_SECTION
        for code in blocks("python", body)
    ]


@pytest.fixture(scope="module")
def sandbox_exports(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    first_call = sections()["A first call, against the sandbox"]
    (shell,) = blocks("sh", first_call)
    commands = [line for line in shell.splitlines() if line.strip()]
    assert len(commands) <= 5
    words = shlex.split(commands[-1], comments=True)
    assert words[:2] == ["sequence-clients", "sandbox"]
    process = subprocess.Popen(
        [*CLI, *words[1:], "--port", "0"], cwd=tmp_path_factory.mktemp("sandbox"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        exports: dict[str, str] = {}
        for line in process.stdout:
            if line.startswith("export "):
                for word in shlex.split(line, comments=True)[1:]:
                    name, _, value = word.partition("=")
                    exports[name] = value
            if line.startswith("Inspect"):
                break
        yield exports
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)


def test_the_readme_has_the_snippets_this_test_runs() -> None:
    titles = [title for title, _ in python_snippets()]
    assert "A first call, against the sandbox" in titles and "Using the clients" in titles
    assert len(blocks("python", sections()[TESTING_SECTION])) == 1


def test_readme_python_runs_against_the_sandbox(
    sandbox_exports: dict[str, str], tmp_path: Path
) -> None:
    # Nothing of the developer's shell: only what the banner exports.
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        **sandbox_exports,
    }
    outputs: dict[str, str] = {}
    for title, code in python_snippets():
        ran = subprocess.run(
            [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
            timeout=120,
        )  # fmt: skip
        assert ran.returncode == 0, f"{title}:\n{ran.stdout}{ran.stderr}"
        assert "Traceback" not in ran.stderr
        outputs[title] = ran.stdout
    first_call = outputs["A first call, against the sandbox"]
    assert "already enrolled:" in first_call and "boast " in first_call


def test_readme_testing_snippet_passes_as_a_service_test(tmp_path: Path) -> None:
    (code,) = blocks("python", sections()[TESTING_SECTION])
    (tmp_path / "test_from_readme.py").write_text(code)
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nasyncio_default_fixture_loop_scope = function\n"
    )
    ran = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert re.search(r"\b1 passed\b", ran.stdout), ran.stdout
