"""The engine a command line asks for, and the asyncio engine behind the seam."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks.arrivals import Arrivals, Constant
from benchmarks.op import ErrorKind, Outcome
from benchmarks.plan import LoadPlan
from benchmarks.target import Target
from benchmarks.workload import Workload
from scenarios.load_engines import AsyncioEngine, LocustEngine, choose_engine, run_with_engine
from stack.ports import ephemeral_port


def test_without_locust_workers_the_engine_is_asyncio() -> None:
    assert choose_engine() == AsyncioEngine()


def test_locust_workers_choose_locust() -> None:
    assert choose_engine(locust_workers=2) == LocustEngine(local_workers=2)
    assert choose_engine(locust_workers=2, remote_workers=3, master_host="10.0.0.5") == (
        LocustEngine(local_workers=2, remote_workers=3, master_host="10.0.0.5")
    )


def test_remote_workers_alone_start_no_local_ones() -> None:
    engine = choose_engine(remote_workers=4, master_port=5557)
    assert engine == LocustEngine(local_workers=0, remote_workers=4, master_port=5557)
    assert isinstance(engine, LocustEngine)
    assert engine.workers == 4


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"locust_workers": 0}, "at least one worker"),
        ({"locust_workers": -1}, "cannot be negative"),
        ({"locust_workers": 1, "remote_workers": -2}, "cannot be negative"),
        ({"locust_workers": 1, "master_port": 70000}, "TCP port"),
    ],
)
def test_an_engine_that_cannot_work_is_refused(options: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        choose_engine(**options)


def test_the_master_waits_at_least_a_second_for_its_workers() -> None:
    with pytest.raises(ValueError, match="wait_for_workers_s"):
        LocustEngine(wait_for_workers_s=0)


async def test_the_asyncio_engine_gives_time_zero_once_and_writes_nothing(tmp_path: Path) -> None:
    workload = Workload(arrivals=Arrivals(Constant(10.0), "regular"), seed=2)
    closed = f"http://127.0.0.1:{ephemeral_port()}"
    plan = LoadPlan(workload, duration_s=0.5, target=Target(closed, timeout_s=2))
    starts: list[float] = []
    result = await run_with_engine(
        AsyncioEngine(), plan, work_dir=tmp_path / "locust", on_start=starts.append
    )
    assert starts == [result.started_at]
    assert result.plan == plan
    ops = result.table.ops
    assert np.array_equal(ops["intended_s"], workload.schedule(0.5).intended_s)
    assert (ops["outcome"] == Outcome.FAIL).all()
    assert (ops["error"] == ErrorKind.CONNECT).all()
    assert not (tmp_path / "locust").exists()
