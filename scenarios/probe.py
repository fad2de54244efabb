"""The steady-state probe: a short, light load that must meet its checks before faults start.

The probe sends the scenario's own request mix at a constant ``rate_rps``, with another seed
and its own prompts (each starts with ``PROBE_PROMPT_PREFIX``), so it warms no cache for the
main run, and is stored as a history of its own, next to the run, as evidence.
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
from .run_record import RUN_KEY
from .schema import SteadyStateSpec
from .stored_run import read_run


PROBE_SEED_OFFSET = 1_000_003
PROBE_PROMPT_PREFIX = "Steady-state probe. "


def probe_plan(plan: LoadPlan, spec: SteadyStateSpec) -> LoadPlan:
    """The probe of ``plan``: its mix at ``spec``'s constant rate, with another seed and
    prompts of its own, so that no cache (Redis, or a target's memory that emptying Redis
    does not reach) holds an answer of the run's before the run."""
    workload = dataclasses.replace(
        plan.workload,
        arrivals=Arrivals(Constant(spec.rate_rps), plan.workload.arrivals.process),
        seed=plan.workload.seed + PROBE_SEED_OFFSET,
        prompt_prefix=PROBE_PROMPT_PREFIX + plan.workload.prompt_prefix,
    )
    return dataclasses.replace(plan, workload=workload, duration_s=spec.duration_s)


def probe(
    plan: LoadPlan, spec: SteadyStateSpec, path: Path, *, target: Mapping[str, Any]
) -> dict[str, Any]:
    """Run the probe of ``plan``'s mix into ``path``; ``{"verdict": ..., "checks": [...]}``.

    ``target`` is the scenario's target section, stored with the probe so that its checks
    know what the target can report. The verdict is ``pass``, ``fail`` or ``unknown``; a
    generator that fell behind makes it ``unknown``.
    """
    result = run_with_fast_loop(run_load(probe_plan(plan, spec)))
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
