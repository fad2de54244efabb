"""A result set: one or more stored runs per scenario (and capacity searches), from a folder.

Any folder holding scenario runs is a result set: every ``run/run.json`` below it that a
scenario run wrote counts, grouped by scenario name (and gateway profile, when there is one,
so that ``monday_peak[naive]`` and ``monday_peak[hardened]`` are told apart). Capacity
searches (``capacity.json``) add a ``capacity_rps`` sample to their scenario.

The testbed of a set is what its runs were measured on: processor, cores, Python and the
versions of the stack's third-party services. Host names and meltproof's own version (the
harness, the provider, the gateway) are not part of it: comparing two versions of the code on
one machine is the point.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.history import RUN_FILE, HistoryError

from ..run_figures import RunFigures
from ..stored_run import RUN_KEY, StoredRun, read_run


CAPACITY_FILE = "capacity.json"
TESTBED_SERVICES = ("postgres", "redis", "toxiproxy")
METRICS: Mapping[str, bool] = {
    "p50_ms": False,
    "p95_ms": False,
    "p99_ms": False,
    "error_rate": False,
    "goodput": True,
    "cost_per_request_usd": False,
    "cache_hit_rate": True,
    "amplification": False,
    "capacity_rps": True,
}
"""Every compared metric and whether higher is better."""


class ResultSetError(Exception):
    """A folder that holds no usable runs, or sets that cannot be compared."""


@dataclass(frozen=True)
class ResultSet:
    """Per scenario key, per metric, one sample per run; and the testbed of the runs."""

    path: Path
    samples: Mapping[str, Mapping[str, list[float]]]
    testbed: Mapping[str, Any]
    runs: int


def metrics_of(run: StoredRun) -> dict[str, float]:
    """The compared metrics of one run (capacity comes from capacity searches)."""
    figures = RunFigures.of(run)
    return {
        "p50_ms": figures.p50_s * 1e3,
        "p95_ms": figures.p95_s * 1e3,
        "p99_ms": figures.p99_s * 1e3,
        "error_rate": figures.error_rate,
        "goodput": figures.goodput,
        "cost_per_request_usd": figures.cost_per_request_usd,
        "cache_hit_rate": figures.cache_hit_rate,
        "amplification": figures.amplification,
    }


def scenario_key(name: str, gateway: Mapping[str, Any] | None) -> str:
    """``name``, with the gateway profile in brackets when there is one."""
    return f"{name}[{gateway['profile']}]" if gateway else name


def testbed_of(meta: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of a run's record that make its testbed."""
    machine = meta.get("testbed") or {}
    recorded = meta.get(RUN_KEY) or {}
    return {
        "cpu_model": machine.get("cpu_model"),
        "cpu_count": machine.get("cpu_count"),
        "machine": machine.get("machine"),
        "python": ".".join(str(machine.get("python", "")).split(".")[:2]),
        "services": {
            name: version
            for name, version in (recorded.get("services") or {}).items()
            if name in TESTBED_SERVICES
        },
    }


def load_result_set(path: Path) -> ResultSet:
    """Every scenario run and capacity search below ``path``."""
    samples: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    testbeds: list[dict[str, Any]] = []
    runs = 0
    for run_file in sorted(path.rglob(f"run/{RUN_FILE}")):  # probes are steady_before/after
        try:
            run = read_run(run_file.parent)
        except HistoryError as exc:
            raise ResultSetError(str(exc)) from None
        if RUN_KEY not in run.history.meta:
            continue  # a plain load history, not a scenario run
        key = scenario_key(run.name, run.gateway)
        for metric, value in metrics_of(run).items():
            samples[key][metric].append(value)
        testbeds.append(testbed_of(run.history.meta))
        runs += 1
    for capacity_file in sorted(path.rglob(CAPACITY_FILE)):
        found = json.loads(capacity_file.read_text())
        key = scenario_key(found["scenario"], {"profile": found["profile"]})
        samples[key]["capacity_rps"].append(float(found["capacity_rps"]))
        testbeds.append(found["testbed"])
        runs += 1
    if not runs:
        raise ResultSetError(f"{path}: no scenario runs or capacity searches below this folder")
    distinct = {json.dumps(t, sort_keys=True) for t in testbeds}
    if len(distinct) > 1:
        raise ResultSetError(f"{path}: its runs come from {len(distinct)} different testbeds")
    return ResultSet(path, samples, testbeds[0], runs)
