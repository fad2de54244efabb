"""Capacity: the highest click rate at which a scenario's SLO checks still pass.

The scenario's workload runs at a constant rate; the rate doubles from ``low_rps`` until a
run fails (or ``high_rps`` passes), then bisection narrows the last passing and the first
failing rate until they are within ``tolerance`` of each other (as vLLM's ``serve_sla``
sweep does). A run whose verdict is ``unknown`` (e.g. the generator could not keep up) does
not count as passing: capacity is what was shown, not what might be. Each step is a full
scenario run, kept with its report under the output folder.

The answer is a bracket, the highest passing rate and the lowest failing one. Either may be
missing, and the answer is then censored: every rate up to ``high_rps`` passed (capacity is
at least the last of them), or ``low_rps`` already failed (capacity is below it).

``capacity.json`` records both bounds and whether the answer is censored; ``capacity_rps``
is the highest passing rate, null when none passed. A result set (``result_set``) compares
``capacity_rps`` only: a search censored above counts with its lower bound, which can only
understate it, so that two sets searched over the same range may hide a gain above
``high_rps`` but never show a change that was not measured; a search where nothing passed
gives no sample at all (zero would be a value nobody measured and would exaggerate any
change), so its scenario's capacity is compared on the other searches or, with none, is
``unknown``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks.history import testbed

from ..load_engines import AsyncioEngine, LoadEngine
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


Measure = Callable[[ScenarioSpec, float, RunOptions], Step]
"""Runs a scenario at a rate (clicks/s) with the options given and measures the step."""


@dataclass(frozen=True)
class Bracket:
    """Where capacity lies: at or above ``passing_rps``, below ``failing_rps``."""

    passing_rps: float | None
    """The highest rate that passed; None if even the first rate failed."""
    failing_rps: float | None
    """The lowest rate that failed; None if every rate tried passed."""

    def __post_init__(self) -> None:
        if self.passing_rps is None and self.failing_rps is None:
            raise ValueError("a capacity bracket needs a passing or a failing rate")

    @property
    def censored(self) -> bool:
        """Whether one bound is missing, so that capacity is only known to be above or below."""
        return self.passing_rps is None or self.failing_rps is None


@dataclass(frozen=True)
class Capacity:
    """The search's answer and every step it took."""

    scenario: str
    target: str
    """The target's label (``hardened``, ``litellm``, a target file's name)."""
    bracket: Bracket
    low_rps: float
    high_rps: float
    steps: list[Step]


def at_rate(spec: ScenarioSpec, rate_rps: float) -> ScenarioSpec:
    """``spec`` at a constant ``rate_rps`` (clicks per second)."""
    shape = ConstantShape(kind="constant", rate_rps=rate_rps)
    arrivals = ArrivalsSpec(shape=shape, process=spec.workload.arrivals.process)
    workload = spec.workload.model_copy(update={"arrivals": arrivals})
    return spec.model_copy(update={"workload": workload})


def measure_step(spec: ScenarioSpec, rate_rps: float, options: RunOptions) -> Step:
    """Run ``spec`` at ``rate_rps`` on the stack and measure its verdict, p95 and errors."""
    outcome = run_scenario(at_rate(spec, rate_rps), options)
    figures = RunFigures.of(outcome.run)
    return Step(rate_rps, outcome.verdict, figures.p95_s * 1e3, figures.error_rate)


def find_capacity(
    spec: ScenarioSpec,
    *,
    target: str,
    out: Path,
    low_rps: float,
    high_rps: float,
    tolerance: float = 0.1,
    engine: LoadEngine | None = None,
    say: Say = lambda _message: None,
    measure: Measure = measure_step,
) -> Capacity:
    """Search the capacity of ``spec`` on its target (labelled ``target``); write
    ``capacity.json``."""
    steps: list[Step] = []

    def passes(rate: float) -> bool:
        say(f"{spec.name} [{target}] at {rate:,.1f} clicks/s")
        options = RunOptions(out / f"{len(steps):02d}-{rate:g}", engine=engine or AsyncioEngine())
        step = measure(spec, rate, options)
        steps.append(step)
        say(f"  {step.verdict}: p95 {step.p95_ms:,.0f} ms, errors {step.error_rate:.2%}")
        return step.verdict == "pass"

    bracket = search(passes, low_rps, high_rps, tolerance)
    found = Capacity(spec.name, target, bracket, low_rps, high_rps, steps)
    _write(found, out)
    return found


def search(
    passes: Callable[[float], bool], low_rps: float, high_rps: float, tolerance: float
) -> Bracket:
    """The highest rate ``passes`` accepts and the lowest it refuses: doubling from
    ``low_rps`` up to ``high_rps`` (which is tried too), then bisection until they are within
    ``tolerance``."""
    if low_rps > high_rps:
        raise ValueError(f"the lowest rate ({low_rps:g}) is above the highest ({high_rps:g})")
    passing: float | None = None
    failing: float | None = None
    rate = low_rps
    while passing != high_rps:
        if not passes(rate):
            failing = rate
            break
        passing, rate = rate, min(rate * 2, high_rps)  # --high itself is the last one tried
    if passing is not None and failing is not None:
        while (failing - passing) / passing > tolerance:
            middle = (passing + failing) / 2
            if passes(middle):
                passing = middle
            else:
                failing = middle
    return Bracket(passing, failing)


def summary(found: Capacity) -> str:
    """The answer in words, censored bounds in the terms of ``meltproof capacity``'s options."""
    passing, failing = found.bracket.passing_rps, found.bracket.failing_rps
    if failing is None:
        return f">= {passing:,.1f} clicks/s (no failing rate found up to --high {found.high_rps:g})"
    if passing is None:
        return f"< {failing:,.1f} clicks/s (--low {found.low_rps:g} already fails)"
    return f"{passing:,.1f} clicks/s (passes at {passing:,.1f}, fails at {failing:,.1f})"


def _write(found: Capacity, out: Path) -> None:
    """``capacity.json``: ``capacity_rps`` is the highest passing rate (null if none passed)."""
    document: dict[str, Any] = {
        "scenario": found.scenario,
        "target": found.target,
        "capacity_rps": found.bracket.passing_rps,
        "failing_rps": found.bracket.failing_rps,
        "censored": found.bracket.censored,
        "low_rps": found.low_rps,
        "high_rps": found.high_rps,
        "steps": [asdict(step) for step in found.steps],
        "testbed": testbed_of({"testbed": testbed(), "scenario_run": {"services": _services(out)}}),
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / CAPACITY_FILE).write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")


def _services(out: Path) -> dict[str, Any]:
    """The service versions one of the steps recorded."""
    for run_file in sorted(out.glob("*/run/run.json")):
        return dict(json.loads(run_file.read_text())["scenario_run"].get("services") or {})
    return {}
