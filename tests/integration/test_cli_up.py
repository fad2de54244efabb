"""``meltproof up``: everything comes up, and nothing is left after Ctrl-C or SIGTERM."""

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest


MELTPROOF = str(Path(sys.executable).with_name("meltproof"))
SERVICES = ("postgres", "redis", "toxiproxy", "provider", "gateway")
ENDPOINT_LABELS = (
    "provider",
    "provider via proxy",
    "toxiproxy api",
    "gateway",
    "postgres",
    "postgres via proxy",
    "redis",
    "redis via proxy",
)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _wait_gone(pids: list[int], timeout_s: float = 15) -> list[int]:
    deadline = time.monotonic() + timeout_s
    while (alive := [pid for pid in pids if _alive(pid)]) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive


def _start_up(run_dir: Path, *options: str) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [MELTPROOF, "up", "--run-dir", str(run_dir), *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    output = []
    for line in process.stdout:
        output.append(line)
        if line.startswith("ready"):
            return process, "".join(output)
    process.communicate(timeout=10)
    pytest.fail("meltproof up ended before it was ready:\n" + "".join(output))


def _service_pids(run_dir: Path) -> list[int]:
    services = json.loads((run_dir / "stack.json").read_text())["services"]
    return [services[name]["pid"] for name in SERVICES]


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_up_prints_every_endpoint_and_leaves_nothing_after_a_stop_signal(tmp_path, stop_signal):
    process, output = _start_up(tmp_path / "run")
    try:
        for label in ENDPOINT_LABELS:
            assert re.search(rf"^{label} +[a-z]+://[^ ]*127\.0\.0\.1:\d+", output, re.MULTILINE)
        assert f"run dir              {tmp_path / 'run'}" in output
        pids = _service_pids(tmp_path / "run")
        assert all(_alive(pid) for pid in pids)
        process.send_signal(stop_signal)
        rest = process.communicate(timeout=30)[0]
    finally:
        process.kill()
    assert process.returncode == 0, rest
    assert "stopped" in rest
    assert _wait_gone(pids) == []


def test_children_die_with_a_killed_harness(tmp_path):
    process, _ = _start_up(tmp_path / "run")
    pids = _service_pids(tmp_path / "run")
    process.kill()  # no chance to clean up: the kernel's parent-death signal must do it
    process.communicate(timeout=10)
    assert _wait_gone(pids) == []


def _cmdline(pid: int) -> bytes:
    return Path(f"/proc/{pid}/cmdline").read_bytes()


def _children(pid: int) -> list[int]:
    tasks = Path(f"/proc/{pid}/task")
    return [int(c) for t in tasks.iterdir() for c in (t / "children").read_text().split()]


def test_up_prints_a_working_api_key_and_serves_the_chosen_profile_on_n_workers(tmp_path):
    process, output = _start_up(tmp_path / "run", "--profile", "naive", "--workers", "2")
    try:
        key = re.search(r"^api key \(acme\) +(sk-acme-\w+)$", output, re.MULTILINE).group(1)
        gateway = re.search(r"^gateway +(http://\S+)$", output, re.MULTILINE).group(1)
        body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}],
                "temperature": 0, "max_tokens": 3}  # fmt: skip
        request = urllib.request.Request(  # noqa: S310 - the gateway's loopback URL
            f"{gateway}/v1/chat/completions",
            data=json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            assert response.status == 200
            assert response.headers.get("x-cache") is None, "naive: no cache"
        pids = _service_pids(tmp_path / "run")
        children = _children(pids[SERVICES.index("gateway")])
        workers = [pid for pid in children if b"spawn_main" in _cmdline(pid)]
        assert len(workers) == 2
        assert key not in (tmp_path / "run" / "stack.json").read_text()
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0
    assert _wait_gone(pids + children) == []
