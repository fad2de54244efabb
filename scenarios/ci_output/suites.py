"""JUnit suites from meltproof's verdicts: a run's checks, a run that stopped, a comparison.

A failed check is a ``failure``, an undecided one an ``error`` (the harness could not say) and
one not applicable to the target is ``skipped`` (there was nothing to judge). In a comparison a
``worse`` metric is a ``failure`` and an ``unknown`` one is ``skipped``: too few runs to decide
is not a regression, and the gate does not fail on it.
"""

from __future__ import annotations

from collections.abc import Sequence

from benchmarks.stats import MetricComparison, Verdict
from scenarios.checks.result import NOT_APPLICABLE, UNKNOWN, CheckResult
from scenarios.compare.comparison import Comparison

from .junit import JUnitCase, JUnitSuite, Outcome
from .wording import check_summary, observed_vs_limit


def suite_of_checks(
    scenario_name: str, results: Sequence[CheckResult], *, time_s: float = 0.0
) -> JUnitSuite:
    """One test case per check of a scenario run."""
    return JUnitSuite(scenario_name, [_check_case(scenario_name, r) for r in results], time_s)


def suite_of_steady_state_failure(
    scenario_name: str, message: str, *, time_s: float = 0.0
) -> JUnitSuite:
    """A run stopped because the target failed its steady-state probe: a failure."""
    case = JUnitCase("steady_state_before", scenario_name, "failed", message)
    return JUnitSuite(scenario_name, [case], time_s)


def suite_of_harness_error(scenario_name: str, message: str, *, time_s: float = 0.0) -> JUnitSuite:
    """A run the harness could not carry out: an error, no verdict on the target."""
    case = JUnitCase("harness", scenario_name, "error", message)
    return JUnitSuite(scenario_name, [case], time_s)


def suite_of_comparison(comparison: Comparison) -> JUnitSuite:
    """One test case per scenario and metric, named ``scenario: metric``; a scenario that only
    one set has is a skipped case."""
    cases = [
        _metric_case(scenario.scenario, metric)
        for scenario in comparison.scenarios
        for metric in scenario.metrics
    ]
    for key in comparison.only_in_one:
        side = "baseline" if key in comparison.baseline.samples else "candidate"
        cases.append(JUnitCase(f"{key}: all metrics", key, "skipped", f"only in the {side} set"))
    name = f"comparison of {comparison.candidate.path} with {comparison.baseline.path}"
    return JUnitSuite(name, cases)


def _check_case(scenario_name: str, result: CheckResult) -> JUnitCase:
    if result.valid is True:
        return JUnitCase(result.name, scenario_name, "passed", details=result.details)
    if result.valid == UNKNOWN:
        message = check_summary(result) or "the check could not be decided"
        return JUnitCase(result.name, scenario_name, "error", message)
    if result.valid == NOT_APPLICABLE:
        message = f"not applicable: {result.details or 'the target cannot give the figure'}"
        return JUnitCase(result.name, scenario_name, "skipped", message)
    message = observed_vs_limit(result) or result.details or "the check failed"
    return JUnitCase(result.name, scenario_name, "failed", message, result.details)


_METRIC_OUTCOME: dict[Verdict, Outcome] = {
    "worse": "failed",
    "unknown": "skipped",
    "same": "passed",
    "better": "passed",
}


def _metric_case(scenario: str, metric: MetricComparison) -> JUnitCase:
    details = (
        f"{metric.verdict}: {metric.reason}\n"
        f"shift {metric.shift:.4g} (95% CI {metric.shift_low:.4g} to {metric.shift_high:.4g})\n"
        f"baseline runs: {_runs(metric.baseline)}\n"
        f"candidate runs: {_runs(metric.candidate)}"
    )
    outcome = _METRIC_OUTCOME[metric.verdict]
    message = "" if outcome == "passed" else metric.reason
    return JUnitCase(f"{scenario}: {metric.metric}", scenario, outcome, message, details)


def _runs(values: Sequence[float]) -> str:
    return ", ".join(f"{value:.4g}" for value in values) or "none"
