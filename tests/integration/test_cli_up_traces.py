"""``meltproof up --traces``: Jaeger comes up with the stack and goes with it."""

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from stack.go_build import BUILD_TIMEOUT_S


pytestmark = pytest.mark.timeout(BUILD_TIMEOUT_S + 300)  # the first traces test builds Jaeger

MELTPROOF = str(Path(sys.executable).with_name("meltproof"))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _gone_within(pid: int, timeout_s: float = 15) -> bool:
    deadline = time.monotonic() + timeout_s
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not _alive(pid)


def _up(run_dir: Path) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [MELTPROOF, "up", "--run-dir", str(run_dir), "--traces", "--no-gateway"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert process.stdout is not None
    output = []
    for line in process.stdout:
        output.append(line)
        if line.startswith("ready"):
            return process, "".join(output)
    process.communicate(timeout=10)
    pytest.fail("meltproof up ended before it was ready:\n" + "".join(output))


def _jaeger_pid(run_dir: Path) -> int:
    return int(json.loads((run_dir / "stack.json").read_text())["services"]["jaeger"]["pid"])


def test_up_with_traces_prints_the_receiver_and_stops_it(tmp_path):
    process, output = _up(tmp_path / "run")
    try:
        otlp = re.search(r"^otlp \(traces in\) +(http://127\.0\.0\.1:\d+)$", output, re.MULTILINE)
        api = re.search(r"^traces api +(http://127\.0\.0\.1:\d+)$", output, re.MULTILINE)
        assert otlp is not None, output
        assert api is not None, output
        assert re.search(r"^jaeger +v1\.75\.0 ", output, re.MULTILINE), output
        with pytest.raises(urllib.error.HTTPError) as unknown:
            urllib.request.urlopen(f"{api[1]}/api/v3/traces/{'0' * 31}1", timeout=5)  # noqa: S310
        assert unknown.value.code == 404
        unknown.value.close()
        pid = _jaeger_pid(tmp_path / "run")
        assert _alive(pid)
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0
    assert _gone_within(pid)


def test_jaeger_dies_with_a_killed_harness(tmp_path):
    process, _ = _up(tmp_path / "run")
    pid = _jaeger_pid(tmp_path / "run")
    process.kill()  # no clean-up: the kernel's parent-death signal must stop it
    process.communicate(timeout=10)
    assert _gone_within(pid)
