"""Several generator processes: merged results, and failures that stop the run."""

import asyncio
import multiprocessing
import os
import signal

import numpy as np
import pytest

from benchmarks.arrivals import Arrivals, Constant
from benchmarks.op import ErrorKind
from benchmarks.plan import LoadPlan
from benchmarks.processes import GeneratorProcessError
from benchmarks.runner import run_load
from benchmarks.target import Target
from benchmarks.workload import EndpointShare, Workload
from stack.ports import ephemeral_port


def _plan(duration_s: float) -> LoadPlan:
    workload = Workload(arrivals=Arrivals(Constant(40), "regular"), seed=1)
    return LoadPlan(workload, duration_s, Target(f"http://127.0.0.1:{ephemeral_port()}"), 2)


async def test_processes_each_send_their_share_and_merge() -> None:
    plan = _plan(1.0)
    result = await run_load(plan)
    ops = result.table.ops
    assert np.array_equal(ops["row"], np.arange(40))
    assert (ops["error"] == ErrorKind.CONNECT).all()  # nothing listens: every request was sent
    assert not multiprocessing.active_children()


async def test_a_dead_generator_process_fails_the_run_and_no_child_is_left() -> None:
    run = asyncio.create_task(run_load(_plan(30.0)))
    while len(multiprocessing.active_children()) < 2:  # noqa: ASYNC110 - polls the OS
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)
    os.kill(multiprocessing.active_children()[0].pid, signal.SIGKILL)
    with pytest.raises(GeneratorProcessError, match="without its result"):
        await asyncio.wait_for(run, timeout=30)  # generous: children start slowly on a busy machine
    assert not multiprocessing.active_children()


def test_an_unknown_endpoint_is_refused_before_any_process_starts() -> None:
    workload = Workload(arrivals=Arrivals(Constant(1)), endpoints=(EndpointShare("nope", 1),))
    with pytest.raises(ValueError, match="unknown endpoint 'nope'"):
        LoadPlan(workload, 1.0, Target("http://127.0.0.1:1"), processes=2)
