"""k6-style pass/fail thresholds on a load run's summary: ``p99<500ms``, ``error_rate<1%``.

An expression is METRIC OP VALUE. Latency metrics (``p50`` ... ``p99.9``, ``max``, ``mean``)
read the summary's latency from the intended send time and take ``ms`` or ``s``; ``error_rate``
and ``unknown_rate`` take a percentage (``1%``) or a fraction (``0.01``); ``rps`` (achieved
requests per second) takes a plain number. Every figure is read from ``Summary``, never
computed again. A threshold whose figure is missing (NaN: nothing was answered) fails.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from benchmarks.summary import Summary


Kind = Literal["latency", "rate", "throughput"]


def _unknown_rate(summary: Summary) -> float:
    """Requests whose outcome is unknown (the client gave up) among those that ended."""
    ended = summary.ok + summary.failed + summary.unknown
    return summary.unknown / ended if ended else math.nan


METRICS: dict[str, tuple[Kind, Callable[[Summary], float]]] = {
    "p50": ("latency", lambda s: s.latency_s.p50_s),
    "p90": ("latency", lambda s: s.latency_s.p90_s),
    "p95": ("latency", lambda s: s.latency_s.p95_s),
    "p99": ("latency", lambda s: s.latency_s.p99_s),
    "p99.9": ("latency", lambda s: s.latency_s.p999_s),
    "max": ("latency", lambda s: s.latency_s.max_s),
    "mean": ("latency", lambda s: s.latency_s.mean_s),
    "error_rate": ("rate", lambda s: s.error_rate),
    "unknown_rate": ("rate", _unknown_rate),
    "rps": ("throughput", lambda s: s.achieved_rate_rps),
}

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
}

_SHAPE = re.compile(r"^\s*(?P<metric>[^<>=]*?)\s*(?P<op><=|>=|<|>)\s*(?P<value>.*?)\s*$")
_VALUE = re.compile(r"^(?P<number>\d+(?:\.\d*)?|\.\d+)\s*(?P<unit>[a-z%]*)$")
_EXPECTED = "expected METRIC OP VALUE such as 'p99<500ms', with OP one of <, <=, >, >="
_SECONDS_PER = {"ms": 1e-3, "s": 1.0}


@dataclass(frozen=True)
class Threshold:
    """One parsed expression; ``limit`` is in seconds, a fraction or requests per second."""

    expression: str
    metric: str
    op: str
    limit: float

    @property
    def kind(self) -> Kind:
        """What the metric measures, which says how its figures are written."""
        return METRICS[self.metric][0]

    def observed(self, summary: Summary) -> float:
        """The metric's figure in ``summary`` (NaN when the run has none)."""
        return METRICS[self.metric][1](summary)

    def check(self, summary: Summary) -> ThresholdResult:
        """The figure in ``summary`` against the limit; a missing figure never passes."""
        observed = self.observed(summary)
        passed = not math.isnan(observed) and OPERATORS[self.op](observed, self.limit)
        return ThresholdResult(self, observed, passed)


@dataclass(frozen=True)
class ThresholdResult:
    """A threshold and what the run showed."""

    threshold: Threshold
    observed: float
    passed: bool


def parse_threshold(expression: str) -> Threshold:
    """Parse METRIC OP VALUE; a ``ValueError`` names what is wrong and what is expected."""
    shape = _SHAPE.match(expression.lower())
    if shape is None or not shape["metric"]:
        raise ValueError(_EXPECTED)
    metric, op, value = shape["metric"], shape["op"], shape["value"]
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; known: {', '.join(METRICS)}")
    if not value:
        raise ValueError(f"a value is missing after {op!r}; {_EXPECTED}")
    number = _VALUE.match(value)
    if number is None:
        raise ValueError(f"{value!r} is not a number with an optional unit; {_EXPECTED}")
    kind = METRICS[metric][0]
    limit = _limit(kind, metric, float(number["number"]), number["unit"])
    return Threshold(expression.strip(), metric, op, limit)


def _limit(kind: Kind, metric: str, number: float, unit: str) -> float:
    """``number`` with ``unit`` in the metric's base unit (seconds, fraction, requests/s)."""
    if kind == "latency":
        if unit not in _SECONDS_PER:
            raise ValueError(f"{metric} is a latency: give it in ms or s, e.g. '{metric}<500ms'")
        return number * _SECONDS_PER[unit]
    if kind == "rate":
        fraction = number / 100 if unit == "%" else number
        if unit not in {"", "%"} or fraction > 1:
            raise ValueError(
                f"{metric} is a rate: give a percentage up to 100% or a fraction up to 1, "
                f"e.g. '{metric}<1%' or '{metric}<0.01'"
            )
        return fraction
    if unit:
        raise ValueError(f"{metric} is a plain number of requests per second, e.g. 'rps>=95'")
    return number


def evaluate(thresholds: Sequence[Threshold], summary: Summary) -> list[ThresholdResult]:
    """Each threshold against ``summary``, in the order given."""
    return [threshold.check(summary) for threshold in thresholds]


def figure(kind: Kind, value: float) -> str:
    """``value`` as the summary prints it: ms, a percentage or req/s; ``—`` when missing."""
    if math.isnan(value):
        return "—"
    if kind == "latency":
        return f"{value * 1e3:,.1f} ms"
    if kind == "rate":
        return f"{value:.2%}"
    return f"{value:,.1f} req/s"
