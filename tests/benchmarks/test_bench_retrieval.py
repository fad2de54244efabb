"""The retrieval benchmark's pure parts: recall, drain rate, its targets, report."""

import json

import pytest

from benchmarks.bench.common import BenchReport
from benchmarks.bench.retrieval.figures import (
    Drain,
    OltpRow,
    Outcome,
    SearchRow,
    best_setting,
    drain_rate,
    oltp_check,
    recall_at_k,
    search_check,
    search_row,
)
from benchmarks.bench.retrieval.oltp import scenarios
from benchmarks.bench.retrieval.parameters import (
    DIMENSIONS_ENV,
    RetrievalParameters,
    dimensions_from_env,
)
from benchmarks.bench.retrieval.report import report
from reference_impl.retrieval import SearchSettings
from stack.corpus import CorpusSummary


def _search(ef, *, recall=0.97, p99_ms=8.0, exact=False):
    return SearchRow(
        setting="exact" if exact else f"ef_search {ef}",
        ef_search=None if exact else ef,
        uses_index=not exact,
        queries=300,
        recall_mean=recall,
        recall_min=recall - 0.1,
        p50_s=p99_ms / 2e3,
        p99_s=p99_ms / 1e3,
    )


def _oltp(scenario, *, workers=8, shared=False, elsewhere=False, p99_ms=2.0, errors=0):
    return OltpRow(
        scenario=scenario,
        shared_pool=shared,
        vector_workers=workers,
        searches_elsewhere=elsewhere,
        reads=3000,
        errors=errors,
        p50_s=p99_ms / 2e3,
        p99_s=p99_ms / 1e3,
        searches=500 if workers else 0,
        search_errors=0,
        loop_lag_p99_s=0.001,
    )


def test_recall_is_the_share_of_the_exact_results_found():
    assert recall_at_k([1, 2, 3, 4], [1, 2, 3, 4]) == 1.0
    assert recall_at_k([4, 3, 2, 1], [1, 2, 3, 4]) == 1.0  # order does not matter
    assert recall_at_k([1, 2, 9, 8], [1, 2, 3, 4]) == 0.5
    assert recall_at_k([9], [1, 2, 3, 4]) == 0.0
    assert recall_at_k([1, 2], [1, 2, 3, 4]) == 0.5  # fewer results than k
    assert recall_at_k([], []) == 1.0


def test_a_search_row_averages_recall_over_the_queries():
    row = search_row(
        SearchSettings(k=2, ef_search=64),
        found=[[1, 2], [3, 9]],
        exact=[[1, 2], [3, 4]],
        latencies_s=[0.004, 0.012],
        uses_index=True,
    )
    assert (row.setting, row.ef_search, row.queries) == ("ef_search 64", 64, 2)
    assert row.recall_mean == 0.75
    assert row.recall_min == 0.5
    assert (row.p50_s, row.p99_s) == (0.004, 0.012)
    exact = search_row(
        SearchSettings(exact=True), found=[[1]], exact=[[1]], latencies_s=[0.1], uses_index=False
    )
    assert (exact.setting, exact.ef_search) == ("exact", None)


def test_the_best_setting_meets_both_limits_with_the_highest_recall():
    rows = [
        _search(None, exact=True, recall=1.0, p99_ms=2.0),  # exact: never a candidate
        _search(40, recall=0.90, p99_ms=3.0),  # recall too low
        _search(100, recall=0.96, p99_ms=6.0),
        _search(200, recall=0.98, p99_ms=9.5),
        _search(400, recall=0.99, p99_ms=14.0),  # too slow
    ]
    assert best_setting(rows).ef_search == 200
    check = search_check(rows)
    assert check.passed is True
    assert "ef_search 200" in check.detail


def test_recall_ties_go_to_the_faster_setting():
    rows = [_search(100, recall=0.97, p99_ms=9.0), _search(200, recall=0.97, p99_ms=7.0)]
    assert best_setting(rows).ef_search == 200


def test_the_search_target_fails_when_no_setting_meets_both_limits():
    rows = [_search(40, recall=0.99, p99_ms=10.5), _search(100, recall=0.94, p99_ms=5.0)]
    assert best_setting(rows) is None
    assert search_check(rows).passed is False
    assert best_setting([_search(100, recall=0.95, p99_ms=10.0)]).ef_search == 100  # limits hold


def test_the_oltp_target_compares_split_pools_with_the_unloaded_p99():
    alone = _oltp("alone", workers=0, p99_ms=2.0)
    shared = _oltp("shared pool", shared=True, p99_ms=200.0)
    assert oltp_check([alone, shared, _oltp("split pools", p99_ms=2.4)]).passed is True
    failed = oltp_check([alone, shared, _oltp("split pools", p99_ms=2.5)])
    assert failed.passed is False
    assert "1.25x" in failed.detail
    assert oltp_check([alone, _oltp("split pools", p99_ms=2.0, errors=1)]).passed is False
    assert oltp_check([alone, shared]).passed is None  # split pools not measured


def test_the_oltp_target_ignores_searches_in_another_process():
    rows = [
        _oltp("alone", workers=0, p99_ms=2.0),
        _oltp("searches in another process", elsewhere=True, p99_ms=2.0),
        _oltp("split pools", p99_ms=9.0),
    ]
    assert oltp_check(rows).passed is False
    assert oltp_check([rows[0], rows[1]]).passed is None
    measured = scenarios(RetrievalParameters.for_run(quick=True, dimensions=8))
    assert [(s.shared_pool, s.searches_elsewhere) for s in measured if s.vector_workers] == [
        (True, False),
        (False, False),
        (False, True),
    ]


def test_the_drain_rate_runs_from_the_first_progress_to_the_empty_queue():
    samples = [(0.0, 1000), (1.0, 1000), (2.0, 900), (3.0, 500), (4.0, 100), (4.5, 0)]
    assert drain_rate(samples) == 900 / 2.5  # the start-up before 2.0 is left out
    assert drain_rate([(0.0, 10), (1.0, 10)]) is None  # no progress
    assert drain_rate([(0.0, 10), (1.0, 5)]) is None  # never emptied
    assert drain_rate([(0.0, 10), (1.0, 0)]) is None  # no interval between progress and empty
    assert drain_rate([]) is None


def test_dimensions_come_from_the_environment_or_default_to_1536():
    assert dimensions_from_env({}) == 1536
    assert dimensions_from_env({DIMENSIONS_ENV: "384"}) == 384
    for bad in ("0", "abc", "20000", "-1"):
        with pytest.raises(RuntimeError, match=DIMENSIONS_ENV):
            dimensions_from_env({DIMENSIONS_ENV: bad})


def test_quick_runs_are_smaller():
    quick = RetrievalParameters.for_run(quick=True, dimensions=384)
    full = RetrievalParameters.for_run(quick=False, dimensions=384)
    assert (quick.chunks, full.chunks) == (20_000, 100_000)
    assert (quick.queue_jobs, full.queue_jobs) == (1_000, 5_000)
    assert quick.dimensions == full.dimensions == 384
    assert quick.ef_searches == full.ef_searches


def _outcome(split_p99_ms):
    return Outcome(
        corpus=CorpusSummary(["tenant-000"], 25, 500, 20_000, 12.0, 9.0),
        server={"shared_buffers": "128MB"},
        search=[_search(None, exact=True, recall=1.0, p99_ms=40.0), _search(100)],
        oltp=[
            _oltp("alone", workers=0, p99_ms=2.0),
            _oltp("shared pool", shared=True, p99_ms=100.0),
            _oltp("split pools", p99_ms=split_p99_ms),
        ],
        drains=[Drain(1, 1000, 4.0, 300.0, 0), Drain(2, 1000, 3.0, None, 0)],
    )


def test_the_report_passes_only_when_both_targets_are_met():
    parameters = RetrievalParameters.for_run(quick=True, dimensions=1536)
    passing = report(parameters, _outcome(2.2))
    assert passing.passed is True
    assert passing.verdict.startswith("2 of 2 targets met")
    assert "1 worker(s) 300, 2 worker(s) -" in passing.verdict
    failing = report(parameters, _outcome(30.0))
    assert failing.passed is False
    assert failing.verdict.startswith("1 of 2 targets met")


def test_the_report_is_valid_json_with_the_figures():
    parameters = RetrievalParameters.for_run(quick=True, dimensions=1536)
    result: BenchReport = report(parameters, _outcome(2.2))
    document = json.loads(
        result.to_json("retrieval", started_at=0.0, elapsed_s=1.0, load_average={})
    )
    figures = document["figures"]
    assert figures["best_ef_search"] == 100
    assert [row["scenario"] for row in figures["oltp"]] == ["alone", "shared pool", "split pools"]
    assert figures["oltp"][1]["p99_over_alone"] == 50.0
    assert figures["drain"][1]["jobs_per_s"] is None
    assert document["parameters"]["dimensions"] == 1536
    assert any("ef_search 100 *" in table for table in result.tables)  # marked as meeting
