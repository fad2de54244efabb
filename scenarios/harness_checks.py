"""Verdicts on the run itself, next to the scenario's SLO checks: did the harness do its part?

- ``steady_state_after``: the probe after the load met its checks (those not applicable to
  the target aside);
- ``faults_applied``: every fault was injected and healed as planned (a fault that never
  acted would make a passing run prove nothing, so it is ``unknown``, not a pass);
- ``generator``: the load generator kept to its schedule.

They are computed from what the runner stored, so ``meltproof check`` gives the same verdict
as the run did.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .checks import NOT_APPLICABLE, UNKNOWN, CheckResult, Validity
from .checks.result import HARNESS_KIND, STEADY_STATE_KIND
from .stored_run import StoredRun


def harness_results(run: StoredRun) -> list[CheckResult]:
    """The run-level verdicts that apply to ``run``."""
    results = []
    after = run.steady_state.get("after")
    if after is not None:
        results.append(_steady_after(after))
    planned = (run.scenario.get("faults") or []) if run.scenario else []
    if planned or run.faults:
        results.append(_faults_applied(run, len(planned)))
    results.append(_generator(run.harness))
    return results


def _steady_after(outcome: Mapping[str, Any]) -> CheckResult:
    verdicts = {c["name"]: c["valid"] for c in outcome.get("checks", [])}
    failed = [name for name, valid in verdicts.items() if valid is False]
    undecided = [name for name, valid in verdicts.items() if valid == UNKNOWN]
    not_applicable = [name for name, valid in verdicts.items() if valid == NOT_APPLICABLE]
    valid: Validity = True
    details = "the probe after the load met its checks"
    if not_applicable:
        details += f" (not applicable to the target: {', '.join(not_applicable)})"
    if failed:
        valid, details = False, f"the probe after the load failed: {', '.join(failed)}"
    elif undecided or not verdicts:
        valid = UNKNOWN
        details = "the probe after the load could not decide: " + (
            ", ".join(undecided) or "no checks"
        )
    return CheckResult(
        name="steady_state_after", kind=STEADY_STATE_KIND, valid=valid, details=details
    )


def _faults_applied(run: StoredRun, planned_events: int) -> CheckResult:
    problems = [
        f"{f.name}: {f.error}" if f.error else f"{f.name}: never healed"
        for f in run.faults
        if f.error or f.ended_s is None
    ]
    cleanup = run.harness.get("fault_cleanup_error")
    if cleanup:
        problems.append(f"clean-up: {cleanup}")
    if planned_events and not run.faults:
        problems.append("no fault was injected")
    if problems:
        return CheckResult(
            name="faults_applied",
            kind=HARNESS_KIND,
            valid=UNKNOWN,
            observed=float(len(problems)),
            unit="count",
            details="the faults did not act as planned, so the run proves nothing about them: "
            + "; ".join(problems),
        )
    return CheckResult(
        name="faults_applied",
        kind=HARNESS_KIND,
        valid=True,
        observed=float(len(run.faults)),
        unit="count",
        details=f"{len(run.faults)} fault activation(s) injected and healed as planned",
    )


def _generator(harness: Mapping[str, Any]) -> CheckResult:
    shortfall = harness.get("shortfall")
    if shortfall:
        return CheckResult(name="generator", kind=HARNESS_KIND, valid=UNKNOWN, details=shortfall)
    return CheckResult(
        name="generator", kind=HARNESS_KIND, valid=True, details="the load kept to its schedule"
    )
