"""Stored scenario runs made by hand, and folders of them (result sets)."""

from pathlib import Path
from typing import Any

import numpy as np
from op_support import answered, table_of

from benchmarks.arrivals import Arrivals, Constant
from benchmarks.hdr import DurationHistogram
from benchmarks.history import write_history
from benchmarks.op import CacheStatus
from benchmarks.plan import LoadPlan, LoadResult
from benchmarks.target import Target
from benchmarks.workload import Workload
from scenarios.run_record import RUN_KEY


def store_run(
    path: Path,
    latency_s: float,
    *,
    seed: int,
    services: str = "redis 7",
    cpu_s: float | None = None,
) -> None:
    """A stored scenario run of 50 requests around ``latency_s`` (a foreign target: no
    provider ground truth, so no cost or amplification)."""
    rng = np.random.default_rng(seed)
    rows = [
        answered(i * 0.1, latency_s * (1 + 0.02 * rng.standard_normal()),
                 cache=CacheStatus.HIT if i % 2 else CacheStatus.MISS)
        for i in range(50)
    ]  # fmt: skip
    plan = LoadPlan(Workload(arrivals=Arrivals(Constant(10.0))), 5.0, Target("http://127.0.0.1:9"))
    recorded = {
        "scenario": {"name": "steady"},
        "provider": None,
        "gateway": {"profile": "hardened", "workers": 1},
        "services": {"redis": services},
        "target_cpu_s": cpu_s,
    }
    write_history(
        LoadResult(plan, table_of(rows), DurationHistogram(), 0.0), path,
        extra={RUN_KEY: recorded},
    )  # fmt: skip


def result_set(root: Path, latency_s: float, runs: int, *, seed: int = 0, **kw: Any) -> Path:
    for index in range(runs):
        store_run(root / f"{index:02d}" / "steady" / "run", latency_s, seed=seed + index, **kw)
    return root
