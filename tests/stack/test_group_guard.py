"""A command gateway's whole process tree stops: on stop, on its exit, on the harness's death."""

import contextlib
import os
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


SIGNAL_INSIDE_POPEN = """
import os, signal, subprocess, sys
from stack import group_guard

class SignalledPopen(subprocess.Popen):
    # SIGTERM arrives once the command runs, before Popen has returned
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGTERM)

subprocess.Popen = SignalledPopen
sys.exit(group_guard.main(sys.argv[1:]))
"""
"""The guard, with a SIGTERM delivered after the fork and before ``Popen`` returns."""

SECOND_SIGNAL_AS_THE_STOP_BEGINS = """
import os, signal, sys
from stack import group_guard

sent = []

def second_signal():
    if not sent:
        sent.append(True)
        os.kill(os.getpid(), signal.SIGTERM)

real_stop_group, real_signal = group_guard.stop_group, signal.signal

def stop_group(pgid):
    second_signal()
    real_stop_group(pgid)

def set_handler(signum, handler):
    if handler is signal.SIG_IGN:
        second_signal()
    return real_signal(signum, handler)

group_guard.stop_group, signal.signal = stop_group, set_handler
sys.exit(group_guard.main(sys.argv[1:]))
"""
"""The guard, with a second SIGTERM delivered as soon as it acts on the first (whether it first
changes its signal handling or first stops the group)."""


def harnessed(harness: str, command: str, log: Path) -> ManagedProcess:
    return ManagedProcess(
        "gateway",
        [sys.executable, "-c", harness, "--", "sh", "-c", command],
        log_path=log,
        death_signal=signal.SIGTERM,
    )


def _kill_group(pgid: int | None) -> None:
    """Leave nothing behind, whatever a failed test left."""
    if pgid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)


def test_a_stop_signal_while_the_command_starts_still_stops_its_tree(tmp_path: Path) -> None:
    process = harnessed(SIGNAL_INSIDE_POPEN, TREE, tmp_path / "gateway.log")
    process.spawn()
    try:
        assert wait_for(lambda: process.exit_code() is not None)
        assert wait_for(lambda: not group_members(process.pid or 0), 5.0), (
            group_members(process.pid or 0),
            (tmp_path / "gateway.log").read_text(),
        )
    finally:
        _kill_group(process.pid)


def test_a_second_stop_signal_does_not_interrupt_the_stop(tmp_path: Path) -> None:
    log = tmp_path / "gateway.log"
    process = harnessed(SECOND_SIGNAL_AS_THE_STOP_BEGINS, TREE, log)
    process.spawn()
    try:
        assert wait_for(lambda: started(log))
        process.send_signal(signal.SIGTERM)
        assert wait_for(lambda: process.exit_code() is not None)
        assert wait_for(lambda: not group_members(process.pid or 0), 5.0), log.read_text()
        assert process.exit_code() == 0, log.read_text()
    finally:
        _kill_group(process.pid)


def test_a_command_killed_by_a_signal_exits_128_plus_the_signal(tmp_path: Path) -> None:
    process = guarded("kill -KILL $$", tmp_path / "gateway.log")
    process.spawn()
    assert wait_for(lambda: process.exit_code() is not None)
    assert process.exit_code() == 128 + signal.SIGKILL


def test_a_stop_that_times_out_kills_the_whole_process_group(tmp_path: Path) -> None:
    log = tmp_path / "stubborn.log"
    process = ManagedProcess(
        "stubborn",
        ["sh", "-c", "trap '' TERM; sleep 300 & echo started; wait"],
        log_path=log,
        stop_timeout_s=0.5,
    )
    process.spawn()
    try:
        assert wait_for(lambda: started(log))
        assert len(group_members(process.pid or 0)) >= 2  # the shell and its sleep
        process.stop()
        assert process.exit_code() == -signal.SIGKILL
        assert wait_for(lambda: not group_members(process.pid or 0), 3.0)
    finally:
        _kill_group(process.pid)
