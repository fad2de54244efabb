"""What the provider really received, and upstream calls against the oracle minimum.

The simulated provider counts requests and tokens per tenant, per model and per endpoint kind
(see ``stack.provider.stats``); cost needs a model's price, so it is given per model. The
oracle minimum is the number of upstream calls a perfect cache with a 300 s TTL that also
coalesces in-flight duplicates would have made on the same schedule
(``benchmarks.oracle``); ``amplification`` is the provider's calls over that minimum.
``served_without_call`` is the share of OK answers served without a provider call, from
ground truth (a lower bound, as the ``cache_hit_rate`` check computes it), or None when ground
truth cannot give it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from benchmarks.op import Outcome
from scenarios.checks.base import NotApplicableError, UndecidableError
from scenarios.checks.cache import served_without_provider_call
from scenarios.stored_run import StoredRun

from .tables import client_requests


ORACLE_TTL_S = 300.0


def provider_truth(run: StoredRun) -> dict[str, Any] | None:
    """Totals, per-tenant, per-endpoint-kind and per-model counters with cost; None for a
    target not wired to the simulated provider."""
    stats = run.provider
    if stats is None:
        return None
    models = [
        {
            "name": name,
            **counters(values),
            "cost_usd": run.cost_usd(
                name,
                prompt_tokens=int(values.get("prompt_tokens", 0)),
                completion_tokens=int(values.get("completion_tokens", 0)),
            ),
        }
        for name, values in (stats.get("models") or {}).items()
    ]
    return {
        "total": counters(stats.get("total") or {}),
        "tenants": [
            {"name": name, **counters(values)}
            for name, values in (stats.get("tenants") or {}).items()
        ],
        "endpoints": [
            {"name": name, **counters(values)}
            for name, values in (stats.get("endpoints") or {}).items()
        ],
        "models": models,
        "cost_usd": math.fsum(model["cost_usd"] for model in models),
    }


def counters(values: Mapping[str, Any]) -> dict[str, Any]:
    """The figures of one group of the provider's counters; errors are non-2xx answers."""
    status: Mapping[str, int] = values.get("status") or {}
    return {
        "requests": int(values.get("requests", 0)),
        "errors": sum(count for code, count in status.items() if not code.startswith("2")),
        "prompt_tokens": int(values.get("prompt_tokens", 0)),
        "completion_tokens": int(values.get("completion_tokens", 0)),
        "max_in_flight": int(values.get("max_in_flight", 0)),
    }


def upstream(run: StoredRun) -> dict[str, Any]:
    """Client requests, provider calls and the oracle minimum, with their ratios."""
    oracle: Mapping[str, Any] = run.history.meta.get("oracle") or {}
    minimum = (oracle.get("min_upstream_calls_by_ttl_s") or {}).get(f"{ORACLE_TTL_S:g}")
    client = client_requests(run.table)
    provider = None if run.provider is None else counters(run.provider.get("total") or {})
    calls = None if provider is None else provider["requests"]
    return {
        "client_requests": client,
        "provider_requests": calls,
        "oracle_ttl_s": ORACLE_TTL_S,
        "oracle_min_calls": minimum,
        "distinct_requests": oracle.get("distinct_requests"),
        "amplification": ratio(calls, minimum),
        "calls_per_client_request": ratio(calls, client),
        "served_without_call": served_without_call(run),
    }


def served_without_call(run: StoredRun) -> float | None:
    """The share of the run's OK answers served without a provider call (a lower bound)."""
    ok = run.table.ops["outcome"] == Outcome.OK
    if not ok.any():
        return None
    try:
        return served_without_provider_call(run, ok).share
    except (NotApplicableError, UndecidableError):
        return None


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """``numerator / denominator``, None when either is unknown or the denominator is 0."""
    if numerator is None or not denominator:
        return None
    return numerator / denominator
