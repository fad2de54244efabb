"""Per-endpoint and per-tenant figures computed from a run's Op table.

A group's latency percentiles and error rate cover the requests that ended through the
target's doing (as in ``benchmarks.summary``): pending requests and those the generator
itself failed (``ErrorKind.CLIENT``/``INTERNAL``) say nothing of the target. Cache,
coalesced and degraded shares are shares of the successful responses. Tokens are those the
responses reported to the client, which for a cache hit were not paid upstream.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from benchmarks.op import CacheStatus, ErrorKind, OpArray, OpTable, Outcome
from benchmarks.percentile import sorted_ranks


GENERATOR_ERRORS = (ErrorKind.CLIENT, ErrorKind.INTERNAL)
LATENCY_PERCENTILES = (50, 95, 99)


def group_rows(table: OpTable, column: Literal["tenant", "endpoint"]) -> list[dict[str, Any]]:
    """One row of figures per tenant or endpoint that has requests, in the table's order."""
    names = table.tenants if column == "tenant" else table.endpoints
    codes = table.ops[column]
    rows = []
    for code, name in enumerate(names):
        selected = codes == code
        if selected.any():
            rows.append({"name": name, **figures(table.ops[selected])})
    return rows


def figures(ops: OpArray) -> dict[str, Any]:
    """Counts, error rate, latency percentiles, shares and tokens of some requests."""
    outcome = ops["outcome"]
    ended = (outcome != Outcome.PENDING) & ~np.isin(ops["error"], GENERATOR_ERRORS)
    ok = outcome == Outcome.OK
    failed = outcome == Outcome.FAIL
    ok_count = int(ok.sum())
    latency_ms = ((ops["end_s"] - ops["intended_s"]) * 1e3)[ended]
    return {
        "requests": len(ops),
        "ok": ok_count,
        "failed": int(failed.sum()),
        "unknown": int((outcome == Outcome.INFO).sum()),
        "pending": int((outcome == Outcome.PENDING).sum()),
        "error_rate": share(int((failed & ended).sum()), int(ended.sum())),
        **latency_percentiles_ms(latency_ms),
        "cache_hit_share": share(int((ops["cache"][ok] == CacheStatus.HIT).sum()), ok_count),
        "coalesced_share": share(int((ops["cache"][ok] == CacheStatus.COALESCED).sum()), ok_count),
        "degraded_share": share(int(ops["degraded"][ok].sum()), ok_count),
        "prompt_tokens": int(ops["prompt_tokens"].sum()),
        "completion_tokens": int(ops["completion_tokens"].sum()),
    }


def latency_percentiles_ms(latency_ms: npt.NDArray[np.float64]) -> dict[str, float | None]:
    """Exact nearest-rank p50/p95/p99 (``p50_ms``...), None when nothing ended."""
    values = latency_ms[~np.isnan(latency_ms)]
    if not len(values):
        return {f"p{p}_ms": None for p in LATENCY_PERCENTILES}
    found = sorted_ranks(np.sort(values), LATENCY_PERCENTILES)
    return {f"p{p}_ms": v for p, v in found.items()}


def client_requests(table: OpTable) -> int:
    """Requests the client really sent to the target (generator failures left out)."""
    ops = table.ops
    sent = ~np.isnan(ops["sent_s"]) & ~np.isin(ops["error"], GENERATOR_ERRORS)
    return int(sent.sum())


def share(part: int, whole: int) -> float | None:
    """``part / whole``, None when ``whole`` is zero."""
    return part / whole if whole else None
