"""The demo's table: figures from the stored runs, a column per target, and the verdict."""

import math
from dataclasses import replace

import numpy as np
import pytest
from op_support import answered, table_of
from run_support import provider_stats, stored_run

from benchmarks.op import CacheStatus, Outcome
from scenarios.demo import Column, table, verdict
from scenarios.demo_render import document, markdown, page
from scenarios.run_figures import RunFigures, peak_outstanding
from scenarios.stored_run import StoredRun


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


def _naive() -> StoredRun:
    return _run(3.0, hits=0, errors=8, tokens=10_000, calls=100)


def _hardened() -> StoredRun:
    return _run(0.5, hits=65, errors=0, tokens=3_000, calls=41)


def _peer() -> StoredRun:
    run = _run(1.0, hits=10, errors=1, tokens=9_000, calls=60)
    return replace(run, target={"kind": "peer", "name": "litellm", "version": "1.55.2"})


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


def test_two_targets_meet_the_targets_when_the_second_wins_by_enough() -> None:
    rows = table([Column("naive", run=_naive()), Column("hardened", run=_hardened())])
    by_metric = {r.metric: r for r in rows}
    p95 = by_metric["P95 latency"]
    assert (p95.baseline, p95.cells["hardened"].value) == pytest.approx((3000.0, 500.0))
    assert p95.cells["hardened"].change == "6.0x lower"
    assert by_metric["token spend"].cells["hardened"].change == "70% lower"
    assert all(r.cells["hardened"].met for r in rows)
    assert verdict(rows) == "met"


def test_the_table_reports_misses_and_unknowns() -> None:
    naive = _run(1.0, hits=0, errors=0, tokens=10_000, calls=100)
    hardened = _run(0.5, hits=10, errors=1, tokens=9_000, calls=60)
    rows = table([Column("naive", run=naive), Column("hardened", run=hardened)])
    missed = {r.metric for r in rows if r.cells["hardened"].met is False}
    assert missed >= {
        "P95 latency", "error rate", "token spend", "cache hit rate",
        "upstream calls / oracle minimum",
    }  # fmt: skip
    assert verdict(rows) == "missed"
    without_truth = Column("x", run=stored_run(table_of([answered(0.0, 0.1)])))
    unknown = {r.metric: r for r in table([without_truth, replace(without_truth, label="y")])}
    assert unknown["token spend"].cells["y"].met is None
    assert verdict(list(unknown.values())) == "undecided"


def test_two_targets_keep_todays_columns() -> None:
    naive = _run(1.0, hits=0, errors=0, tokens=10_000, calls=100)
    hardened = _run(0.5, hits=10, errors=1, tokens=9_000, calls=60)
    columns = [Column("naive", run=naive), Column("hardened", run=hardened)]
    rows = table(columns)
    text = markdown(columns, rows, title="t", notes=["n"], links={})
    header = "| metric | target | naive | hardened | change | met |\n|---|---|---:|---:|---|---|"
    assert header in text
    assert "| P95 latency | >= 4.3x lower | 1,000 ms | 500 ms | 2.0x lower | NO |" in text
    assert "<td class='missed'>NO</td>" in page(columns, rows, title="t", notes=[], links={})


def test_three_targets_each_get_a_figure_a_change_and_a_verdict() -> None:
    columns = [
        Column("naive", run=replace(_naive(), gateway={"profile": "naive"})),
        Column("hardened", run=replace(_hardened(), gateway={"profile": "hardened"})),
        Column("litellm", run=_peer()),
    ]
    rows = table(columns)
    p95 = rows[0]
    assert list(p95.cells) == ["hardened", "litellm"]
    assert p95.cells["litellm"].change == "3.0x lower"
    assert p95.cells["litellm"].met is False
    assert verdict(rows) == "missed"
    links = {"naive": "naive/run/report.html", "litellm": "litellm/run/report.html"}
    text = markdown(columns, rows, title="t", notes=[], links=links)
    assert "| metric | target | naive | hardened | change | met | litellm | change | met |" in text
    assert (
        "| P95 latency | >= 4.3x lower | 3,000 ms | 500 ms | 6.0x lower | yes "
        "| 1,000 ms | 3.0x lower | NO |"
    ) in text
    assert "- naive: our gateway, naive profile; report: [naive/run/report.html]" in text
    assert "- litellm: peer litellm, version 1.55.2; report:" in text
    html = page(columns, rows, title="t", notes=[], links=links)
    assert "<th colspan='3'>litellm</th>" in html
    assert "peer litellm, version 1.55.2; <a href='litellm/run/report.html'>report</a>" in html


def test_a_target_that_did_not_run_keeps_its_column_with_the_reason() -> None:
    reason = "StackError: pip install litellm failed"
    columns = [
        Column("naive", run=_naive()),
        Column("hardened", run=_hardened()),
        Column("litellm", stop="harness error", reason=reason),
    ]
    rows = table(columns)
    assert all(r.cells["hardened"].met for r in rows)
    assert all(r.cells["litellm"].met is None for r in rows)
    assert verdict(rows) == "undecided"
    text = markdown(columns, rows, title="t", notes=[], links={})
    assert "| 500 ms | 6.0x lower | yes | — | — | not run |" in text
    assert f"- litellm: not run, harness error: {reason}" in text
    assert "<td class='not-run'>not run</td>" in page(columns, rows, title="t", notes=[], links={})
    json_form = document(columns, rows, scenario="s")
    assert json_form["targets"][2] == {
        "label": "litellm", "about": f"not run, harness error: {reason}", "run": None,
        "target": None, "stop": "harness error", "reason": reason,
    }  # fmt: skip
    assert json_form["rows"][0]["cells"]["litellm"] == {"value": None, "change": "—", "met": None}


def test_a_failed_steady_state_is_a_miss_and_a_missing_baseline_decides_nothing() -> None:
    failed = Column("litellm", stop="steady state failed", reason="p95 above 2 s")
    rows = table([Column("naive", run=_naive()), Column("hardened", run=_hardened()), failed])
    assert verdict(rows) == "missed"
    no_baseline = Column("naive", stop="harness error", reason="OSError: no port")
    rows = table([no_baseline, Column("hardened", run=_hardened())])
    assert all(r.cells["hardened"].met is None for r in rows)
    assert verdict(rows) == "undecided"


def test_the_verdict_prefers_undecided_to_missed() -> None:
    columns = [
        Column("naive", run=_naive()),
        Column("slow", run=_run(2.9, hits=0, errors=0, tokens=10_000, calls=100)),
        Column("portkey", stop="harness error", reason="HarnessError: no node"),
    ]
    assert verdict(table(columns)) == "undecided"


def test_a_column_has_a_run_or_a_reason() -> None:
    with pytest.raises(ValueError, match="column x"):
        Column("x")
    with pytest.raises(ValueError, match="at least one target"):
        table([Column("naive", run=_naive())])
