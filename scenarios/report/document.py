"""The report of one scenario run, built from the run and its check results.

``build_report`` gathers what a reader needs to judge a run: the verdict and each check,
the run and its testbed, the summary, per-endpoint and per-tenant tables from the Op table,
the provider's ground truth, upstream calls against the oracle minimum, the fault log, the
steady-state probes, the per-second time series, the ``timeline`` of provider calls beside
what clients saw (see ``timeline``) and a traced run's slowest requests (see ``slowest``).
Each section is computed in its JSON form and the whole is read as a ``Report`` (``record``),
so a report built from a run and one read back from its ``report.json`` are the same value.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from scenarios.checks.result import CheckResult
from scenarios.checks.run_verdict import verdict_of
from scenarios.stored_run import StoredRun

from .ground_truth import provider_truth, upstream
from .record import REPORT_SCHEMA_VERSION, Report, json_ready
from .slowest import slowest_section
from .tables import group_rows
from .timeline import timeline_section


def build_report(run: StoredRun, results: Sequence[CheckResult]) -> Report:
    """The report of ``run`` judged by ``results`` (NaN figures as None)."""
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
        "faults": [fault.to_dict() for fault in run.faults],
        "steady_state": run.steady_state,
        "timeseries": meta.get("timeseries") or [],
        "timeline": timeline_section(run),
        "slowest_requests": slowest_section(run),
    }
    return Report.from_dict(json_ready(document))


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
