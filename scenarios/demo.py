"""The case study's before/after table, measured: ``monday_peak`` on naive and on hardened.

Every figure comes from the two stored runs (``run_figures``). The oracle minimum is the
number of distinct requests: no cache entry expires within the run, as the gateway keeps
answers longer than the run lasts. "Queue backlog" is the peak number of requests waiting for
an answer at once (the generator's view of the gateway's queue).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from .run_figures import RunFigures
from .stored_run import StoredRun


@dataclass(frozen=True)
class Row:
    """One line of the table: both figures, the improvement and the target."""

    metric: str
    naive: float
    hardened: float
    unit: str
    improvement: str
    target: str
    met: bool | None
    """None when the figures cannot decide (e.g. no provider ground truth)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (NaN as None)."""
        return {k: (None if isinstance(v, float) and math.isnan(v) else v)
                for k, v in asdict(self).items()}  # fmt: skip


def _lower(factor: float) -> Callable[[float, float], tuple[str, bool]]:
    def judge(naive: float, hardened: float) -> tuple[str, bool]:
        ratio = naive / hardened if hardened > 0 else math.inf
        return f"{ratio:.1f}x lower", ratio >= factor

    return judge


def _spend(naive: float, hardened: float) -> tuple[str, bool]:
    cut = 1 - hardened / naive if naive > 0 else math.nan
    return f"{cut:.0%} lower", cut >= 0.64  # noqa: PLR2004 - the case study's cut


def table(naive_run: StoredRun, hardened_run: StoredRun) -> list[Row]:
    """The case study's table for the two runs, with the targets they must meet."""
    n, h = RunFigures.of(naive_run), RunFigures.of(hardened_run)

    def row(metric: str, a: float, b: float, unit: str, target: str, judge: Any) -> Row:
        if math.isnan(a) or math.isnan(b):
            return Row(metric, a, b, unit, "—", target, None)
        improvement, met = judge(a, b)
        return Row(metric, a, b, unit, improvement, target, bool(met))

    def at_most(limit: float) -> Callable[[float, float], tuple[str, bool]]:
        return lambda a, b: (f"{a:.2%} -> {b:.2%}", b <= limit)

    return [
        row("P95 latency", n.p95_s * 1e3, h.p95_s * 1e3, "ms", ">= 4.3x lower", _lower(4.3)),
        row("P99 latency", n.p99_s * 1e3, h.p99_s * 1e3, "ms", ">= 3.9x lower", _lower(3.9)),
        row("error rate", n.error_rate, h.error_rate, "fraction", "<= 0.4%", at_most(0.004)),
        row("token spend", n.tokens, h.tokens, "tokens", ">= 64% lower", _spend),
        row("token spend (USD)", n.cost_usd, h.cost_usd, "USD", ">= 64% lower", _spend),
        row(
            "cache hit rate", n.cache_hit_rate, h.cache_hit_rate, "fraction", ">= 62%",
            lambda a, b: (f"{a:.0%} -> {b:.0%}", b >= 0.62),  # noqa: PLR2004
        ),
        row(
            "upstream calls / oracle minimum",
            n.amplification, h.amplification,
            "x", "<= 1.05x", lambda a, b: (f"{a:.2f}x -> {b:.2f}x", b <= 1.05),  # noqa: PLR2004
        ),
        row(
            "queue backlog (peak requests waiting)", n.peak_backlog, h.peak_backlog, "requests",
            "lower", lambda a, b: (f"{a / b:.1f}x lower" if b else "to 0", b < a),
        ),
    ]  # fmt: skip
