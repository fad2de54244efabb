"""One step's verdict: the canary cohort against the stable one, on the scenario's SLOs.

Two comparisons with the A/B statistics (``benchmarks.stats.compare_metrics``: Mann-Whitney
U, Holm-corrected, with a minimum effect): latency per request, and the error rate per
slice of the step (``ERROR_WINDOWS`` slices). A metric ``worse`` for the canary fails the
step. So does an SLO of the scenario (its ``latency`` and ``error_rate`` checks, over the
cohort) that the canary breaks while the stable cohort meets it, and a canary cohort that got
no request. The last step (all traffic on the canary) is compared with the stable cohort of
the step before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from benchmarks.op import Outcome
from benchmarks.percentile import nearest_rank
from benchmarks.stats import MetricComparison, compare_metrics
from scenarios.checks import ErrorRateCheck, LatencyCheck
from scenarios.checks.selection import target_ended
from scenarios.schema import ScenarioSpec

from .cohorts import StepLoad


ERROR_WINDOWS = 8
Decision = Literal["continue", "promote", "roll back"]
Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Cohort:
    """The ended requests of one variant in one step."""

    variant: str
    latency_ms: Floats
    failed: npt.NDArray[np.bool_]
    window: npt.NDArray[np.intp]
    """Each request's slice of the step, ``0 .. ERROR_WINDOWS - 1``."""

    @classmethod
    def of(cls, step: StepLoad, variant: str, duration_s: float) -> Cohort:
        """The requests of ``step`` that were served ``variant``."""
        ops = step.table.ops
        mine = np.asarray([v == variant for v in step.variants], dtype=np.bool_)
        rows = mine & target_ended(ops) & ~np.isnan(step.table.latency_s)
        slice_s = duration_s / ERROR_WINDOWS
        window = np.clip((ops["intended_s"][rows] // slice_s).astype(np.intp), 0, ERROR_WINDOWS - 1)
        failed = np.isin(ops["outcome"][rows], [Outcome.FAIL, Outcome.INFO])
        return cls(variant, step.table.latency_s[rows] * 1000, failed, window)

    @property
    def requests(self) -> int:
        """How many ended requests the cohort has."""
        return len(self.latency_ms)

    @property
    def error_rate(self) -> float:
        """Failed or given-up requests over ended ones (NaN without requests)."""
        return float(self.failed.mean()) if self.requests else float("nan")

    def percentile_ms(self, percentile: float) -> float:
        """The nearest-rank latency percentile (NaN without requests)."""
        return nearest_rank(self.latency_ms, percentile) if self.requests else float("nan")

    def window_error_rates(self) -> list[float]:
        """The error rate of each slice (NaN for a slice without requests)."""
        totals = np.bincount(self.window, minlength=ERROR_WINDOWS)
        failed = np.bincount(self.window[self.failed], minlength=ERROR_WINDOWS)
        return [float(f / t) if t else float("nan") for f, t in zip(failed, totals, strict=True)]


@dataclass(frozen=True)
class Slo:
    """A scenario SLO judged per cohort: a latency percentile or an error rate, at most."""

    name: str
    percentile: float | None
    """None: the error rate."""
    limit: float

    def observed(self, cohort: Cohort) -> float:
        """The cohort's figure (ms or a fraction)."""
        if self.percentile is None:
            return cohort.error_rate
        return cohort.percentile_ms(self.percentile)

    @property
    def label(self) -> str:
        """``p95 <= 800 ms`` or ``errors <= 0.01``."""
        if self.percentile is None:
            return f"errors <= {self.limit:g}"
        return f"p{self.percentile:g} <= {self.limit:g} ms"


def slos_of(spec: ScenarioSpec) -> list[Slo]:
    """The scenario's latency and error-rate checks, as SLOs over a cohort."""
    slos = []
    for name, check in spec.checks.items():
        if isinstance(check, LatencyCheck):
            slos.append(Slo(name, check.percentile, check.max_ms))
        elif isinstance(check, ErrorRateCheck):
            slos.append(Slo(name, None, check.max))
    return slos


@dataclass(frozen=True)
class SloResult:
    """One SLO over both cohorts."""

    slo: Slo
    stable: float
    canary: float

    @property
    def canary_breaks_it(self) -> bool:
        """The canary breaks the SLO while the stable cohort meets it."""
        return bool(self.canary > self.slo.limit >= self.stable)


@dataclass(frozen=True)
class StepResult:
    """One step: the share sent to the canary, both cohorts' figures, the decision."""

    percent: int
    stable: Cohort
    canary: Cohort
    comparisons: list[MetricComparison]
    slos: list[SloResult]
    decision: Decision
    reasons: list[str]
    unassigned: int = 0
    """Requests of the step served neither variant (no such flag in their answer's header)."""


def judge(
    percent: int,
    stable: Cohort,
    canary: Cohort,
    slos: Sequence[Slo],
    *,
    last: bool,
    alpha: float,
    min_effect: float,
    unassigned: int = 0,
) -> StepResult:
    """The step's decision (see the module docstring)."""
    comparisons = compare_metrics(
        {
            "latency_ms": (stable.latency_ms.tolist(), canary.latency_ms.tolist(), False),
            "error_rate": (stable.window_error_rates(), canary.window_error_rates(), False),
        },
        alpha=alpha,
        min_effect=min_effect,
    )
    results = [SloResult(slo, slo.observed(stable), slo.observed(canary)) for slo in slos]
    reasons = [f"{c.metric} worse: {c.reason}" for c in comparisons if c.verdict == "worse"]
    reasons += [
        f"the canary breaks {r.slo.name} ({r.slo.label}): {r.canary:.4g} where stable has "
        f"{r.stable:.4g}"
        for r in results
        if r.canary_breaks_it
    ]
    if not canary.requests:
        reasons.append("no request was served the canary")
    decision: Decision = "roll back" if reasons else "promote" if last else "continue"
    return StepResult(percent, stable, canary, comparisons, results, decision, reasons, unassigned)
