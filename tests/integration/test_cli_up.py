"""``meltproof up``: everything comes up, and nothing is left after Ctrl-C or SIGTERM."""

import json
import os
import re
import signal
import subprocess
import sys
import time
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


def _start_up(run_dir: Path) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [MELTPROOF, "up", "--run-dir", str(run_dir)],
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
