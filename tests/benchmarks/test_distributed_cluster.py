"""Whatever ends a Locust run, every process it started is stopped and its logs stay behind."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks.arrivals import Arrivals, Constant
from benchmarks.distributed.cluster import DistributedRunError, LocustEngine, run_locust, stop_all
from benchmarks.plan import LoadPlan
from benchmarks.processes import GeneratorProcessError
from benchmarks.target import Target
from benchmarks.workload import Workload
from stack.ports import ephemeral_port
from stack.process import ManagedProcess, child_pids


WORKLOAD = Workload(arrivals=Arrivals(Constant(5.0), "regular"))


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.integration
async def test_a_master_whose_workers_never_all_come_fails_with_its_log(tmp_path: Path) -> None:
    before = set(child_pids(os.getpid()))
    plan = LoadPlan(WORKLOAD, 1.0, Target(f"http://127.0.0.1:{ephemeral_port()}"))
    engine = LocustEngine(local_workers=1, remote_workers=1, wait_for_workers_s=1)
    starts: list[float] = []
    with pytest.raises(DistributedRunError) as caught:
        await run_locust(plan, engine, tmp_path, on_start=starts.append)
    assert isinstance(caught.value, GeneratorProcessError)  # a harness error to the runner
    assert "Gave up waiting for workers" in str(caught.value)
    assert f"all logs are in {tmp_path / 'logs'}" in str(caught.value)
    assert sorted(p.name for p in (tmp_path / "logs").iterdir()) == ["master.log", "worker-0.log"]
    assert starts == []
    assert set(child_pids(os.getpid())) <= before


@pytest.mark.integration
def test_ctrl_c_stops_the_master_and_its_workers(tmp_path: Path) -> None:
    workload = tmp_path / "workload.json"
    workload.write_text(json.dumps(WORKLOAD.to_dict()))
    argv = [
        sys.executable, "-m", "benchmarks.distributed.launch",
        "--url", f"http://127.0.0.1:{ephemeral_port()}", "--workload", str(workload),
        "--duration", "5", "--workers", "1", "--remote-workers", "1",
        "--out", str(tmp_path / "run"),
    ]  # fmt: skip
    launcher = subprocess.Popen(
        argv,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_sigint,  # noqa: PLW1509 - it only resets a signal, before exec
    )
    try:
        assert launcher.stderr is not None
        waiting = launcher.stderr.readline()
        assert waiting.startswith("waiting 60 s for 1 worker(s) from other machines")
        started = child_pids(launcher.pid)
        launcher.send_signal(signal.SIGINT)
        _, err = launcher.communicate(timeout=30)
    finally:
        launcher.kill()
        launcher.communicate()  # closes the pipe even when the test failed: no leak into others
    assert launcher.returncode == 130
    assert "interrupted; every process was stopped" in err
    assert len(started) == 2  # the master and the local worker
    assert all(_gone(pid) for pid in started)
    assert not (tmp_path / "run" / "history").exists()


def _default_sigint() -> None:
    """In the launcher's child: Ctrl-C's default action, as a terminal's foreground job has it.
    A test run as a background job of a shell inherits SIGINT ignored, and so would the
    launcher, which would then wait out its 60 s."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


DEAF = """\
import signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("deaf", flush=True)
time.sleep(float(sys.argv[1]))
"""
"""A process that ignores SIGTERM for ``argv[1]`` seconds, then exits."""


def _deaf(tmp_path: Path, name: str, for_s: float) -> ManagedProcess:
    process = ManagedProcess(
        name, [sys.executable, "-c", DEAF, str(for_s)], log_path=tmp_path / f"{name}.log"
    )
    process.spawn()
    return process


def _wait_deaf(processes: list[ManagedProcess]) -> None:
    """Until every process ignores SIGTERM."""
    deadline = time.monotonic() + 30
    while not all("deaf" in p.log_path.read_text() for p in processes):
        assert time.monotonic() < deadline, "the processes did not start"
        time.sleep(0.02)


async def test_processes_that_ignore_sigterm_are_stopped_together_beside_the_loop(
    tmp_path: Path,
) -> None:
    timeout_s, count = 1.0, 6
    processes = [_deaf(tmp_path, f"deaf-{i}", 300) for i in range(count)]
    processes += [_deaf(tmp_path, f"slow-{i}", timeout_s / 2) for i in range(count)]
    _wait_deaf(processes)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    started = time.monotonic()
    try:
        await stop_all(processes, timeout_s=timeout_s)
    finally:
        ticker.cancel()
    elapsed_s = time.monotonic() - started
    assert all(not p.running() for p in processes)
    assert all(p.exit_code() == -signal.SIGKILL for p in processes[:count])  # deaf to the end
    assert all(p.exit_code() == 0 for p in processes[count:])  # done before the timeout
    assert elapsed_s < count * timeout_s * 0.75  # about one timeout, far from one per process
    assert ticks >= 5  # the loop went on meanwhile


async def test_a_cancelled_stop_still_stops_every_process(tmp_path: Path) -> None:
    processes = [_deaf(tmp_path, f"deaf-{i}", 300) for i in range(3)]
    _wait_deaf(processes)
    stopping = asyncio.create_task(stop_all(processes, timeout_s=0.5))
    await asyncio.sleep(0.1)
    stopping.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stopping
    assert all(not p.running() for p in processes)
