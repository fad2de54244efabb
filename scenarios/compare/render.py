"""A comparison as Markdown (a pull-request comment), as a small offline HTML page, as JSON."""

from __future__ import annotations

import html
import math
from dataclasses import asdict
from typing import Any

from benchmarks.stats import MetricComparison

from .comparison import Comparison
from .result_set import ResultSet


UNITS = {"p50_ms": "ms", "p95_ms": "ms", "p99_ms": "ms", "cost_per_request_usd": "usd",
         "capacity_rps": "rps", "cpu_ms_per_request": "cpu_ms"}  # fmt: skip
FRACTIONS = {"error_rate", "goodput", "cache_hit_rate"}


def value(metric: str, x: float) -> str:
    """A metric's value as a reader expects it."""
    if math.isnan(x):
        return "—"
    if metric in FRACTIONS:
        return f"{x:.2%}"
    unit = UNITS.get(metric)
    if unit == "usd":
        return f"${x:.6f}"
    if unit == "cpu_ms":
        return f"{x:.3f} ms"
    if unit:
        return f"{x:,.1f} {unit}"
    return f"{x:.3f}"


def change(m: MetricComparison) -> str:
    """The relative change of the medians, and the shift's confidence interval."""
    if math.isnan(m.relative_change):
        return "—"
    interval = f"[{value(m.metric, m.shift_low)}, {value(m.metric, m.shift_high)}]"
    return f"{m.relative_change:+.1%} (shift {interval})"


def rows(comparison: Comparison) -> list[tuple[str, list[tuple[str, ...]]]]:
    """Per scenario, one tuple of cells per metric."""
    return [
        (
            s.scenario,
            [
                (
                    m.metric,
                    value(m.metric, m.baseline_median),
                    value(m.metric, m.candidate_median),
                    change(m),
                    "—" if math.isnan(m.p_adjusted) else f"{m.p_adjusted:.3g}",
                    m.verdict.upper(),
                    m.reason,
                )
                for m in s.metrics
            ],
        )
        for s in comparison.scenarios
    ]


HEADERS = ("metric", "baseline", "candidate", "change (95% CI of the shift)", "p (Holm)",
           "verdict", "why")  # fmt: skip


def code_line(side: str, results: ResultSet) -> str:
    """Which gateway code one side's runs ran."""
    if not results.code:
        return f"{side}: gateway code not recorded"
    trees = (
        f"`{c['code_path']}` at {c['commit'] or 'no git commit'}"
        + (" with uncommitted changes" if c["dirty"] else "")
        for c in results.code
    )
    return f"{side}: " + "; ".join(trees)


def summary(comparison: Comparison) -> str:
    """One paragraph: the sets, their sizes and the rule."""
    return (
        f"Baseline `{comparison.baseline.path}` ({comparison.baseline.runs} runs) against "
        f"candidate `{comparison.candidate.path}` ({comparison.candidate.runs} runs). A "
        f"metric is worse or better only when a Mann-Whitney U test over the runs is "
        f"significant at {comparison.alpha:g} (Holm-corrected across the scenario's metrics) "
        f"and the medians differ by at least {comparison.min_effect:.0%}; too few runs gives "
        "UNKNOWN and says how many more are needed."
    )


def markdown(comparison: Comparison) -> str:
    """The comparison as a pull-request comment."""
    lines = [f"## meltproof comparison: {comparison.verdict.upper()}", "", summary(comparison)]
    for scenario, cells in rows(comparison):
        lines += ["", f"### {scenario}", "", "| " + " | ".join(HEADERS) + " |",
                  "|" + "---|" * len(HEADERS)]  # fmt: skip
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in cells]
    if comparison.only_in_one:
        lines += ["", "Not compared (in one set only): " + ", ".join(comparison.only_in_one)]
    lines += ["", f"Testbed: {comparison.candidate.testbed}", ""]
    lines += [f"- {code_line(side, results)}" for side, results in _sides(comparison)]
    return "\n".join(lines) + "\n"


def page(comparison: Comparison) -> str:
    """The comparison as one self-contained HTML page."""
    sections = []
    for scenario, cells in rows(comparison):
        head = "".join(f"<th>{html.escape(h)}</th>" for h in HEADERS)
        body = "".join(
            f"<tr class='{html.escape(row[5].lower())}'>"
            + "".join(f"<td>{html.escape(c)}</td>" for c in row)
            + "</tr>"
            for row in cells
        )
        sections.append(f"<h2>{html.escape(scenario)}</h2><table><tr>{head}</tr>{body}</table>")
    title = f"meltproof comparison: {comparison.verdict.upper()}"
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>"
        "body{font:14px system-ui,sans-serif;margin:2em;color:#222}"
        "table{border-collapse:collapse}td,th{padding:.25em .6em;border-bottom:1px solid #ddd;"
        "text-align:left}tr.worse td{background:#fde8ea}tr.better td{background:#e6f4ea}"
        "tr.unknown td{background:#fff6db}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(summary(comparison))}</p><ul>"
        + "".join(f"<li>{html.escape(code_line(s, r))}</li>" for s, r in _sides(comparison))
        + "</ul>"
        + "".join(sections)
        + "</body></html>\n"
    )


def _sides(comparison: Comparison) -> tuple[tuple[str, ResultSet], ...]:
    return (("baseline", comparison.baseline), ("candidate", comparison.candidate))


def document(comparison: Comparison) -> dict[str, Any]:
    """The JSON form (NaN as None)."""

    def clean(x: Any) -> Any:
        if isinstance(x, float) and not math.isfinite(x):
            return None
        if isinstance(x, list | tuple):
            return [clean(v) for v in x]
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items()}
        return x

    cleaned: dict[str, Any] = clean(
        {
            "schema_version": 1,
            "verdict": comparison.verdict,
            "alpha": comparison.alpha,
            "min_effect": comparison.min_effect,
            **{
                side: {
                    "path": str(results.path),
                    "runs": results.runs,
                    "code": [dict(c) for c in results.code],
                }
                for side, results in _sides(comparison)
            },
            "testbed": dict(comparison.candidate.testbed),
            "scenarios": {s.scenario: [asdict(m) for m in s.metrics] for s in comparison.scenarios},
            "only_in_one": comparison.only_in_one,
        }
    )
    return cleaned
