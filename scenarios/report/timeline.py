"""The report's ``timeline``: what the gateway did upstream over time, beside what clients saw.

``provider`` is the simulated provider's calls per bucket (1 s) by endpoint kind, model and
final status, summed over tenants and lined up with the load's time zero (see
``scenarios.checks.timeline``), so that a fallback from one model to another or a storm of
retries shows for any target; null when the run has no provider timeline. ``clients`` is the
429 answers and the degraded answers the clients got per second, by intended send time as in
the other time series; ``degraded`` is null for a target that does not flag degraded answers.

    {"provider": {"bucket_s": 1.0, "start_s": -0.04,
                  "series": [{"endpoint": "chat", "model": "gpt-4o", "status": "200",
                              "counts": [3, 5, ...]}, ...]},
     "clients": {"bucket_s": 1.0, "start_s": 0.0, "rate_limited": [0, 2, ...],
                 "degraded": [0, 0, ...]}}
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from benchmarks.op import Outcome
from scenarios.checks.errors import reports_degraded
from scenarios.checks.timeline import provider_timeline
from scenarios.stored_run import StoredRun


CLIENT_BUCKET_S = 1.0
RATE_LIMITED = 429


def timeline_section(run: StoredRun) -> dict[str, Any]:
    """The provider's calls and the clients' 429 and degraded answers per bucket."""
    return {"provider": provider_calls(run), "clients": client_signals(run)}


def provider_calls(run: StoredRun) -> dict[str, Any] | None:
    """The provider's calls per bucket by endpoint kind, model and status; None without."""
    timeline = provider_timeline(run)
    if timeline is None:
        return None
    sums: dict[tuple[str, str, str], np.ndarray[Any, np.dtype[np.int64]]] = {}
    for series in timeline.series:
        key = (series.endpoint, series.model, series.status)
        total = sums.setdefault(key, np.zeros(timeline.buckets, dtype=np.int64))
        total[: len(series.counts)] += series.counts
    return {
        "bucket_s": timeline.bucket_s,
        "start_s": timeline.start_s,
        "series": [
            {"endpoint": endpoint, "model": model, "status": status, "counts": counts.tolist()}
            for (endpoint, model, status), counts in sorted(sums.items())
        ],
    }


def client_signals(run: StoredRun) -> dict[str, Any]:
    """429 answers and degraded OK answers per second of intended send time."""
    ops = run.table.ops
    buckets = max(math.ceil(run.duration_s / CLIENT_BUCKET_S), 1)
    second = np.clip((ops["intended_s"] // CLIENT_BUCKET_S).astype(np.intp), 0, buckets - 1)
    degraded = ops["degraded"] & (ops["outcome"] == Outcome.OK)
    return {
        "bucket_s": CLIENT_BUCKET_S,
        "start_s": 0.0,
        "rate_limited": np.bincount(
            second[ops["status"] == RATE_LIMITED], minlength=buckets
        ).tolist(),
        "degraded": np.bincount(second[degraded], minlength=buckets).tolist()
        if reports_degraded(run)
        else None,
    }
