"""One-time installs of peers: done once, redone when interrupted, failures named with the log."""

import stat

import pytest

from stack.errors import StackStartError
from stack.peers.install import MARKER, npm_install, pip_install


def _script(path, body):
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


@pytest.fixture
def fake_python(tmp_path):
    """``python -m venv DIR`` makes DIR/bin/python, which records its pip arguments."""
    pip = _script(tmp_path / "pip", 'echo "$@" >> "$(dirname "$0")/../pip-args"')
    return _script(tmp_path / "python", f'mkdir -p "$3/bin" && cp {pip} "$3/bin/python"')


def test_a_venv_is_installed_once_and_reused(tmp_path, fake_python):
    told = []
    cache = tmp_path / "cache"
    venv = pip_install(
        cache, service="peer", requirement="peer[proxy]==1.2", version="1.2",
        on_progress=told.append, python=fake_python,
    )  # fmt: skip
    assert venv == cache / "peer-1.2"
    assert (venv / MARKER).read_text() == "peer[proxy]==1.2"
    args = (venv / "pip-args").read_text()
    assert "install" in args
    assert "--only-binary=:all:" in args
    assert args.rstrip().endswith("peer[proxy]==1.2")
    assert told[0] == f"installing peer[proxy]==1.2 into {venv} (once; cached after)"
    assert told[1].startswith("installed peer[proxy]==1.2 in ")
    again = pip_install(
        cache, service="peer", requirement="peer[proxy]==1.2", version="1.2",
        on_progress=told.append, python="/nonexistent/python",
    )  # fmt: skip
    assert again == venv
    assert len(told) == 2


def test_an_interrupted_install_is_removed_and_done_again(tmp_path, fake_python):
    leftover = tmp_path / "peer-1.2" / "half-written"
    leftover.parent.mkdir()
    leftover.write_text("")
    venv = pip_install(
        tmp_path, service="peer", requirement="peer==1.2", version="1.2", on_progress=print,
        python=fake_python,
    )  # fmt: skip
    assert not leftover.exists()
    assert (venv / MARKER).read_text() == "peer==1.2"


def test_a_failed_step_names_the_command_and_the_log_and_marks_nothing(tmp_path):
    npm = _script(tmp_path / "npm", 'echo "E404 no such package" >&2; exit 1')
    with pytest.raises(StackStartError) as info:
        npm_install(
            tmp_path / "cache", service="peer", packages=["peer@1.2", "dep@3"], version="1.2",
            on_progress=print, npm=npm,
        )  # fmt: skip
    log = tmp_path / "cache" / "peer-1.2.log"
    message = str(info.value)
    assert f"`{npm} install --prefix {tmp_path / 'cache' / 'peer-1.2'}" in message
    assert "--ignore-scripts" in message
    assert "peer@1.2 dep@3` failed with exit code 1" in message
    assert str(log) in message
    assert "E404 no such package" in message
    assert "npm registry" in info.value.fix
    assert "E404 no such package" in log.read_text()
    assert not (tmp_path / "cache" / "peer-1.2" / MARKER).exists()


def test_an_npm_prefix_is_marked_with_every_package(tmp_path):
    npm = _script(tmp_path / "npm", 'mkdir -p "$3/node_modules"')
    prefix = npm_install(
        tmp_path, service="peer", packages=["peer@1.2", "dep@3"], version="1.2",
        on_progress=print, npm=npm,
    )  # fmt: skip
    assert (prefix / MARKER).read_text() == "peer@1.2 dep@3"
    assert (prefix / "node_modules").is_dir()


def test_without_npm_the_error_says_to_install_node(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(StackStartError, match="npm is not on PATH"):
        npm_install(tmp_path, service="peer", packages=["peer@1"], version="1", on_progress=print)
