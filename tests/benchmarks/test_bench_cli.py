"""``python -m benchmarks.bench``: the registry and the command line; the trivial server."""

import json
import socket
import time
import urllib.request

import pytest

from benchmarks.bench.__main__ import REGISTRY, main
from benchmarks.bench.trivial_server import RESPONSE
from stack.ports import LOOPBACK, ephemeral_port
from stack.python_service import PythonService


def test_the_registry_names_each_benchmark_by_its_own_name():
    assert set(REGISTRY) == {
        "gateway_overhead",
        "generator_capacity",
        "vegeta_agreement",
        "retrieval",
    }
    assert all(bench.name == name for name, bench in REGISTRY.items())


def test_help_lists_every_benchmark(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "--quick" in out
    assert "--out" in out
    for name in REGISTRY:
        assert name in out


def test_an_unknown_name_is_a_usage_error_that_lists_the_known_ones(capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        main(["generator_capacity", "nope", "--out", str(tmp_path)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "unknown benchmark 'nope'" in err
    assert "generator_capacity, vegeta_agreement, gateway_overhead, retrieval" in err
    assert not list(tmp_path.iterdir())  # nothing ran


@pytest.mark.integration
def test_the_trivial_server_answers_and_stops(tmp_path):
    port = ephemeral_port()
    server = PythonService(
        "trivial_server", "benchmarks.bench.trivial_server", port=port, log_dir=tmp_path
    )
    server.launch()
    try:
        server.wait_ready(time.monotonic() + 30)
        request = urllib.request.Request(  # noqa: S310 - loopback http
            f"{server.url}/v1/chat/completions",
            data=b'{"model": "trivial", "messages": []}',
            headers={"Content-Type": "application/json", "Authorization": "Bearer sk-bench"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            body = json.load(response)
        assert body["usage"]["completion_tokens"] == 1
        assert body["choices"][0]["message"]["role"] == "assistant"
        with socket.create_connection((LOOPBACK, port), timeout=5) as sock:
            one = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"
            sock.sendall(one * 3)  # pipelined on one keep-alive connection
            received = b""
            while len(received) < 3 * len(RESPONSE):
                received += sock.recv(65536)
        assert received == RESPONSE * 3
        with urllib.request.urlopen(f"{server.url}/_stats", timeout=5) as response:  # noqa: S310
            stats = json.load(response)
        assert stats["requests"] == 1 + 1 + 3  # the readiness probe, urllib's, the pipelined
        assert stats["cpu_s"] > 0
    finally:
        server.stop()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((LOOPBACK, port), timeout=5).close()
