"""Hand-built stored runs for tests of checks and reports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.arrivals import Arrivals, Constant
from benchmarks.hdr import DurationHistogram
from benchmarks.history import LoadHistory
from benchmarks.op import OpTable
from benchmarks.plan import LoadPlan
from benchmarks.summary import Summary
from benchmarks.target import Target
from benchmarks.timeseries import time_series, to_dicts
from benchmarks.workload import Workload
from faults import FaultWindow
from scenarios.stored_run import StoredRun


def stored_run(
    table: OpTable,
    *,
    duration_s: float = 10.0,
    faults: tuple[FaultWindow, ...] = (),
    provider: dict[str, Any] | None = None,
    prices: dict[str, dict[str, float]] | None = None,
    oracle_min_calls: int | None = None,
    oracle_distinct: int | None = None,
    scenario: dict[str, Any] | None = None,
    path: Path = Path("/nonexistent/run"),
    target_cpu_s: float | None = None,
) -> StoredRun:
    """A StoredRun over ``table`` as if the runner had stored it (nothing is written).

    The oracle's minimum is ``oracle_min_calls`` for every TTL, and its count of distinct
    requests ``oracle_distinct`` (``oracle_min_calls`` unless given).
    """
    itl = DurationHistogram()
    plan = LoadPlan(
        workload=Workload(arrivals=Arrivals(Constant(rate_rps=1.0))),
        duration_s=duration_s,
        target=Target("http://127.0.0.1:9"),
    )
    meta: dict[str, Any] = {
        "timeseries": to_dicts(time_series(table)),
        "oracle": {
            "distinct_requests": oracle_min_calls if oracle_distinct is None else oracle_distinct,
            "min_upstream_calls_by_ttl_s": {"60": oracle_min_calls, "300": oracle_min_calls},
        },
        "testbed": {"cpu_count": 2, "python": "3.11"},
    }
    history = LoadHistory(
        path=path,
        table=table,
        itl=itl,
        plan=plan,
        started_at=0.0,
        summary=Summary.of(table, itl, duration_s),
        meta=meta,
    )
    return StoredRun(
        history=history,
        scenario=scenario or {"name": "hand-built"},
        faults=faults,
        provider=provider,
        prices=prices or {"gpt-4o-mini": {"input_per_mtok_usd": 0.15, "output_per_mtok_usd": 0.6}},
        steady_state={},
        gateway=None,
        target_cpu_s=target_cpu_s,
    )


def fault(started_s: float, ended_s: float | None, *, kind: str = "latency") -> FaultWindow:
    """A fault window on the provider link."""
    return FaultWindow(
        name=kind, kind=kind, target="provider", planned_at_s=started_s,
        started_s=started_s, ended_s=ended_s,
    )  # fmt: skip


def counters(
    *,
    requests: int = 0,
    prompt_tokens: int = 0,
    completion_tokens: int = 0,
    max_in_flight: int = 0,
    status: dict[str, int] | None = None,
) -> dict[str, Any]:
    """One group of the provider's counters, as ``/_control/stats`` reports it."""
    return {
        "requests": requests,
        "status": status if status is not None else {"200": requests},
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "in_flight": 0,
        "max_in_flight": max_in_flight,
    }


def provider_stats(
    *,
    tenants: dict[str, dict[str, Any]] | None = None,
    models: dict[str, dict[str, Any]] | None = None,
    total: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The provider's stats; ``total`` defaults to the sum of the tenants' counters."""
    tenants = tenants or {}
    if total is None:
        total = counters(
            requests=sum(c["requests"] for c in tenants.values()),
            prompt_tokens=sum(c["prompt_tokens"] for c in tenants.values()),
            completion_tokens=sum(c["completion_tokens"] for c in tenants.values()),
            max_in_flight=sum(c["max_in_flight"] for c in tenants.values()),
        )
    return {"total": total, "tenants": tenants, "models": models or {}}
