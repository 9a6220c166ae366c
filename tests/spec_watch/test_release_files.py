"""scripts/spec_watch.py's release files and suite runner, without a regeneration."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import generate
import spec_watch
from spec_report import Bump

PYPROJECT = """[build-system]
requires = ["setuptools"]

[project]
name = "x"
version = "{version}"

[tool.other]
version = "9.9.9"
"""


def test_bump_is_written_to_the_project_version_only(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(PYPROJECT.format(version="1.4.2"))

    assert spec_watch.bump_version(pyproject, Bump.MINOR) == ("1.4.2", "1.5.0")

    assert pyproject.read_text() == PYPROJECT.format(version="1.5.0")


def test_a_version_it_cannot_bump_is_a_pipeline_error(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(PYPROJECT.format(version="1.0"))
    with pytest.raises(generate.PipelineError, match="MAJOR"):
        spec_watch.bump_version(pyproject, Bump.PATCH)
    pyproject.write_text("[project]\nname = 'x'\n")
    with pytest.raises(generate.PipelineError, match="no version"):
        spec_watch.bump_version(pyproject, Bump.PATCH)


def test_changelog_entry_goes_right_under_unreleased(tmp_path: Path) -> None:
    changelog = tmp_path / "CHANGELOG.md"
    changelog.write_text("# Changelog\n\n## [Unreleased]\n\n### Added\n- a\n\n## [0.1.0]\n")

    spec_watch.add_changelog_entry(changelog, "## [0.2.0] - 2026-12-06\n\n- x\n")

    headings = [line for line in changelog.read_text().splitlines() if line.startswith("## ")]
    assert headings == ["## [Unreleased]", "## [0.2.0] - 2026-12-06", "## [0.1.0]"]


def test_suite_result_keeps_the_exit_code_and_the_tail(tmp_path: Path) -> None:
    command = f"{sys.executable} -c \"print(*range(40), sep='\\n'); raise SystemExit(3)\""
    result = spec_watch.run_suite(command, tmp_path)
    assert (result.exit_code, result.passed) == (3, False)
    assert result.tail.splitlines() == [str(n) for n in range(40 - spec_watch.TAIL_LINES, 40)]


def test_a_suite_that_cannot_start_or_hangs_fails(tmp_path: Path) -> None:
    assert not spec_watch.run_suite("no-such-command-here", tmp_path).passed
    hung = spec_watch.run_suite(f"{sys.executable} -c 'import time; time.sleep(5)'", tmp_path, 0.2)
    assert (hung.exit_code, hung.passed) == (124, False)
