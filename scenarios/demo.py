"""The case study's before/after table, measured: one scenario on several targets.

The first target is the baseline (the "before"); every other one gets its figure for each
metric, its change against the baseline and whether it meets the case study's target. Every
figure comes from the stored runs (``run_figures``). The oracle minimum is the number of
distinct requests: no cache entry expires within the run, as the gateway keeps answers longer
than the run lasts. "Queue backlog" is the peak number of requests waiting for an answer at
once (the generator's view of the gateway's queue).

A target that did not run keeps its column, without figures: missed when its steady state
failed (a verdict on the target), undecided when the harness failed (no verdict at all).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .run_figures import RunFigures
from .stored_run import StoredRun


Stop = Literal["steady state failed", "harness error"]
Verdict = Literal["met", "missed", "undecided"]
Judge = Callable[[float, float], tuple[str, bool]]
"""(baseline figure, target figure) -> (the change as text, whether the target is met)."""


@dataclass(frozen=True)
class Column:
    """One target of the table: its stored run, or why it has none."""

    label: str
    run: StoredRun | None = None
    stop: Stop | None = None
    reason: str = ""

    def __post_init__(self) -> None:
        if (self.run is None) == (self.stop is None):
            raise ValueError(f"column {self.label}: give either its run or why it stopped")

    @property
    def about(self) -> str:
        """What ran: the target's kind, name and version; or why nothing did."""
        if self.run is None:
            return f"not run, {self.stop}: {self.reason}"
        if self.run.target is not None:
            return _about_target(self.run.target)
        profile = (self.run.gateway or {}).get("profile")
        return f"our gateway, {profile} profile" if profile else "our gateway"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the label, the run's folder and target facts, or why it stopped."""
        run = self.run
        return {
            "label": self.label,
            "about": self.about,
            "run": None if run is None else str(run.path),
            "target": None if run is None or run.target is None else dict(run.target),
            "stop": self.stop,
            "reason": self.reason or None,
        }


@dataclass(frozen=True)
class Cell:
    """One target's figure for one metric, its change against the baseline, and the verdict."""

    value: float
    change: str
    met: bool | None
    """None when the figures cannot decide (no provider ground truth, no baseline figure);
    for a target that did not run, False if its steady state failed, else None."""


@dataclass(frozen=True)
class Row:
    """One metric: the case study's target, the baseline's figure, a cell per other target."""

    metric: str
    unit: str
    target: str
    baseline: float
    cells: Mapping[str, Cell]
    """By target label, in the order of the targets after the baseline."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (NaN as None)."""
        return {
            "metric": self.metric,
            "unit": self.unit,
            "target": self.target,
            "baseline": _finite(self.baseline),
            "cells": {
                label: {"value": _finite(c.value), "change": c.change, "met": c.met}
                for label, c in self.cells.items()
            },
        }


@dataclass(frozen=True)
class _Metric:
    name: str
    unit: str
    target: str
    figure: Callable[[RunFigures], float]
    judge: Judge


def _lower(factor: float) -> Judge:
    def judge(base: float, value: float) -> tuple[str, bool]:
        ratio = base / value if value > 0 else math.inf
        return f"{ratio:.1f}x lower", ratio >= factor

    return judge


def _spend(base: float, value: float) -> tuple[str, bool]:
    cut = 1 - value / base if base > 0 else math.nan
    return f"{cut:.0%} lower", cut >= 0.64  # noqa: PLR2004 - the case study's cut


def _at_most(limit: float) -> Judge:
    return lambda base, value: (f"{base:.2%} -> {value:.2%}", value <= limit)


def _backlog(base: float, value: float) -> tuple[str, bool]:
    return (f"{base / value:.1f}x lower" if value else "to 0"), value < base


METRICS = (
    _Metric("P95 latency", "ms", ">= 4.3x lower", lambda f: f.p95_s * 1e3, _lower(4.3)),
    _Metric("P99 latency", "ms", ">= 3.9x lower", lambda f: f.p99_s * 1e3, _lower(3.9)),
    _Metric("error rate", "fraction", "<= 0.4%", lambda f: f.error_rate, _at_most(0.004)),
    _Metric("token spend", "tokens", ">= 64% lower", lambda f: f.tokens, _spend),
    _Metric("token spend (USD)", "USD", ">= 64% lower", lambda f: f.cost_usd, _spend),
    _Metric(
        "cache hit rate", "fraction", ">= 62%", lambda f: f.cache_hit_rate,
        lambda base, value: (f"{base:.0%} -> {value:.0%}", value >= 0.62),  # noqa: PLR2004
    ),
    _Metric(
        "upstream calls / oracle minimum", "x", "<= 1.05x", lambda f: f.amplification,
        lambda base, value: (f"{base:.2f}x -> {value:.2f}x", value <= 1.05),  # noqa: PLR2004
    ),
    _Metric(
        "queue backlog (peak requests waiting)", "requests", "lower",
        lambda f: float(f.peak_backlog), _backlog,
    ),
)  # fmt: skip


def table(columns: Sequence[Column]) -> list[Row]:
    """The case study's table: the first column is the baseline, each other one is judged
    against it (labels are unique)."""
    if len(columns) < 2:  # noqa: PLR2004 - a baseline and one target to compare with it
        raise ValueError("the table needs a baseline and at least one target to compare")
    figures = {c.label: RunFigures.of(c.run) for c in columns if c.run is not None}

    def value(metric: _Metric, column: Column) -> float:
        found = figures.get(column.label)
        return math.nan if found is None else metric.figure(found)

    baseline, *others = columns
    rows = []
    for metric in METRICS:
        base = value(metric, baseline)
        cells = {c.label: _cell(metric, base, c, value(metric, c)) for c in others}
        rows.append(Row(metric.name, metric.unit, metric.target, base, cells))
    return rows


def verdict(rows: Sequence[Row]) -> Verdict:
    """The verdict on every target after the baseline: ``undecided`` if any cell is (a
    target that could not run, a figure missing), else ``missed`` if any target is missed,
    else ``met``."""
    cells = [cell for row in rows for cell in row.cells.values()]
    if any(cell.met is None for cell in cells):
        return "undecided"
    return "met" if all(cell.met for cell in cells) else "missed"


def _cell(metric: _Metric, base: float, column: Column, value: float) -> Cell:
    if column.run is None:
        return Cell(math.nan, "—", False if column.stop == "steady state failed" else None)
    if math.isnan(base) or math.isnan(value):
        return Cell(value, "—", None)
    change, met = metric.judge(base, value)
    return Cell(value, change, bool(met))


def _about_target(target: Mapping[str, Any]) -> str:
    kind = target.get("kind") or "target"
    name = target.get("url") if kind == "url" else target.get("name")
    version = target.get("version")
    about = " ".join(str(part) for part in (kind, name) if part)
    return f"{about}, version {version}" if version else about


def _finite(value: float) -> float | None:
    return None if math.isnan(value) else value
