"""The report document: verdicts, figures per tenant and endpoint, ground truth, upstream."""

import json
import math
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import pytest
from op_support import answered, table_of
from run_support import fault, stored_run

from benchmarks.op import CacheStatus, ErrorKind, Outcome
from scenarios.checks.result import UNKNOWN, CheckResult, Validity
from scenarios.checks.run_verdict import verdict_of
from scenarios.report import REPORT_SCHEMA_VERSION, build_report
from scenarios.report.record import ScenarioFacts
from scenarios.stored_run import StoredRun


PROVIDER_STATS: dict[str, Any] = {
    "total": {
        "requests": 12,
        "status": {"200": 10, "503": 2},
        "prompt_tokens": 500,
        "completion_tokens": 240,
        "in_flight": 0,
        "max_in_flight": 3,
    },
    "tenants": {
        "acme": {"requests": 5, "status": {"200": 5}, "prompt_tokens": 200,
                 "completion_tokens": 100, "in_flight": 0, "max_in_flight": 2},
        "globex": {"requests": 7, "status": {"200": 5, "503": 2}, "prompt_tokens": 300,
                   "completion_tokens": 140, "in_flight": 0, "max_in_flight": 3},
    },
    "models": {
        "gpt-4o-mini": {"requests": 10, "status": {"200": 10}, "prompt_tokens": 400,
                        "completion_tokens": 200, "in_flight": 0, "max_in_flight": 3},
        "unpriced": {"requests": 2, "status": {"503": 2}, "prompt_tokens": 100,
                     "completion_tokens": 40, "in_flight": 0, "max_in_flight": 1},
    },
}  # fmt: skip


def sample_run(*, scenario_name: str = "provider brownout") -> StoredRun:
    """Two tenants on two endpoints, a failure, a timeout, a pending and a generator error."""
    acme, globex, embed = 0, 1, 1  # chat, endpoint 0, is the default
    rows = [
        answered(0.5, 0.1, tenant=acme, cache=CacheStatus.HIT, prompt_tokens=10,
                 completion_tokens=5),
        answered(1.5, 0.2, tenant=acme, cache=CacheStatus.MISS, prompt_tokens=10,
                 completion_tokens=5),
        answered(2.5, 0.3, tenant=acme, cache=CacheStatus.COALESCED, prompt_tokens=10,
                 completion_tokens=5),
        answered(3.5, 0.4, tenant=acme, cache=CacheStatus.MISS, prompt_tokens=10,
                 completion_tokens=5),
        answered(4.5, 0.5, tenant=globex, prompt_tokens=20, completion_tokens=10),
        answered(5.5, 1.0, tenant=globex, status=503, outcome=Outcome.FAIL,
                 error=ErrorKind.HTTP),
        answered(6.5, 2.0, tenant=globex, status=0, outcome=Outcome.INFO,
                 error=ErrorKind.TIMEOUT),
        answered(7.5, 0.05, tenant=globex, endpoint=embed, degraded=True, prompt_tokens=8),
        {"intended_s": 8.5, "tenant": globex, "endpoint": embed, "outcome": Outcome.PENDING},
        answered(9.0, 0.0, tenant=acme, endpoint=embed, status=0, outcome=Outcome.FAIL,
                 error=ErrorKind.CLIENT),
    ]  # fmt: skip
    table = table_of(
        rows,
        tenants=("acme", "globex"),
        endpoints=("chat", "embeddings"),
        models=("gpt-4o-mini",),
    )
    return stored_run(
        table,
        faults=(fault(2.0, 4.0, kind="latency"), fault(6.0, None, kind="http-error")),
        provider=PROVIDER_STATS,
        oracle_min_calls=4,
        scenario={"name": scenario_name, "description": "The provider slows, then errs."},
    )


def sample_results() -> list[CheckResult]:
    """One check of each validity."""
    return [
        CheckResult("p99", "latency", False, observed=2000.0, limit=1000.0, unit="ms",
                    details="p99 over | the budget"),
        CheckResult("errors", "error_rate", True, observed=0.25, limit=0.5),
        CheckResult("recovery", "recovery", UNKNOWN, observed=math.nan, details="no data"),
    ]  # fmt: skip


def by_name(rows: Sequence[Any]) -> dict[str, Any]:
    return {row.name: row for row in rows}


@pytest.mark.parametrize(
    ("validities", "verdict"),
    [
        ((), "unknown"),
        ((True, True), "pass"),
        ((True, UNKNOWN), "unknown"),
        ((UNKNOWN, False, True), "fail"),
        ((False,), "fail"),
    ],
)
def test_the_verdict_is_three_valued(validities: tuple[Validity, ...], verdict: str) -> None:
    results = [CheckResult(f"c{i}", "k", valid) for i, valid in enumerate(validities)]
    assert verdict_of(results) == verdict


def test_the_document_round_trips_through_strict_json() -> None:
    report = build_report(sample_run(), sample_results())
    document = report.to_dict()
    assert json.loads(json.dumps(document, allow_nan=False)) == document
    assert document["schema_version"] == REPORT_SCHEMA_VERSION
    assert report.verdict == "fail"
    assert report.checks[2].observed is None  # NaN
    assert report.checks[0] == sample_results()[0]


def test_per_tenant_figures_as_the_client_saw_them() -> None:
    tenants = by_name(build_report(sample_run(), []).tenants)
    acme, globex = tenants["acme"], tenants["globex"]
    assert (acme.requests, acme.ok, acme.failed) == (5, 4, 1)
    assert acme.error_rate == 0.0  # the generator's own failure is not the target's
    assert acme.p50_ms == pytest.approx(200.0)
    assert acme.p99_ms == pytest.approx(400.0)
    assert acme.cache_hit_share == pytest.approx(0.25)
    assert acme.coalesced_share == pytest.approx(0.25)
    assert (acme.prompt_tokens, acme.completion_tokens) == (40, 20)
    assert (globex.requests, globex.ok, globex.unknown, globex.pending) == (5, 2, 1, 1)
    assert globex.error_rate == pytest.approx(0.25)
    assert globex.p50_ms == pytest.approx(500.0)
    assert globex.p99_ms == pytest.approx(2000.0)  # the timeout counts, as a lower bound
    assert globex.degraded_share == pytest.approx(0.5)


def test_per_endpoint_rows_cover_every_request() -> None:
    endpoints = by_name(build_report(sample_run(), []).endpoints)
    assert endpoints["chat"].requests == 7
    assert endpoints["embeddings"].requests == 3
    assert endpoints["embeddings"].p95_ms == pytest.approx(50.0)


def test_a_group_without_ended_requests_has_no_latency() -> None:
    table = table_of([{"intended_s": 0.5, "outcome": Outcome.PENDING}])
    (row,) = build_report(stored_run(table), []).tenants
    assert (row.p50_ms, row.error_rate, row.cache_hit_share) == (None, None, None)


def test_provider_ground_truth_per_tenant_and_cost_per_model() -> None:
    provider = build_report(sample_run(), []).provider
    assert provider is not None
    tenants = by_name(provider.tenants)
    assert tenants["acme"].requests == 5
    assert tenants["globex"].errors == 2
    assert tenants["globex"].prompt_tokens == 300
    models = by_name(provider.models)
    assert models["gpt-4o-mini"].cost_usd == pytest.approx((400 * 0.15 + 200 * 0.6) / 1e6)
    assert models["unpriced"].cost_usd is None
    assert provider.cost_usd is None  # unknown while one model has no price
    assert provider.total.requests == 12


def test_upstream_calls_against_the_oracle_minimum() -> None:
    upstream = build_report(sample_run(), []).upstream
    assert upstream.provider_requests == 12
    assert upstream.oracle_min_calls == 4
    assert upstream.amplification == pytest.approx(12 / 4)
    assert upstream.client_requests == 8  # pending and generator failures not sent
    assert upstream.calls_per_client_request == pytest.approx(12 / 8)


def test_a_foreign_target_has_no_ground_truth_and_no_amplification() -> None:
    report = build_report(stored_run(table_of([answered(0.5, 0.1)])), [])
    assert report.provider is None
    assert report.upstream.amplification is None
    assert report.upstream.client_requests == 1


def test_run_facts_faults_and_series_are_carried_over() -> None:
    run = sample_run()
    report = build_report(run, [])
    assert report.scenario == ScenarioFacts("provider brownout", "The provider slows, then errs.")
    assert report.run.target_url == "http://127.0.0.1:9"
    assert report.run.started_at == "1970-01-01T00:00:00+00:00"
    assert report.run.duration_s == 10.0
    assert report.faults == run.faults
    assert [asdict(window) for window in report.timeseries] == run.history.meta["timeseries"]
    assert report.testbed == {"cpu_count": 2, "python": "3.11", "backend": None, "images": {}}
    assert report.summary.scheduled == 10
