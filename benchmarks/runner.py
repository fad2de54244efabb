"""Run a load plan in this process or in several, and merge what they measured.

One process sends the whole schedule on the running event loop; with ``processes=N`` the
schedule is dealt to N processes (see ``processes``), whose Op tables merge row by row and
whose histograms merge exactly.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from .engine import OpenLoopEngine, Progress
from .hdr import DurationHistogram
from .op import OpTable
from .plan import LoadPlan, LoadResult
from .processes import run_in_processes


async def run_load(
    plan: LoadPlan,
    *,
    progress: Progress | None = None,
    on_start: Callable[[float], None] | None = None,
) -> LoadResult:
    """Send ``plan``'s schedule and measure every request.

    ``on_start`` is called with the run's time zero (wall clock) as the load starts, so that
    what runs beside the load (a fault timeline) shares it.
    """
    if plan.processes == 1:
        schedule = plan.workload.schedule(plan.duration_s)
        engine = OpenLoopEngine(plan.workload, schedule, plan.target)
        started_at = time.time()
        if on_start:
            on_start(started_at)
        result = await engine.run(progress=progress)
        return LoadResult(plan, result.table, result.itl, started_at)
    run = await run_in_processes(plan, progress, on_start)
    table = OpTable.merge([r.table for r in run.results])
    itl = DurationHistogram.merged([r.itl for r in run.results])
    return LoadResult(plan, table, itl, run.started_at)
