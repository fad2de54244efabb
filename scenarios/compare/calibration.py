"""Calibrate the gate on this machine: how often does it cry wolf, and how often does it catch
a regression of a known size?

Each round runs three sides interleaved, A A' B, on the same seeded schedule: the baseline,
the same code again (A', for an A/A comparison), and the same code with the provider link
slowed by a constant latency toxic (B, a known regression). The toxic is sized from a pilot
run: ``regression`` (10%) of its p95. Each round gives one A/A comparison (a ``worse`` verdict
is a false alarm) and one A/B comparison (a ``worse`` verdict is a detection); the two share
the baseline's runs, which saves a third of the machine time without making the rounds
depend on each other. The counts come with exact binomial (Clopper-Pearson) intervals.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.stats import clopper_pearson

from ..run_figures import RunFigures
from ..runner import HarnessError, RunOptions, run_scenario
from ..schema import ScenarioSpec
from .comparison import Comparison, Overall, compare
from .interleaved import Side, run_interleaved
from .result_set import load_result_set


Say = Callable[[str], None]
SAME, SLOWED = "same_code", "slowed"


@dataclass(frozen=True)
class Round:
    """One round's two verdicts, and the p95 change each comparison saw."""

    index: int
    aa_verdict: Overall
    aa_p95_change: float
    ab_verdict: Overall
    ab_p95_change: float
    worse_metrics: tuple[str, ...]
    """The metrics the A/B comparison found worse."""


@dataclass(frozen=True)
class Calibration:
    """Every round, the toxic's size, and the counts with their intervals."""

    scenario: str
    runs_per_side: int
    alpha: float
    min_effect: float
    pilot_p95_ms: float
    regression_ms: int
    rounds: list[Round]

    @property
    def false_alarms(self) -> int:
        """A/A comparisons the gate would have failed."""
        return sum(r.aa_verdict == "worse" for r in self.rounds)

    @property
    def detections(self) -> int:
        """A/B comparisons the gate failed, as it should."""
        return sum(r.ab_verdict == "worse" for r in self.rounds)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, with the intervals."""
        n = len(self.rounds)
        return {
            "schema_version": 1,
            "scenario": self.scenario,
            "runs_per_side": self.runs_per_side,
            "alpha": self.alpha,
            "min_effect": self.min_effect,
            "pilot_p95_ms": self.pilot_p95_ms,
            "regression_ms": self.regression_ms,
            "false_alarms": {"count": self.false_alarms, "of": n,
                             "ci95": clopper_pearson(self.false_alarms, n)},
            "detections": {"count": self.detections, "of": n,
                           "ci95": clopper_pearson(self.detections, n)},
            "rounds": [_finite(r.__dict__ | {"worse_metrics": list(r.worse_metrics)})
                       for r in self.rounds],
        }  # fmt: skip


def calibrate(
    spec: ScenarioSpec,
    *,
    out: Path,
    rounds: int,
    runs: int,
    alpha: float,
    min_effect: float,
    regression: float = 0.10,
    source: Path | None = None,
    say: Say = lambda _message: None,
) -> Calibration:
    """Size the regression from a pilot run, then run ``rounds`` rounds (module docstring)."""
    pilot = run_scenario(spec, RunOptions(out / "pilot", gateway_source=source))
    pilot_p95_ms = RunFigures.of(pilot.run).p95_s * 1e3
    if pilot.verdict != "pass" or math.isnan(pilot_p95_ms):
        raise HarnessError(
            f"the pilot run did not pass (p95 {pilot_p95_ms:.1f} ms): a yardstick that fails "
            f"on its own calibrates nothing; see {pilot.reports.html}"
        )
    regression_ms = max(1, round(pilot_p95_ms * regression))
    say(f"pilot p95 {pilot_p95_ms:.1f} ms: the regression is a {regression_ms} ms latency toxic")
    sides = [Side("baseline", source), Side(SAME, source), Side(SLOWED, source, regression_ms)]
    done = []
    for index in range(rounds):
        say(f"round {index + 1}/{rounds}")
        folders = run_interleaved([spec], sides, out=out / f"round-{index:02d}", runs=runs)
        base = load_result_set(folders["baseline"].folder)
        aa, ab = (
            compare(base, load_result_set(folders[s].folder), alpha=alpha, min_effect=min_effect)
            for s in (SAME, SLOWED)
        )
        done.append(_round(index, aa, ab))
        say(f"  A/A {aa.verdict}, A/B {ab.verdict}")
    return Calibration(spec.name, runs, alpha, min_effect, pilot_p95_ms, regression_ms, done)


def _finite(row: dict[str, Any]) -> dict[str, Any]:
    """``row`` with NaN (a change from zero) as None, which JSON can hold."""
    return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()}


def _round(index: int, aa: Comparison, ab: Comparison) -> Round:
    return Round(
        index,
        aa.verdict,
        _p95_change(aa),
        ab.verdict,
        _p95_change(ab),
        tuple(m.metric for s in ab.scenarios for m in s.metrics if m.verdict == "worse"),
    )


def _p95_change(comparison: Comparison) -> float:
    changes = [m.relative_change for s in comparison.scenarios for m in s.metrics
               if m.metric == "p95_ms"]  # fmt: skip
    return changes[0] if changes else math.nan


def markdown(calibration: Calibration) -> str:
    """The calibration table, ready for a README."""
    n, slowdown = len(calibration.rounds), calibration.regression_ms

    def share(count: int) -> str:
        low, high = clopper_pearson(count, n)
        return f"{count}/{n} (95% CI {low:.1%} to {high:.1%})"

    lines = [
        f"## Gate calibration: {calibration.scenario}",
        "",
        (
            f"{n} rounds of {calibration.runs_per_side} runs per side (A A' B interleaved), "
            f"alpha {calibration.alpha:g}, minimum effect {calibration.min_effect:.0%}; the "
            f"regression is a {calibration.regression_ms} ms provider-link latency toxic "
            f"(the pilot's p95 was {calibration.pilot_p95_ms:.1f} ms)."
        ),
        "",
        "| comparison | gate failed | wanted |",
        "|---|---|---|",
        f"| A/A (same code) | false alarms {share(calibration.false_alarms)} | at most 5% |",
        f"| A/B (+{slowdown} ms) | detections {share(calibration.detections)} | at least 95% |",
        "",
        "| round | A/A verdict | A/A p95 change | A/B verdict | A/B p95 change | worse metrics |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r.index + 1} | {r.aa_verdict} | {r.aa_p95_change:+.1%} | {r.ab_verdict} | "
        f"{r.ab_p95_change:+.1%} | {', '.join(r.worse_metrics) or '—'} |"
        for r in calibration.rounds
    ]
    return "\n".join(lines) + "\n"


def write(calibration: Calibration, out: Path) -> Sequence[Path]:
    """``calibration.md`` and ``calibration.json`` in ``out``."""
    md, js = out / "calibration.md", out / "calibration.json"
    md.write_text(markdown(calibration), encoding="utf-8")
    document = json.dumps(calibration.to_dict(), indent=1, allow_nan=False)
    js.write_text(document + "\n", encoding="utf-8")
    return md, js
