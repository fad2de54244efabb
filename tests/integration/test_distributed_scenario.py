"""A short fault scenario run by the runner with a Locust master and two workers, and with
the asyncio engine, on the same seed: the same scheduled requests and the same verdicts.

The fault timeline is scheduled from the time zero each engine reports. The latency checks
before, during and after the fault only agree if the fault hit the Locust workers' requests
when it hit the asyncio ones.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scenario_file_support import write

from benchmarks.op import Outcome
from scenarios.checks import Validity
from scenarios.load_engines import AsyncioEngine, LoadEngine, LocustEngine
from scenarios.loader import load_scenario
from scenarios.runner import RunOptions, run_scenario
from scenarios.schema import ScenarioSpec
from scenarios.stored_run import StoredRun


pytestmark = [pytest.mark.integration, pytest.mark.long]

SCENARIO = """\
name: distributed_latency
seed: 5
duration_s: 7
target:
  gateway: {profile: hardened}
  timeout_s: 5
provider:
  models:
    - {name: gpt-4o-mini, ttft_ms: 30, tpot_ms: 1, jitter: 0.05, slots: 64,
       output_tokens_min: 4, output_tokens_max: 8}
    - {name: local-llm, ttft_ms: 10, tpot_ms: 1, jitter: 0.05, slots: 16}
    - {name: text-embedding-3-small, kind: embedding, dimensions: 8, ttft_ms: 5}
workload:
  arrivals:
    shape: {kind: constant, rate_rps: 12}
    process: regular
  tenants: [{name: acme}, {name: globex, weight: 2}]
  prompts: {templates: 20, entities: 500, skew: 0}
  max_tokens: 8
steady_state: {enabled: false}
faults:
  - name: slow provider
    at_s: 2.5
    for_s: 2.5
    fault: {kind: latency, link: provider, latency_ms: 300}
checks:
  errors: {kind: error_rate, max: 0.01}
  answered: {kind: all_answered, deadline_s: 4}
  fast_before: {kind: latency, percentile: 75, max_ms: 250, window: before_faults}
  slow_during: {kind: latency, percentile: 50, max_ms: 250, window: during_faults}
  fast_after:
    {kind: latency, percentile: 75, max_ms: 250, window: after_recovery, settle_s: 0.5}
"""

EXPECTED = {
    "errors": True,
    "answered": True,
    "fast_before": True,
    "slow_during": False,
    "fast_after": True,
    "faults_applied": True,
    "generator": True,
}


def _run(
    engine: LoadEngine, spec: ScenarioSpec, out: Path
) -> tuple[StoredRun, dict[str, Validity]]:
    """The scenario run by the runner, on a stack of its own, with ``engine``."""
    outcome = run_scenario(spec, RunOptions(out, engine=engine))
    return outcome.run, {r.name: r.valid for r in outcome.results}


@pytest.mark.timeout(90)
def test_locust_workers_and_the_asyncio_engine_agree_on_a_fault_scenario(tmp_path: Path) -> None:
    spec = load_scenario(write(tmp_path, SCENARIO))
    by_asyncio, asyncio_verdicts = _run(AsyncioEngine(), spec, tmp_path / "asyncio")
    by_locust, locust_verdicts = _run(LocustEngine(local_workers=2), spec, tmp_path / "locust")

    schedule = spec.workload.build(seed=spec.seed, api_keys={}).schedule(spec.duration_s)
    assert len(by_locust.table) == len(by_asyncio.table) == len(schedule) == 84
    for column in ("row", "intended_s", "tenant", "endpoint", "prompt", "click", "part"):
        assert np.array_equal(by_locust.table.ops[column], by_asyncio.table.ops[column]), column
    assert by_locust.table.tenants == by_asyncio.table.tenants == ("acme", "globex")

    assert asyncio_verdicts == EXPECTED
    assert locust_verdicts == asyncio_verdicts

    assert by_locust.history.plan.processes == 2
    assert (by_locust.table.ops["outcome"] == Outcome.OK).all()
    results = tmp_path / "locust" / "locust" / "results.jsonl"
    reported: dict[int, list[int]] = {0: [], 1: []}
    for line in results.read_text().splitlines():
        record = json.loads(line)
        if record["kind"] == "ops":
            reported[record["worker"]] += record["columns"]["row"]
    assert sorted(reported[0] + reported[1]) == list(range(len(schedule)))
    assert {row % 2 for row in reported[0]} == {0}
    assert {row % 2 for row in reported[1]} == {1}
    for run in (by_asyncio, by_locust):
        assert run.provider is not None
        assert run.provider["total"]["requests"] > 0
