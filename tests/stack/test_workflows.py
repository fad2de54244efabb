"""The GitHub Actions workflows pass actionlint, and actionlint does flag a broken workflow.

actionlint comes from ``MELTPROOF_ACTIONLINT``, PATH, or a one-time Go build into the meltproof
cache (``stack.actionlint``). It runs shellcheck on ``run:`` scripts when shellcheck is on PATH.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from stack.actionlint import find_actionlint
from stack.config import default_cache_dir
from stack.errors import StackStartError


REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))

BROKEN_WORKFLOW = """\
name: broken
on: pull_request
permissions:
  contents: read
jobs:
  greet:
    runs-on: ubuntu-latest
    timeout-minuets: 5
    steps:
      - run: echo "${{ github.event.pull_request.title }}"
"""


@pytest.fixture(scope="module")
def actionlint() -> Path:
    configured = os.environ.get("MELTPROOF_ACTIONLINT")
    cache_dir = os.environ.get("MELTPROOF_CACHE_DIR")
    return find_actionlint(
        Path(cache_dir) if cache_dir else default_cache_dir(),
        configured=Path(configured) if configured else None,
    )


def _lint(actionlint: Path, files: list[Path], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(actionlint), "-no-color", *map(str, files)],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_the_perf_workflows_are_there():
    assert {path.name for path in WORKFLOWS} >= {"perf-nightly.yml", "perf-compare.yml"}


def test_every_workflow_passes_actionlint(actionlint):
    result = _lint(actionlint, WORKFLOWS, REPO)
    assert result.returncode == 0, f"actionlint:\n{result.stdout}{result.stderr}"


def test_actionlint_flags_an_unknown_key_and_a_script_injection(actionlint, tmp_path):
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    broken = workflows / "broken.yml"
    broken.write_text(BROKEN_WORKFLOW)
    result = _lint(actionlint, [broken], tmp_path)
    assert result.returncode == 1, f"actionlint:\n{result.stdout}{result.stderr}"
    assert 'unexpected key "timeout-minuets"' in result.stdout
    assert '"github.event.pull_request.title" is potentially untrusted' in result.stdout


def _run_scripts(workflow: dict[str, Any]) -> list[str]:
    return [
        step["run"]
        for job in workflow["jobs"].values()
        for step in job.get("steps", [])
        if "run" in step
    ]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_run_scripts_take_expressions_through_env_only(path):
    scripts = _run_scripts(yaml.safe_load(path.read_text()))
    assert scripts
    spliced = [script for script in scripts if "${{" in script]
    assert not spliced, f"{path.name}: pass these through env: {spliced}"


def test_a_configured_actionlint_wins_and_must_exist(tmp_path):
    binary = tmp_path / "actionlint"
    binary.write_text("")
    assert find_actionlint(tmp_path / "cache", configured=binary) == binary
    with pytest.raises(StackStartError, match="does not exist"):
        find_actionlint(tmp_path / "cache", configured=tmp_path / "missing")


def test_without_actionlint_and_go_the_error_names_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(StackStartError) as info:
        find_actionlint(tmp_path / "cache", go=str(tmp_path / "no-go"))
    assert info.value.cause == "actionlint is not on PATH and Go is not installed to build it"
    assert "put actionlint on PATH" in info.value.fix
