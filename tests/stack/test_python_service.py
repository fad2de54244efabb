"""Our Python services import the code the environment names, never a copy in the directory
the harness was started from (``python -P``), and say where it came from."""

import sys
from pathlib import Path

import pytest

from stack.errors import StackStartError
from stack.python_service import PythonService


def package(root: Path, name: str) -> Path:
    (root / name).mkdir(parents=True)
    (root / name / "__init__.py").write_text("")
    return root / name


def service(tmp_path: Path, module: str, source: Path | None) -> PythonService:
    return PythonService("gateway", module, port=1, log_dir=tmp_path, source=source)


def test_the_source_tree_wins_over_a_copy_in_the_working_directory(tmp_path, monkeypatch):
    shadow, source = tmp_path / "checkout", tmp_path / "baseline"
    package(shadow, "gateway_pkg")
    expected = package(source, "gateway_pkg")
    monkeypatch.chdir(shadow)  # where ``python -m`` without -P would import it from
    assert service(tmp_path, "gateway_pkg", source)._resolve_code_path() == expected


def test_without_a_source_the_installed_package_runs_not_the_working_directorys(
    tmp_path, monkeypatch
):
    package(tmp_path / "checkout", "stack")
    monkeypatch.chdir(tmp_path / "checkout")
    code_path = service(tmp_path, "stack.provider", None)._resolve_code_path()
    assert code_path == Path(__import__("stack").__file__).parent


def test_a_source_tree_without_the_package_is_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(StackStartError, match="not from"):
        service(tmp_path, "stack", tmp_path / "empty")._resolve_code_path()


def test_a_source_reached_through_a_symlink_is_the_same_tree(tmp_path):
    expected = package(tmp_path / "real", "gateway_pkg")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert service(tmp_path, "gateway_pkg", tmp_path / "link")._resolve_code_path() == expected


def test_the_service_starts_with_the_working_directory_off_its_path(tmp_path):
    started = service(tmp_path, "stack.provider", None)
    assert started._process.argv[:3] == (sys.executable, "-P", "-m")
