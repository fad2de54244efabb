"""How CI outputs word a check's verdict: its figures against its limit, then its details."""

from __future__ import annotations

from scenarios.checks.result import CheckResult
from scenarios.checks.wording import amount


def observed_vs_limit(result: CheckResult) -> str:
    """``observed 950 ms, limit 800 ms``, with the figures the check has (empty if none)."""
    figures = (("observed", result.observed), ("limit", result.limit))
    return ", ".join(
        f"{label} {amount(value, result.unit).strip()}"
        for label, value in figures
        if value is not None
    )


def check_summary(result: CheckResult) -> str:
    """The figures and the details of ``result`` in one line."""
    return "; ".join(part for part in (observed_vs_limit(result), result.details) if part)
