"""What a service that installs the wheel sees: only our top-level name, real types, the
testing kit of the `testing` extra, and a core install without the sandbox's server.

The wheel is built from this tree and installed, without extras and without dependencies, into a
fresh virtual environment; its dependencies come from this test environment through a path file,
so nothing is downloaded. The editable install of this tree is not visible there (a path file in
a path entry is not processed), so the consumer type-checks against the wheel alone.
"""

from __future__ import annotations

import email.parser
import re
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import venv
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = "sequence_clients"
EXAMPLE = ROOT / "examples" / "service"
SANDBOX_SERVER = {"starlette", "uvicorn", "httptools"}

CONSUMER = textwrap.dedent(
    """
    from sequence_clients import UnifyClient, BoastClient
    from sequence_clients.generated.unify.models import Enrollment


    def latest(unify: UnifyClient, boast: BoastClient) -> Enrollment:
        enrollment = unify.get_enrollment("00000000-0000-0000-0000-000000000000")
        reveal_type(enrollment)
        for page_item in unify.list_enrollments():
            reveal_type(page_item)
        reveal_type(boast.get_enrollment("00000000-0000-0000-0000-000000000000"))
        wrong: int = enrollment.person.email  # WRONG-USE
        return enrollment
    """
)


def _run(*command: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(part) for part in command], cwd=cwd, capture_output=True, text=True, check=False
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    built = _run(
        sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
        "-w", out, ROOT,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    (path,) = out.glob("sequence_clients-*.whl")
    return path


@pytest.fixture(scope="module")
def consumer_env(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    env_dir = tmp_path_factory.mktemp("consumer") / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    site = Path(
        _run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))").stdout.strip()
    )
    # The wheel's dependencies (httpx, attrs, …) from this environment, nothing else of it.
    (site / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    installed = _run(
        sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "-q",
        wheel,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    yield python


def test_wheel_installs_no_top_level_name_but_the_products(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        top_level = {name.split("/")[0] for name in archive.namelist()}
        typed = {name for name in archive.namelist() if name.endswith("/py.typed")}
    assert {name for name in top_level if not name.endswith(".dist-info")} == {PRODUCT}
    packages = {f"{PRODUCT}/py.typed"} | {
        f"{PRODUCT}/generated/{vendor}/py.typed"
        for vendor in (p.name for p in (ROOT / "generated").iterdir() if (p / "api").is_dir())
    }
    assert packages <= typed


def test_installed_wheel_imports_from_its_own_files(consumer_env: Path, tmp_path: Path) -> None:
    where = _run(
        consumer_env, "-c", f"import {PRODUCT}, {PRODUCT}.generated.unify as u; print({PRODUCT}.__file__, u.__file__, {PRODUCT}.__version__)",
        cwd=tmp_path,
    )  # fmt: skip
    assert where.returncode == 0, where.stderr
    product_file, unify_file, version = where.stdout.split()
    assert "site-packages" in product_file and "site-packages" in unify_file
    assert not product_file.startswith(str(ROOT))
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", version)


def test_consumer_mypy_strict_sees_real_models(consumer_env: Path, tmp_path: Path) -> None:
    (tmp_path / "consumer.py").write_text(CONSUMER)
    checked = _run(
        sys.executable, "-m", "mypy", "--strict", "--no-incremental",
        "--python-executable", consumer_env, "consumer.py",
        cwd=tmp_path,
    )  # fmt: skip
    output = checked.stdout
    revealed = re.findall(r'Revealed type is "([^"]+)"', output)
    assert revealed == [
        f"{PRODUCT}.generated.unify.models.enrollment.Enrollment",
        f"{PRODUCT}.generated.unify.models.enrollment.Enrollment",
        f"{PRODUCT}.generated.boast.models.sequence_enrollment.SequenceEnrollment",
    ], output
    wrong_line = CONSUMER.splitlines().index(
        next(line for line in CONSUMER.splitlines() if "WRONG-USE" in line)
    )
    errors = [line for line in output.splitlines() if ": error:" in line]
    assert len(errors) == 1, output
    assert f"consumer.py:{wrong_line + 1}:" in errors[0]
    assert "Incompatible types in assignment" in errors[0]
    assert "missing library stubs" not in output


def _requirement_name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;(]", requirement, maxsplit=1)[0].lower()


def test_core_install_requires_no_sandbox_server_and_testing_brings_it(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = email.parser.Parser().parsestr(archive.read(name).decode())
        entry_points = next(n for n in archive.namelist() if n.endswith("entry_points.txt"))
        plugins = archive.read(entry_points).decode()
    requirements = metadata.get_all("Requires-Dist") or []
    core = {_requirement_name(r) for r in requirements if "extra ==" not in r}
    testing = {_requirement_name(r) for r in requirements if "extra == 'testing'" in r}
    cli = {_requirement_name(r) for r in requirements if "extra == 'cli'" in r}
    assert core and not core & SANDBOX_SERVER
    assert testing >= SANDBOX_SERVER
    assert not cli & SANDBOX_SERVER  # the CLI names the testing extra when demo needs it
    assert "[pytest11]" in plugins and f"{PRODUCT}.testing.plugin" in plugins


def test_core_use_imports_no_sandbox_server(consumer_env: Path, tmp_path: Path) -> None:
    """A service constructing both clients from the environment loads none of the server."""
    script = textwrap.dedent(
        """
        import os, sys
        os.environ.update(UNIFY_API_KEY="k", BOAST_ACCESS_TOKEN="t")
        from sequence_clients import UnifyClient, BoastClient
        UnifyClient().close(); BoastClient().close()
        print(sorted(m for m in sys.modules if m.split(".")[0] in {"starlette", "uvicorn"}))
        """
    )
    loaded = _run(consumer_env, "-c", script, cwd=tmp_path)
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip() == "[]"


def test_example_service_suite_passes_from_the_installed_wheel(
    consumer_env: Path, tmp_path: Path
) -> None:
    """examples/service's own tests, run where only the wheel is installed: the plugin comes
    from the wheel's entry point, the sandbox from the testing extra."""
    service = tmp_path / "service"
    shutil.copytree(EXAMPLE, service, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    ran = _run(
        consumer_env, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--durations=0",
        "-p", "no:xdist", "-p", "no:recording",
        cwd=service,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stdout + ran.stderr
    passed = re.search(r"(\d+) passed in ([\d.]+)s", ran.stdout)
    assert passed is not None, ran.stdout
    source = (EXAMPLE / "tests" / "test_enrollment_service.py").read_text()
    assert int(passed.group(1)) == len(re.findall(r"^(?:async )?def test_", source, re.M))
    assert float(passed.group(2)) < 10, ran.stdout
    plugin = _run(consumer_env, "-c", f"import {PRODUCT}.testing.plugin as p; print(p.__file__)")
    assert "site-packages" in plugin.stdout
    assert not plugin.stdout.startswith(str(ROOT / "wrapper"))
