"""What a fresh interpreter imports: a Unify user none of Boast's code and no generated endpoint
module, the CLI's --version and --help no client at all. Each check runs a new process, since
this one has imported everything long ago."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import sequence_clients
from sequence_clients.cli import app as cli_app

GENERATED = Path(sequence_clients.__file__).parent / "generated"


def endpoint_modules(vendor: str) -> set[str]:
    """Every generated endpoint module of `vendor`, from the generated tree itself."""
    api = GENERATED / vendor / "api"
    return {
        "sequence_clients.generated." + ".".join(path.relative_to(GENERATED).with_suffix("").parts)
        for path in api.rglob("*.py")
        if path.name != "__init__.py"
    }


def modules_after(code: str) -> set[str]:
    """`sys.modules` of a fresh interpreter after running `code`."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    env = {k: v for k, v in os.environ.items() if k != "SEQUENCE_CLIENTS_CONFIG"}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    last = done.stdout.strip().splitlines()[-1]
    return set(json.loads(last))


def test_the_generated_tree_is_found() -> None:
    # Guards the checks below against passing on an empty list.
    assert endpoint_modules("unify") and endpoint_modules("boast")


def test_importing_the_unify_client_imports_no_boast_code_and_no_endpoint_module() -> None:
    loaded = modules_after("from sequence_clients import UnifyClient")
    assert "sequence_clients.unify" in loaded
    assert not {m for m in loaded if "boast" in m or m == "sequence_clients.oauth"}
    assert not loaded & (endpoint_modules("unify") | endpoint_modules("boast"))
    assert "aiohttp" not in loaded
    assert "importlib.metadata" not in loaded
    assert "asyncio" not in loaded  # a sync user pays no event loop
    assert not {m for m in loaded if m.split(".")[0] == "opentelemetry"}  # loaded by a first call
    assert "tenacity" not in loaded  # loaded with the first failed attempt
    # attrs (the generated client's and models' classes) loads with the first client and body.
    assert not {m for m in loaded if m.split(".")[0] in ("attr", "attrs")}
    assert "sequence_clients.generated.unify.client" not in loaded


def test_the_generated_client_and_a_request_model_load_with_the_first_client_and_body() -> None:
    built = modules_after("from sequence_clients import UnifyClient\nUnifyClient('key')")
    assert "sequence_clients.generated.unify.client" in built and "attrs" in built
    assert "sequence_clients.generated.unify.models.create_enrollment_request" not in built
    enrolled = modules_after(
        "import uuid\n"
        "from sequence_clients import unify\n"
        "unify.models.CreateEnrollmentRequest(uuid.uuid4(), uuid.uuid4(), ['a@b.example'])\n"
    )
    assert "sequence_clients.generated.unify.models.create_enrollment_request" in enrolled


def test_an_endpoint_module_loads_with_the_first_call_that_uses_it() -> None:
    loaded = modules_after(
        "import uuid\n"
        "from sequence_clients import UnifyClient\n"
        "client = UnifyClient('key')\n"
        "try:\n"
        "    client.get_sequence('not a uuid')\n"
        "except Exception:\n"
        "    pass\n"
        "client.get_sequence.__func__\n"
        "from sequence_clients import unify\n"
        "unify.retrieve_sequence.operation\n"
    )
    assert "sequence_clients.generated.unify.api.sequences.retrieve_sequence" in loaded
    assert not loaded & (
        endpoint_modules("unify")
        - {"sequence_clients.generated.unify.api.sequences.retrieve_sequence"}
    )


@pytest.mark.parametrize(
    "args", [["--version"], ["--help"], ["unify", "get", "--help"]], ids=" ".join
)
def test_the_cli_imports_only_what_the_command_runs(args: list[str]) -> None:
    loaded = modules_after(
        "import sys\n"
        f"sys.argv = ['sequence-clients', *{args!r}]\n"
        "from sequence_clients.cli import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as done:\n"
        "    assert not done.code, done.code\n"
    )
    vendor_code = {m for m in loaded if m.startswith("sequence_clients.") and (
        m.startswith(("sequence_clients.generated", "sequence_clients.unify",
                      "sequence_clients.boast", "sequence_clients.oauth",
                      "sequence_clients._client", "sequence_clients.cli.bulk"))
    )}  # fmt: skip
    assert not vendor_code
    assert "httpx" not in loaded
    assert "importlib.metadata" not in loaded  # the version is read from _version.py
    assert "rich" not in loaded  # help is click's plain layout; tables load rich when printed
    if args[0] == "unify":
        assert "sequence_clients.cli.unify_cmds" in loaded
        assert "sequence_clients.cli.boast_cmds" not in loaded


def test_the_roots_list_shows_each_lazy_commands_own_first_paragraph() -> None:
    # The root keeps a copy of each lazy command's one-line help; it must not drift.
    import inspect

    for name, (_, _, line) in cli_app._LAZY.items():
        command = cli_app.load_command(name)
        first = inspect.cleandoc(command.help or "").split("\n\n")[0]
        assert " ".join(first.split()) == line, name
