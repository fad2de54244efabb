"""The canary's step table: a JSON document (``schema_version`` 1) and Markdown from it.

{"schema_version": 1, "scenario": "...", "flag": "model", "stable": "stable",
 "canary": "canary", "decision": "roll back",
 "steps": [{"percent": 10, "decision": "roll back", "reasons": ["..."],
            "requests_without_variant": 0,
            "stable": {"variant": "stable", "requests": 90, "p50_ms": 31.0,
                       "p95_ms": 40.2, "error_rate": 0.0}, "canary": {...},
            "comparisons": [{"metric": "latency_ms", "verdict": "worse", ...}],
            "slos": [{"name": "p95", "label": "p95 <= 800 ms", "stable": 40.2,
                      "canary": 950.0, "canary_breaks_it": true}]}]}
"""

from __future__ import annotations

import math
from typing import Any

from .flow import CanaryReport
from .verdict import Cohort, StepResult


SCHEMA_VERSION = 1


def canary_json(report: CanaryReport) -> dict[str, Any]:
    """The report as plain JSON (NaN figures become null)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "scenario": report.scenario,
        "flag": report.flag,
        "stable": report.stable,
        "canary": report.canary,
        "flags_file": str(report.flags_file),
        "decision": report.decision,
        "steps": [_step(step) for step in report.steps],
    }


def _step(step: StepResult) -> dict[str, Any]:
    return {
        "percent": step.percent,
        "decision": step.decision,
        "reasons": step.reasons,
        "requests_without_variant": step.unassigned,
        "stable": _cohort(step.stable),
        "canary": _cohort(step.canary),
        "comparisons": [
            {
                "metric": c.metric,
                "verdict": c.verdict,
                "stable_median": _number(c.baseline_median),
                "canary_median": _number(c.candidate_median),
                "p_adjusted": _number(c.p_adjusted),
                "reason": c.reason,
            }
            for c in step.comparisons
        ],
        "slos": [
            {
                "name": r.slo.name,
                "label": r.slo.label,
                "stable": _number(r.stable),
                "canary": _number(r.canary),
                "canary_breaks_it": r.canary_breaks_it,
            }
            for r in step.slos
        ],
    }


def _cohort(cohort: Cohort) -> dict[str, Any]:
    return {
        "variant": cohort.variant,
        "requests": cohort.requests,
        "p50_ms": _number(cohort.percentile_ms(50)),
        "p95_ms": _number(cohort.percentile_ms(95)),
        "error_rate": _number(cohort.error_rate),
    }


def _number(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 6)


def canary_markdown(document: dict[str, Any]) -> str:
    """The step table of ``canary_json``'s document, and the decision."""
    lines = [
        f"# Canary of {document['flag']}: {document['stable']} -> {document['canary']}",
        "",
        f"Scenario `{document['scenario']}`. Decision: **{document['decision']}**.",
        "",
        (
            "| step | requests stable / canary | p50 ms stable / canary | p95 ms stable / canary "
            "| errors stable / canary | latency | errors | decision |"
        ),
        "|---:|---:|---:|---:|---:|---|---|---|",
    ]
    for step in document["steps"]:
        stable, canary = step["stable"], step["canary"]
        verdicts = {c["metric"]: c["verdict"] for c in step["comparisons"]}
        lines.append(
            f"| {step['percent']}% | {stable['requests']} / {canary['requests']} "
            f"| {_ms(stable['p50_ms'])} / {_ms(canary['p50_ms'])} "
            f"| {_ms(stable['p95_ms'])} / {_ms(canary['p95_ms'])} "
            f"| {_rate(stable['error_rate'])} / {_rate(canary['error_rate'])} "
            f"| {verdicts.get('latency_ms', '-')} | {verdicts.get('error_rate', '-')} "
            f"| {step['decision']} |"
        )
    reasons = [(s["percent"], r) for s in document["steps"] for r in s["reasons"]]
    if reasons:
        lines += ["", *(f"- at {percent}%: {reason}" for percent, reason in reasons)]
    if document["decision"] == "promote":
        after = f"serves `{document['canary']}` to every request"
    else:
        after = "is back as it was before the canary"
    lines += ["", f"The flag `{document['flag']}` {after} ({document['flags_file']})."]
    return "\n".join(lines) + "\n"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"
