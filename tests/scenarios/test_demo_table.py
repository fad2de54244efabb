"""The demo's table: figures from two stored runs, and whether each target is met."""

import math

import numpy as np
import pytest
from op_support import answered, table_of
from run_support import provider_stats, stored_run

from benchmarks.op import CacheStatus, Outcome
from scenarios.demo import table
from scenarios.demo_render import markdown, page
from scenarios.run_figures import RunFigures, peak_outstanding


def test_peak_outstanding_counts_requests_waiting_at_once() -> None:
    starts = np.array([0.0, 0.1, 0.2, 0.5])
    ends = np.array([1.0, 0.15, np.nan, 0.6])
    # rows 0 and 1 overlap; row 2 never ends, so at 0.5 rows 0, 2 and 3 wait at once.
    assert peak_outstanding(starts, ends) == 3
    assert peak_outstanding(np.array([0.0, 1.0]), np.array([1.0, 2.0])) == 1
    assert peak_outstanding(np.array([]), np.array([])) == 0


def _run(latency_s: float, *, hits: int, errors: int, tokens: int, calls: int, n: int = 100):
    rows = []
    for i in range(n):
        row = answered(i * 0.1, latency_s, cache=CacheStatus.HIT if i < hits else CacheStatus.MISS)
        if i >= n - errors:
            row |= {"outcome": Outcome.FAIL, "status": 429}
        rows.append(row)
    stats = provider_stats(
        models={
            "gpt-4o-mini": {"requests": calls, "prompt_tokens": tokens, "completion_tokens": 0}
        },
        total={"requests": calls, "prompt_tokens": tokens, "completion_tokens": 0},
    )
    return stored_run(table_of(rows), provider=stats, oracle_min_calls=40)


def test_figures_come_from_the_ops_and_the_ground_truth() -> None:
    figures = RunFigures.of(_run(2.0, hits=0, errors=10, tokens=10_000, calls=100))
    assert math.isclose(figures.p95_s, 2.0)
    assert figures.error_rate == 0.1
    assert figures.tokens == 10_000
    assert figures.upstream_calls == 100
    assert figures.oracle_min_calls == 40
    assert figures.cache_hit_rate == 0.0
    assert figures.cost_usd == 10_000 * 0.15 / 1e6


def test_cpu_per_request_is_the_targets_cpu_time_over_the_requests_sent() -> None:
    rows = [answered(i * 0.1, 0.2) for i in range(50)]
    figures = RunFigures.of(stored_run(table_of(rows), target_cpu_s=0.1))
    assert figures.cpu_ms_per_request == pytest.approx(2.0)
    assert math.isnan(RunFigures.of(stored_run(table_of(rows))).cpu_ms_per_request)


def test_the_table_meets_targets_when_hardened_wins_by_enough() -> None:
    naive = _run(3.0, hits=0, errors=8, tokens=10_000, calls=100)
    hardened = _run(0.5, hits=65, errors=0, tokens=3_000, calls=41)
    rows = {r.metric: r for r in table(naive, hardened)}
    assert rows["P95 latency"].met is True
    assert rows["P95 latency"].improvement == "6.0x lower"
    assert rows["error rate"].met is True
    assert rows["token spend"].met is True
    assert rows["token spend"].improvement == "70% lower"
    assert rows["cache hit rate"].met is True
    assert rows["upstream calls / oracle minimum"].met is True


def test_the_table_reports_misses_and_unknowns() -> None:
    naive = _run(1.0, hits=0, errors=0, tokens=10_000, calls=100)
    hardened = _run(0.5, hits=10, errors=1, tokens=9_000, calls=60)
    rows = {r.metric: r for r in table(naive, hardened)}
    assert rows["P95 latency"].met is False
    assert rows["error rate"].met is False
    assert rows["token spend"].met is False
    assert rows["cache hit rate"].met is False
    assert rows["upstream calls / oracle minimum"].met is False
    without_truth = stored_run(table_of([answered(0.0, 0.1)]))
    unknown = {r.metric: r for r in table(without_truth, without_truth)}
    assert unknown["token spend"].met is None
    text = markdown(list(rows.values()), title="t", notes=["n"])
    assert "| P95 latency | 1,000 ms | 500 ms | 2.0x lower | >= 4.3x lower | NO |" in text
    assert "<td>NO</td>" in page(list(rows.values()), title="t", notes=[], links={})
