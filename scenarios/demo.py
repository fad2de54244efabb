"""The case study's before/after table, measured: ``monday_peak`` on naive and on hardened.

Every figure comes from the two stored runs, by the same rules as the checks: latency
(nearest-rank percentiles from the intended send time) and errors over the requests that
ended, token spend and upstream calls from the simulated provider's ground truth, and the
oracle minimum from the schedule (distinct requests: no cache entry expires within the run,
as the gateway keeps answers longer than the run lasts). "Queue backlog" is the peak number of
requests waiting for an answer at once (the generator's view of the gateway's queue).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from benchmarks.op import CacheStatus, Outcome

from .checks.figures import nearest_rank
from .checks.selection import target_ended
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


@dataclass(frozen=True)
class Figures:
    """What the table needs from one run."""

    p95_s: float
    p99_s: float
    error_rate: float
    tokens: float
    cost_usd: float
    cache_hit_rate: float
    upstream_calls: float
    oracle_min_calls: float
    peak_backlog: int

    @classmethod
    def of(cls, run: StoredRun) -> Figures:
        """Measure ``run``."""
        ops = run.table.ops
        ended = target_ended(ops)
        latency = (ops["end_s"] - ops["intended_s"])[ended]
        p95, p99 = (
            (nearest_rank(latency, 95), nearest_rank(latency, 99))
            if len(latency)
            else (math.nan, math.nan)
        )
        errors = (ended & np.isin(ops["outcome"], [Outcome.FAIL, Outcome.INFO])).sum()
        ok = ops["outcome"] == Outcome.OK
        served = np.isin(ops["cache"], [CacheStatus.HIT, CacheStatus.COALESCED]) & ok
        provider = run.provider or {}
        total = provider.get("total") or {}
        models = provider.get("models") or {}
        oracle = run.history.meta.get("oracle") or {}
        return cls(
            p95_s=float(p95),
            p99_s=float(p99),
            error_rate=float(errors / ended.sum()) if ended.any() else math.nan,
            tokens=float(total.get("prompt_tokens", math.nan) + total.get("completion_tokens", 0)),
            cost_usd=sum(
                run.cost_usd(
                    name,
                    prompt_tokens=m.get("prompt_tokens", 0),
                    completion_tokens=m.get("completion_tokens", 0),
                )
                for name, m in models.items()
                if m.get("prompt_tokens", 0) or m.get("completion_tokens", 0)
            ),
            cache_hit_rate=float(served.sum() / ok.sum()) if ok.any() else math.nan,
            upstream_calls=float(total.get("requests", math.nan)),
            oracle_min_calls=float(oracle.get("distinct_requests") or math.nan),
            peak_backlog=peak_outstanding(ops["intended_s"], ops["end_s"]),
        )


def peak_outstanding(starts_s: np.ndarray[Any, Any], ends_s: np.ndarray[Any, Any]) -> int:
    """The most requests due but not yet answered at any one time (unanswered ones count)."""
    ends = np.where(np.isnan(ends_s), np.inf, ends_s)
    times = np.concatenate([starts_s, ends])
    steps = np.concatenate([np.ones(len(starts_s)), -np.ones(len(ends))])
    order = np.lexsort((steps, times))  # at equal times an answer leaves before a request comes
    return int(np.cumsum(steps[order]).max()) if len(order) else 0


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
    n, h = Figures.of(naive_run), Figures.of(hardened_run)

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
            n.upstream_calls / n.oracle_min_calls, h.upstream_calls / h.oracle_min_calls,
            "x", "<= 1.05x", lambda a, b: (f"{a:.2f}x -> {b:.2f}x", b <= 1.05),  # noqa: PLR2004
        ),
        row(
            "queue backlog (peak requests waiting)", n.peak_backlog, h.peak_backlog, "requests",
            "lower", lambda a, b: (f"{a / b:.1f}x lower" if b else "to 0", b < a),
        ),
    ]  # fmt: skip
