"""Which engine sends a scenario's load: this machine's asyncio engine, or Locust workers.

``run_with_engine`` takes the place of ``benchmarks.runner.run_load`` with the same contract:
the ``LoadPlan``, an optional ``Progress`` callback, and ``on_start``, called once with the
load's time zero (wall clock, Unix seconds: ``LoadResult.started_at``) before the first
request is due, so that a fault timeline scheduled from it lines up with every sender. It
returns the same ``LoadResult``; with Locust, every worker's requests merged into one table.

- ``AsyncioEngine``: ``run_load``, in ``plan.processes`` processes on this machine.
- ``LocustEngine``: a Locust master and ``local_workers`` worker processes started here, plus
  ``remote_workers`` that join from other machines with the command line ``say`` prints (see
  ``benchmarks.distributed``). ``plan.processes`` does not apply; the result's plan has one
  process per worker. Locust never runs in this process, only in processes it starts, and
  their logs and results go to the work directory.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks.distributed.cluster import LOOPBACK, LocustEngine, run_locust
from benchmarks.engine import Progress
from benchmarks.plan import LoadPlan, LoadResult
from benchmarks.runner import run_load


__all__ = ["AsyncioEngine", "LoadEngine", "LocustEngine", "choose_engine", "run_with_engine"]


@dataclass(frozen=True)
class AsyncioEngine:
    """The open-loop asyncio engine on this machine (``benchmarks.runner.run_load``)."""


LoadEngine = AsyncioEngine | LocustEngine


def choose_engine(
    *,
    locust_workers: int | None = None,
    remote_workers: int = 0,
    master_host: str = LOOPBACK,
    master_port: int | None = None,
) -> LoadEngine:
    """The engine a command line asks for: Locust as soon as it names workers, else asyncio.

    ``--locust-workers N`` starts N local workers; ``--remote-workers N`` alone means no
    local ones. A ValueError says what cannot work.
    """
    if locust_workers is None and not remote_workers:
        return AsyncioEngine()
    return LocustEngine(
        local_workers=locust_workers or 0,
        remote_workers=remote_workers,
        master_host=master_host,
        master_port=master_port,
    )


async def run_with_engine(
    engine: LoadEngine,
    plan: LoadPlan,
    *,
    work_dir: Path,
    progress: Progress | None = None,
    on_start: Callable[[float], None] | None = None,
    say: Callable[[str], None] = lambda _line: None,
) -> LoadResult:
    """Send ``plan`` with ``engine``; see the module docstring.

    ``work_dir`` receives Locust's plan, results and logs (the asyncio engine writes nothing).
    ``say`` tells what the user must do or know: the remote workers' command line, requests
    that no worker reported. A Locust run that cannot start or finish raises
    ``benchmarks.distributed.cluster.DistributedRunError``, a ``GeneratorProcessError``.
    """
    if isinstance(engine, AsyncioEngine):
        return await run_load(plan, progress=progress, on_start=on_start)
    collected = await run_locust(
        plan, engine, work_dir, progress=progress, on_start=on_start, say=say
    )
    return collected.result
