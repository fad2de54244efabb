"""A command gateway's whole process tree stops: on stop, on its exit, on the harness's death."""

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from stack.group_guard import group_members
from stack.process import ManagedProcess
from stack.python_service import INTERPRETER


TREE = "sleep 300 & sleep 300 & echo started; wait"
"""A shell that leaves two grandchildren behind if only it is stopped."""


def guarded(command: str, log: Path) -> ManagedProcess:
    return ManagedProcess(
        "gateway",
        [*INTERPRETER, "-m", "stack.group_guard", "--", "sh", "-c", command],
        log_path=log,
        death_signal=signal.SIGTERM,
    )


def wait_for(predicate, timeout_s: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def started(log: Path) -> bool:
    return log.exists() and "started" in log.read_text()


def test_stop_ends_the_grandchildren_too(tmp_path: Path) -> None:
    process = guarded(TREE, tmp_path / "gateway.log")
    process.spawn()
    try:
        assert wait_for(lambda: started(tmp_path / "gateway.log"))
        assert process.pid is not None
        tree = group_members(process.pid)
        assert len(tree) >= 3  # the shell and its two sleeps
    finally:
        process.stop()
    assert wait_for(lambda: not group_members(process.pid or 0))


def test_a_command_that_exits_passes_its_code_on(tmp_path: Path) -> None:
    process = guarded("echo no config >&2; exit 7", tmp_path / "gateway.log")
    process.spawn()
    assert wait_for(lambda: process.exit_code() is not None)
    assert process.exit_code() == 7
    assert "no config" in (tmp_path / "gateway.log").read_text()


def test_a_missing_binary_exits_127(tmp_path: Path) -> None:
    process = ManagedProcess(
        "gateway",
        [*INTERPRETER, "-m", "stack.group_guard", "--", str(tmp_path / "no-such-gateway")],
        log_path=tmp_path / "gateway.log",
    )
    process.spawn()
    assert wait_for(lambda: process.exit_code() is not None)
    assert process.exit_code() == 127
    assert "cannot run" in (tmp_path / "gateway.log").read_text()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal is Linux")
def test_killing_the_harness_with_sigkill_stops_the_whole_tree(tmp_path: Path) -> None:
    log = tmp_path / "gateway.log"
    harness = textwrap.dedent(
        f"""
        import signal, sys, time
        from pathlib import Path
        from stack.process import ManagedProcess
        from stack.python_service import INTERPRETER
        process = ManagedProcess(
            "gateway",
            [*INTERPRETER, "-m", "stack.group_guard", "--", "sh", "-c", {TREE!r}],
            log_path=Path({str(log)!r}),
            death_signal=signal.SIGTERM,
        )
        process.spawn()
        print(process.pid, flush=True)
        time.sleep(300)
        """
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", harness], stdout=subprocess.PIPE, text=True, cwd=Path.cwd()
    )
    try:
        assert parent.stdout is not None
        guard = int(parent.stdout.readline())
        assert wait_for(lambda: started(log))
        assert len(group_members(guard)) >= 3
    finally:
        parent.kill()
        parent.wait()
        if parent.stdout is not None:
            parent.stdout.close()
    assert wait_for(lambda: not group_members(guard)), group_members(guard)
