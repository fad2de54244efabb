"""The report of one scenario run as a JSON document, the source every rendering reads.

``build_report`` gathers what a reader needs to judge a run: the verdict and each check,
the run and its testbed, the summary, per-endpoint and per-tenant tables from the Op table,
the provider's ground truth, upstream calls against the oracle minimum, the fault log, the
steady-state probes, the per-second time series and the ``timeline`` of provider calls beside
what clients saw (see ``timeline``). Markdown and HTML are rendered from this document alone,
so a stored report can be rendered again without its run.

Schema version 2 added ``timeline``, ``provider.endpoints``, ``upstream.served_without_call``,
``run.target`` (a target other than our gateway: kind, name, version, links and its generated
configuration files) and the check validity ``"not_applicable"``. Version 3 added
``slowest_requests`` (a traced run's slowest requests with their spans; null when the run was
not traced, see ``slowest``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import numpy as np

from scenarios.checks.result import CheckResult
from scenarios.checks.run_verdict import verdict_of
from scenarios.stored_run import StoredRun

from .ground_truth import provider_truth, upstream
from .slowest import slowest_section
from .tables import group_rows
from .timeline import timeline_section


REPORT_SCHEMA_VERSION = 3


def build_report(run: StoredRun, results: Sequence[CheckResult]) -> dict[str, Any]:
    """The report document of ``run`` judged by ``results``: plain JSON, NaN as None."""
    meta = run.history.meta
    scenario: dict[str, Any] = {"name": run.name}
    if run.scenario.get("description"):
        scenario["description"] = run.scenario["description"]
    document = {
        "schema_version": REPORT_SCHEMA_VERSION,
        "scenario": scenario,
        "verdict": verdict_of(results),
        "checks": [result.to_dict() for result in results],
        "run": run_facts(run),
        "testbed": {
            **(meta.get("testbed") or {}),
            "backend": run.backend,
            "images": {name: dict(image) for name, image in run.images.items()},
        },
        "summary": run.history.summary.to_dict(),
        "endpoints": group_rows(run.table, "endpoint"),
        "tenants": group_rows(run.table, "tenant"),
        "provider": provider_truth(run),
        "upstream": upstream(run),
        "faults": [asdict(fault) for fault in run.faults],
        "steady_state": run.steady_state,
        "timeseries": meta.get("timeseries") or [],
        "timeline": timeline_section(run),
        "slowest_requests": slowest_section(run),
    }
    ready: dict[str, Any] = json_ready(document)
    return ready


def run_facts(run: StoredRun) -> dict[str, Any]:
    """Where and when the run happened, against what."""
    gateway = run.gateway
    return {
        "path": str(run.path),
        "started_at": datetime.fromtimestamp(run.history.started_at, tz=UTC).isoformat(),
        "duration_s": run.duration_s,
        "target_url": run.history.plan.target.base_url,
        "gateway": None
        if gateway is None
        else {"profile": gateway.get("profile"), "workers": gateway.get("workers")},
        "target": run.target,
    }


def json_ready(value: Any) -> Any:
    """``value`` as plain JSON types: mappings with string keys, lists, finite floats or None."""
    if isinstance(value, Mapping):
        return {str(key): json_ready(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(item) for item in value]
    if isinstance(value, np.generic):
        return json_ready(value.item())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, str | int):
        return value
    raise TypeError(f"a report holds JSON values only, not {type(value).__name__}: {value!r}")
