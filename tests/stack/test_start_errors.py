"""A stack that cannot start says which service failed, why, and how to fix it."""

import shutil
import socket
from pathlib import Path

import pytest

from stack import Ports, StackConfig, StackStartError, start_stack
from stack.ports import LOOPBACK


def _config(tmp_path: Path, **overrides) -> StackConfig:
    defaults = {"database_url": None, "redis_url": None, "toxiproxy_url": None}
    return StackConfig.from_env(tmp_path / "run", **(defaults | overrides))


def test_a_taken_port_fails_before_anything_starts(tmp_path):
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        sock.listen()
        taken = sock.getsockname()[1]
        with pytest.raises(StackStartError) as info:
            start_stack(_config(tmp_path, ports=Ports(redis=taken)))
    assert info.value.service == "redis"
    assert "already in use" in info.value.cause
    assert "--redis-port" in info.value.fix
    assert not list((tmp_path / "run" / "logs").iterdir())  # no process was started


def test_a_missing_binary_is_named(tmp_path):
    missing = tmp_path / "nowhere" / "redis-server"
    with pytest.raises(StackStartError) as info:
        start_stack(_config(tmp_path, redis_server=missing))
    assert info.value.service == "redis"
    assert str(missing) in info.value.cause
    assert "MELTPROOF_REDIS_SERVER" in info.value.fix


def test_toxiproxy_without_go_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # neither toxiproxy-server nor go
    with pytest.raises(StackStartError) as info:
        start_stack(_config(tmp_path, toxiproxy_server=None, cache_dir=tmp_path / "cache"))
    assert info.value.service == "toxiproxy"
    assert "Go is not installed" in info.value.cause
    assert "install Go" in info.value.fix


@pytest.mark.skipif(shutil.which("go") is None, reason="needs Go")
def test_a_failed_toxiproxy_build_shows_the_go_output(tmp_path, monkeypatch):
    monkeypatch.setenv("GOPROXY", "off")  # the real toolchain, refused any download
    monkeypatch.setenv("GOMODCACHE", str(tmp_path / "modcache"))
    monkeypatch.setenv("GOFLAGS", "-modcacherw")
    with pytest.raises(StackStartError) as info:
        start_stack(_config(tmp_path, toxiproxy_server=None, cache_dir=tmp_path / "cache"))
    assert info.value.service == "toxiproxy"
    assert "go install failed" in info.value.cause
    assert "GOPROXY=off" in info.value.cause
    assert not (tmp_path / "cache" / "toxiproxy-v2.12.0" / "bin" / "server").exists()


def test_a_server_dying_during_start_stops_the_others(tmp_path):
    with pytest.raises(StackStartError) as info:
        start_stack(_config(tmp_path, redis_server=Path(shutil.which("false") or "/bin/false")))
    assert info.value.service == "redis"
    assert "exited with code 1 during start" in info.value.cause
    assert "redis.log" in info.value.fix
    postgres_log = (tmp_path / "run" / "logs" / "postgres.log").read_text()
    assert "database system is shut down" in postgres_log
