"""One measured load run of the gateway overhead benchmark, in a fresh child process."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...arrivals import Arrivals, Constant
from ...event_loop import run_with_fast_loop
from ...op import CacheStatus
from ...plan import LoadPlan
from ...popularity import PromptCatalogue
from ...runner import run_load
from ...summary import Summary
from ...target import Target
from ...workload import TenantShare, Workload
from ..common import run_json_child
from .parameters import API_KEY, MAX_TOKENS, MODEL, MODULE, REQUEST_TIMEOUT_S, TENANT
from .steal import PROC_STAT, cpu_ticks


CGROUP = Path("/sys/fs/cgroup")


@dataclass(frozen=True)
class FixedRateLoad:
    """One measured run: regular arrivals of non-streaming chat requests from one tenant."""

    url: str
    rate_rps: int
    duration_s: float
    prompts: PromptCatalogue
    seed: int

    def plan(self) -> LoadPlan:
        """The load plan of one generator process."""
        workload = Workload(
            arrivals=Arrivals(Constant(self.rate_rps), "regular"),
            tenants=(TenantShare(TENANT, 1.0),),
            prompts=self.prompts,
            model=MODEL.name,
            max_tokens=MAX_TOKENS,
            seed=self.seed,
        )
        target = Target(self.url, timeout_s=REQUEST_TIMEOUT_S, api_key=API_KEY)
        return LoadPlan(workload, self.duration_s, target)

    def to_json(self) -> str:
        """This load as one JSON argument."""
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> FixedRateLoad:
        """Back from ``to_json``."""
        data = json.loads(text)
        return cls(**(data | {"prompts": PromptCatalogue(**data["prompts"])}))


def run_in_child(load: FixedRateLoad) -> dict[str, Any]:
    """Run ``load`` in a fresh process (see ``main``); its stderr passes through."""
    argv = [sys.executable, "-m", MODULE, "--load", load.to_json()]
    result: dict[str, Any] = run_json_child(
        argv, duration_s=load.duration_s, what=f"the load run {load}"
    )
    return result


def run_here(load: FixedRateLoad) -> dict[str, Any]:
    """Run ``load`` on a fast event loop in this process: its summary, shortfall, cache hits,
    the CPU time the run took this process (the generator's) and the share of the machine's
    CPU time that was busy meanwhile (every process on it)."""
    plan = load.plan()
    started_at, started_cpu_s = time.monotonic(), time.process_time()
    machine_before = machine_cpu_s()
    result = run_with_fast_loop(run_load(plan))
    cpu_s, busy_s = time.process_time() - started_cpu_s, machine_cpu_s() - machine_before
    total_s = (time.monotonic() - started_at) * (os.cpu_count() or 1)
    cache = result.table.ops["cache"]
    counts = {status.name.lower(): int((cache == status).sum()) for status in CacheStatus}
    return {
        "summary": Summary.of(result.table, result.itl, plan.duration_s).to_dict(),
        "shortfall": result.shortfall(),
        "cache": {} if counts["none"] == len(cache) else counts,
        "cpu_s": cpu_s,
        "machine_busy": busy_s / max(total_s, 1e-9),
    }


def machine_cpu_s(*, cgroup: Path = CGROUP, stat: Path = PROC_STAT) -> float:
    """CPU seconds that every process on the machine ran, since some start: the cgroup's count
    (nanoseconds of the scheduler's own clock) where there is one, else ``/proc/stat``'s ticks.

    Ticks sample: a tick that finds a core idle counts its whole period idle. The generator's
    regular arrivals (250/s: one every 4 ms, the tick period of many kernels) wake processes
    for bursts shorter than a tick, which ticks miss: ``/proc/stat`` read 0.1 s of a step in
    which the generator alone ran 1.3 s. In a container, the cgroup is the container's.
    """
    try:
        return int((cgroup / "cpuacct" / "cpuacct.usage").read_text()) / 1e9
    except (OSError, ValueError):
        pass
    try:
        fields = dict(line.split() for line in (cgroup / "cpu.stat").read_text().splitlines())
        return int(fields["usage_usec"]) / 1e6
    except (OSError, ValueError, KeyError):
        pass
    ticks = cpu_ticks(stat)
    busy_ticks = sum(ticks[:8]) - ticks[3] - ticks[4]  # all but idle and iowait
    return busy_ticks / os.sysconf("SC_CLK_TCK")
