"""The provider's timeline of calls, as ``/_control/stats`` reports it, built by hand."""

from __future__ import annotations

from typing import Any

from run_support import provider_stats


def series(
    counts: list[int],
    *,
    endpoint: str = "chat",
    model: str = "gpt-4o-mini",
    tenant: str = "-",
    status: str = "200",
) -> dict[str, Any]:
    """One series of the timeline: calls per bucket from bucket 0."""
    return {
        "endpoint": endpoint,
        "model": model,
        "tenant": tenant,
        "status": status,
        "counts": counts,
    }


def with_timeline(
    *all_series: dict[str, Any], origin_unix_s: float = 0.0, **stats: Any
) -> dict[str, Any]:
    """Provider stats (``run_support.provider_stats``) with a 1-s timeline of ``all_series``.

    Hand-built runs start at 0.0 on the wall clock, so ``origin_unix_s`` is where bucket 0
    starts in seconds from the load's time zero.
    """
    timeline = {
        "bucket_s": 1.0,
        "origin_unix_s": origin_unix_s,
        "horizon_s": 7200.0,
        "series": list(all_series),
    }
    return provider_stats(**stats) | {"timeline": timeline}
