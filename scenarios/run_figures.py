"""The headline figures of one stored run, by the same rules as the checks.

Latency is a nearest-rank percentile from the intended send time over the requests that
ended; errors are failed or given-up requests among those; goodput is the share of requests
answered OK and not degraded; tokens, cost and upstream calls come from the simulated
provider's ground truth, and so does the cache hit rate (OK answers served without a provider
call, as the ``cache_hit_rate`` check counts them; the gateway's ``x-cache`` header where
ground truth cannot tell); the oracle minimum is the number of distinct requests in the
schedule; CPU per request is the target's processes' CPU time over the requests sent. The
demo's table and the baseline-vs-candidate comparison both read these.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmarks.op import Outcome
from benchmarks.percentile import nearest_rank

from .checks.base import NotApplicableError, UndecidableError
from .checks.cache import header_hits, served_without_provider_call
from .checks.selection import target_ended
from .stored_run import StoredRun


@dataclass(frozen=True)
class RunFigures:
    """What one run measured (NaN where the run has no data for it)."""

    p50_s: float
    p95_s: float
    p99_s: float
    error_rate: float
    goodput: float
    tokens: float
    cost_usd: float
    cache_hit_rate: float
    upstream_calls: float
    oracle_min_calls: float
    client_requests: int
    peak_backlog: int
    target_cpu_s: float

    @property
    def cpu_ms_per_request(self) -> float:
        """The target's CPU time per client request, in milliseconds: a figure that a busy,
        shared machine disturbs far less than wall-clock latency."""
        return self.target_cpu_s * 1e3 / self.client_requests if self.client_requests else math.nan

    @property
    def cost_per_request_usd(self) -> float:
        """Provider cost per client request."""
        return self.cost_usd / self.client_requests if self.client_requests else math.nan

    @property
    def amplification(self) -> float:
        """Provider calls per call a perfect cache must make."""
        return self.upstream_calls / self.oracle_min_calls

    @classmethod
    def of(cls, run: StoredRun) -> RunFigures:
        """Measure ``run``."""
        ops = run.table.ops
        ended = target_ended(ops)
        latency = (ops["end_s"] - ops["intended_s"])[ended]
        p50, p95, p99 = (
            (nearest_rank(latency, p) for p in (50, 95, 99)) if len(latency) else (math.nan,) * 3
        )
        errors = (ended & np.isin(ops["outcome"], [Outcome.FAIL, Outcome.INFO])).sum()
        ok = ops["outcome"] == Outcome.OK
        sent = int((~np.isnan(ops["sent_s"])).sum())
        total = (run.provider or {}).get("total") or {}
        oracle = run.history.meta.get("oracle") or {}
        return cls(
            p50_s=p50,
            p95_s=p95,
            p99_s=p99,
            error_rate=float(errors / ended.sum()) if ended.any() else math.nan,
            goodput=float((ok & ~ops["degraded"]).sum() / len(ops)) if len(ops) else math.nan,
            tokens=float(total.get("prompt_tokens", math.nan) + total.get("completion_tokens", 0)),
            cost_usd=_cost_usd(run),
            cache_hit_rate=_cache_hit_rate(run, ok),
            upstream_calls=float(total.get("requests", math.nan)),
            oracle_min_calls=float(oracle.get("distinct_requests") or math.nan),
            client_requests=sent,
            peak_backlog=peak_outstanding(ops["intended_s"], ops["end_s"]),
            target_cpu_s=math.nan if run.target_cpu_s is None else float(run.target_cpu_s),
        )


def _cache_hit_rate(run: StoredRun, ok: np.ndarray[Any, Any]) -> float:
    """OK answers served without a provider call; the header's figure, or NaN, when the
    provider's ground truth cannot tell."""
    if not ok.any():
        return math.nan
    try:
        return served_without_provider_call(run, ok).share
    except (NotApplicableError, UndecidableError):
        header = header_hits(run.table.ops, ok, count_coalesced=True)
        return header.share if header else math.nan


def _cost_usd(run: StoredRun) -> float:
    """The provider's tokens at the run's prices (NaN without ground truth)."""
    if run.provider is None:
        return math.nan
    models: dict[str, Any] = run.provider.get("models") or {}
    return sum(
        run.cost_usd(
            name,
            prompt_tokens=m.get("prompt_tokens", 0),
            completion_tokens=m.get("completion_tokens", 0),
        )
        for name, m in models.items()
        if m.get("prompt_tokens", 0) or m.get("completion_tokens", 0)
    )


def peak_outstanding(starts_s: np.ndarray[Any, Any], ends_s: np.ndarray[Any, Any]) -> int:
    """The most requests due but not yet answered at any one time (unanswered ones count)."""
    ends = np.where(np.isnan(ends_s), np.inf, ends_s)
    times = np.concatenate([starts_s, ends])
    steps = np.concatenate([np.ones(len(starts_s)), -np.ones(len(ends))])
    order = np.lexsort((steps, times))  # at equal times an answer leaves before a request comes
    return int(np.cumsum(steps[order]).max()) if len(order) else 0
