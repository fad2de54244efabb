"""Verdicts as GitHub annotations: what broke is an error, what could not be decided a warning,
and a check not applicable to the target a notice."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TextIO

from scenarios.checks.result import NOT_APPLICABLE, UNKNOWN, CheckResult
from scenarios.compare.comparison import Comparison

from .github import annotate
from .wording import check_summary


def annotate_checks(
    scenario_name: str,
    results: Sequence[CheckResult],
    stream: TextIO | None = None,
    environ: Mapping[str, str] = os.environ,
) -> None:
    """An error per failed check, a warning per undecided one and a notice per one not
    applicable to the target, on GitHub Actions."""
    for result in results:
        if result.valid is False:
            title = f"{scenario_name}: {result.name} failed"
            annotate("error", title, check_summary(result), stream, environ)
        elif result.valid == UNKNOWN:
            title = f"{scenario_name}: {result.name} undecided"
            annotate("warning", title, check_summary(result), stream, environ)
        elif result.valid == NOT_APPLICABLE:
            title = f"{scenario_name}: {result.name} not applicable"
            annotate("notice", title, result.details, stream, environ)


def annotate_comparison(
    comparison: Comparison,
    stream: TextIO | None = None,
    environ: Mapping[str, str] = os.environ,
) -> None:
    """An error per ``worse`` metric and a warning per ``unknown`` one, on GitHub Actions."""
    for scenario in comparison.scenarios:
        for metric in scenario.metrics:
            title = f"{scenario.scenario}: {metric.metric} {metric.verdict}"
            if metric.verdict == "worse":
                annotate("error", title, metric.reason, stream, environ)
            elif metric.verdict == "unknown":
                annotate("warning", title, metric.reason, stream, environ)
