"""Capacity: the highest click rate at which a scenario's SLO checks still pass.

The scenario's workload runs at a constant rate; the rate doubles from ``low_rps`` until a
run fails (or ``high_rps`` passes), then bisection narrows the last passing and the first
failing rate until they are within ``tolerance`` of each other (as vLLM's ``serve_sla``
sweep does). A run whose verdict is ``unknown`` (e.g. the generator could not keep up) does
not count as passing: capacity is what was shown, not what might be. Each step is a full
scenario run, kept with its report under the output folder.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks.history import testbed

from ..run_figures import RunFigures
from ..runner import RunOptions, run_scenario
from ..schema import ScenarioSpec
from ..workload_spec import ArrivalsSpec, ConstantShape
from .result_set import CAPACITY_FILE, testbed_of


Say = Callable[[str], None]


@dataclass(frozen=True)
class Step:
    """One measured rate."""

    rate_rps: float
    verdict: str
    p95_ms: float
    error_rate: float


@dataclass(frozen=True)
class Capacity:
    """The search's answer and every step it took."""

    scenario: str
    profile: str
    capacity_rps: float
    """The highest passing rate (0 if even ``low_rps`` failed)."""
    steps: list[Step]


def at_rate(spec: ScenarioSpec, rate_rps: float) -> ScenarioSpec:
    """``spec`` at a constant ``rate_rps`` (clicks per second)."""
    shape = ConstantShape(kind="constant", rate_rps=rate_rps)
    arrivals = ArrivalsSpec(shape=shape, process=spec.workload.arrivals.process)
    workload = spec.workload.model_copy(update={"arrivals": arrivals})
    return spec.model_copy(update={"workload": workload})


def find_capacity(
    spec: ScenarioSpec,
    *,
    profile: str,
    out: Path,
    low_rps: float,
    high_rps: float,
    tolerance: float = 0.1,
    say: Say = lambda _message: None,
) -> Capacity:
    """Search the capacity of ``spec`` on our gateway in ``profile``; write ``capacity.json``."""
    steps: list[Step] = []

    def passes(rate: float) -> bool:
        say(f"{spec.name} [{profile}] at {rate:,.1f} clicks/s")
        outcome = run_scenario(
            at_rate(spec, rate), RunOptions(out / f"{len(steps):02d}-{rate:g}", profile=profile)
        )
        figures = RunFigures.of(outcome.run)
        steps.append(Step(rate, outcome.verdict, figures.p95_s * 1e3, figures.error_rate))
        say(f"  {outcome.verdict}: p95 {figures.p95_s * 1e3:,.0f} ms, "
            f"errors {figures.error_rate:.2%}")  # fmt: skip
        return outcome.verdict == "pass"

    found = Capacity(spec.name, profile, search(passes, low_rps, high_rps, tolerance), steps)
    _write(found, out)
    return found


def search(
    passes: Callable[[float], bool], low_rps: float, high_rps: float, tolerance: float
) -> float:
    """The highest rate ``passes`` accepts: doubling from ``low_rps`` (up to ``high_rps``),
    then bisection until the passing and failing rates are within ``tolerance``."""
    passing, failing = 0.0, None
    rate = low_rps
    while rate <= high_rps:
        if not passes(rate):
            failing = rate
            break
        passing, rate = rate, rate * 2
    if failing is not None and passing > 0:
        while (failing - passing) / passing > tolerance:
            middle = (passing + failing) / 2
            if passes(middle):
                passing = middle
            else:
                failing = middle
    return passing


def _write(found: Capacity, out: Path) -> None:
    document: dict[str, Any] = {
        **asdict(found),
        "testbed": testbed_of({"testbed": testbed(), "scenario_run": {"services": _services(out)}}),
    }
    (out / CAPACITY_FILE).write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")


def _services(out: Path) -> dict[str, Any]:
    """The service versions one of the steps recorded."""
    for run_file in sorted(out.glob("*/run/run.json")):
        return dict(json.loads(run_file.read_text())["scenario_run"].get("services") or {})
    return {}
