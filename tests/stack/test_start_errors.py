"""A stack that cannot start says which service failed, why, and how to fix it."""

import shutil
import socket
import sys
import time
from pathlib import Path

import pytest

from stack import Ports, StackConfig, StackStartError, start_stack
from stack import stack as stack_module
from stack.errors import PortTakenError
from stack.ports import LOOPBACK
from stack.process import ManagedProcess


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


def test_a_server_that_finds_its_port_taken_is_reported_at_once(tmp_path):
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        sock.listen()
        taken = sock.getsockname()[1]
        server = ManagedProcess(
            "toy",
            [sys.executable, "-c", f"import socket; socket.socket().bind(('{LOOPBACK}', {taken}))"],
            log_path=tmp_path / "toy.log",
        )
        server.spawn()
        try:
            with pytest.raises(PortTakenError) as info:
                server.wait_ready(lambda: False, time.monotonic() + 30)
        finally:
            server.stop()
    assert info.value.service == "toy"
    assert "taken" in info.value.cause


def test_a_start_whose_port_was_taken_meanwhile_is_tried_again(tmp_path, monkeypatch):
    attempts = []

    def start_once(config, say):
        attempts.append(config)
        if len(attempts) == 1:
            raise PortTakenError("toxiproxy", "its port was taken", "start again")
        return "the stack"

    monkeypatch.setattr(stack_module, "_start_once", start_once)
    messages = []
    assert start_stack(_config(tmp_path), progress=messages.append) == "the stack"
    assert len(attempts) == 2
    assert "toxiproxy" in messages[0]


def test_a_port_taken_again_and_again_is_an_error(tmp_path, monkeypatch):
    def start_once(config, say):
        raise PortTakenError("toxiproxy", "its port was taken", "start again")

    monkeypatch.setattr(stack_module, "_start_once", start_once)
    with pytest.raises(PortTakenError):
        start_stack(_config(tmp_path))
