"""Compare a candidate result set with a baseline: per scenario and metric, a verdict.

Each scenario's metrics are compared together (``benchmarks.stats.compare_metrics``:
Mann-Whitney U over the runs, Holm-corrected across the scenario's metrics, and a minimum
effect), so a regression needs both significance and size, and too few runs gives
``unknown`` with the number of runs still needed. Sets measured on different testbeds are
refused unless forced: a faster machine is not a better gateway.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from benchmarks.stats import MetricComparison, compare_metrics

from .result_set import METRICS, ResultSet, ResultSetError, comparable_testbed


Overall = Literal["better", "worse", "same", "unknown"]


@dataclass(frozen=True)
class ScenarioComparison:
    """The verdicts of one scenario's metrics."""

    scenario: str
    metrics: list[MetricComparison]


@dataclass(frozen=True)
class Comparison:
    """Every scenario both sets have, and the overall verdict."""

    baseline: ResultSet
    candidate: ResultSet
    scenarios: list[ScenarioComparison]
    only_in_one: list[str]
    alpha: float
    min_effect: float

    @property
    def verdict(self) -> Overall:
        """``worse`` if any metric is, else ``unknown`` if any is, else ``better`` if any is."""
        verdicts = {m.verdict for s in self.scenarios for m in s.metrics}
        for verdict in ("worse", "unknown", "better"):
            if verdict in verdicts:
                return verdict
        return "same"


def compare(
    baseline: ResultSet,
    candidate: ResultSet,
    *,
    alpha: float = 0.05,
    min_effect: float = 0.05,
    force: bool = False,
) -> Comparison:
    """Compare ``candidate`` with ``baseline`` scenario by scenario."""
    if not force:
        require_same_testbed(baseline.testbed, candidate.testbed)
    shared = [key for key in baseline.samples if key in candidate.samples]
    if not shared:
        raise ResultSetError("the two sets have no scenario in common")
    scenarios = [
        ScenarioComparison(
            key,
            compare_metrics(
                _paired(baseline.samples[key], candidate.samples[key]),
                alpha=alpha,
                min_effect=min_effect,
            ),
        )
        for key in shared
    ]
    only = sorted(set(baseline.samples) ^ set(candidate.samples))
    return Comparison(baseline, candidate, scenarios, only, alpha, min_effect)


def require_same_testbed(baseline: Mapping[str, Any], candidate: Mapping[str, Any]) -> None:
    """``ResultSetError`` naming the difference unless the two testbeds' keys match."""
    base, cand = comparable_testbed(baseline), comparable_testbed(candidate)
    if base != cand:
        raise ResultSetError(
            "the two sets were measured on different testbeds:\n"
            f"  baseline:  {json.dumps(base, sort_keys=True)}\n"
            f"  candidate: {json.dumps(cand, sort_keys=True)}\n"
            "compare runs from one machine, or pass --force to compare anyway"
        )


def _paired(
    base: Mapping[str, list[float]], cand: Mapping[str, list[float]]
) -> dict[str, tuple[Sequence[float], Sequence[float], bool]]:
    """The metrics both sides measured, with their direction; a metric one side has no value
    for (no provider ground truth, no x-cache header, a run stored before meltproof measured
    it) is left out, not ``unknown``."""
    return {
        metric: (base[metric], cand[metric], higher_is_better)
        for metric, higher_is_better in METRICS.items()
        if _measured(base.get(metric)) and _measured(cand.get(metric))
    }


def _measured(values: Sequence[float] | None) -> bool:
    return bool(values) and not all(math.isnan(v) for v in values or ())
