"""``meltproof up --backend containers``: the same lines as the embedded stack, no container
after SIGTERM, and after a SIGKILL of the harness the clean-up by label removes what it left."""

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import docker
import pytest
from containers_support import require_container_backend

from stack.containers.cleanup import remove_orphaned_containers
from stack.containers.labels import STACK


pytestmark = pytest.mark.containers

MELTPROOF = str(Path(sys.executable).with_name("meltproof"))
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


@pytest.fixture
def engine() -> Iterator[docker.DockerClient]:
    require_container_backend()
    with closing(docker.from_env()) as client:
        yield client


def _start_up(run_dir: Path, *options: str) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [MELTPROOF, "up", "--backend", "containers", "--run-dir", str(run_dir), *options],
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


def _stack_containers(engine: docker.DockerClient, run_dir: Path) -> list:
    stack_id = json.loads((run_dir / "stack.json").read_text())["stack_id"]
    return engine.containers.list(all=True, filters={"label": f"{STACK}={stack_id}"})


def test_up_prints_every_endpoint_and_leaves_no_container_after_sigterm(tmp_path, engine):
    process, output = _start_up(tmp_path / "run")
    try:
        for label in ENDPOINT_LABELS:
            assert re.search(rf"^{label} +[a-z]+://[^ ]*127\.0\.0\.1:\d+", output, re.MULTILINE)
        assert re.search(r"^redis +Redis 7\.\S+ — image redis:", output, re.MULTILINE)
        assert len(_stack_containers(engine, tmp_path / "run")) == 3
        process.send_signal(signal.SIGTERM)
        rest = process.communicate(timeout=60)[0]
    finally:
        process.kill()
    assert process.returncode == 0, rest
    assert "stopped" in rest
    assert _stack_containers(engine, tmp_path / "run") == []


def test_the_clean_up_removes_the_containers_of_a_killed_harness(tmp_path, engine):
    process, _ = _start_up(tmp_path / "run", "--no-gateway")
    process.kill()  # no chance to clean up: the containers outlive it
    process.communicate(timeout=10)
    left = {container.name for container in _stack_containers(engine, tmp_path / "run")}
    assert len(left) == 3
    removed = remove_orphaned_containers(engine)
    assert left <= set(removed)
    assert _stack_containers(engine, tmp_path / "run") == []
