"""The steady-state probe: a short, light load that must meet its checks before faults start.

The probe sends the scenario's own request mix at a constant ``rate_rps`` (with another seed,
so it does not pre-warm the main run's exact schedule) and is stored as a history of its own,
next to the run, as evidence.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from benchmarks.arrivals import Arrivals, Constant
from benchmarks.event_loop import run_with_fast_loop
from benchmarks.history import write_history
from benchmarks.plan import LoadPlan
from benchmarks.runner import run_load

from .checks import evaluate_all
from .checks.run_verdict import verdict_of
from .schema import SteadyStateSpec
from .stored_run import RUN_KEY, read_run


PROBE_SEED_OFFSET = 1_000_003


def probe(
    plan: LoadPlan, spec: SteadyStateSpec, path: Path, *, target: Mapping[str, Any]
) -> dict[str, Any]:
    """Run the probe of ``plan``'s mix into ``path``; ``{"verdict": ..., "checks": [...]}``.

    ``target`` is the scenario's target section, stored with the probe so that its checks
    know what the target can report. The verdict is ``pass``, ``fail`` or ``unknown``; a
    generator that fell behind makes it ``unknown``.
    """
    workload = dataclasses.replace(
        plan.workload,
        arrivals=Arrivals(Constant(spec.rate_rps), plan.workload.arrivals.process),
        seed=plan.workload.seed + PROBE_SEED_OFFSET,
    )
    probe_plan = dataclasses.replace(plan, workload=workload, duration_s=spec.duration_s)
    result = run_with_fast_loop(run_load(probe_plan))
    scenario = {"name": path.name, "target": dict(target)}
    write_history(result, path, extra={RUN_KEY: {"scenario": scenario}})
    results = evaluate_all(spec.checks, read_run(path))
    shortfall = result.shortfall()
    return {
        "verdict": "unknown" if shortfall else verdict_of(results),
        "shortfall": shortfall,
        "path": str(path),
        "checks": [r.to_dict() for r in results],
    }
