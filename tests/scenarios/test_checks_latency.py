"""Latency percentiles and all-answered checks over hand-built runs."""

import math

import pytest
from op_support import answered, table_of
from run_support import stored_run

from benchmarks.op import ErrorKind, Outcome
from scenarios.checks import UNKNOWN, AllAnsweredCheck, LatencyCheck


def ramp_run(count: int = 100):
    """Requests with latencies 1, 2, ..., count ms, one every 0.05 s."""
    return stored_run(table_of([answered(i * 0.05, (i + 1) / 1000) for i in range(count)]))


def test_latency_passes_at_its_bound_by_nearest_rank():
    result = LatencyCheck(percentile=95, max_ms=95).check(ramp_run(), name="p95")
    assert (result.name, result.kind, result.valid) == ("p95", "latency", True)
    assert result.observed == pytest.approx(95)
    assert (result.limit, result.unit) == (95, "ms")


def test_latency_fails_above_its_bound_and_says_so():
    result = LatencyCheck(percentile=95, max_ms=90).check(ramp_run())
    assert result.valid is False
    assert result.details == "p95 of 100 ended requests (whole run) = 95 ms > 90 ms"


def test_latency_counts_given_up_requests_and_skips_pending_and_generator_failures():
    rows = [answered(float(i), 0.01) for i in range(8)]
    rows.append(answered(8.0, 5.0, outcome=Outcome.INFO, error=ErrorKind.TIMEOUT, status=0))
    rows.append({"intended_s": 9.0, "outcome": Outcome.PENDING})
    rows.append(answered(9.5, 9.0, outcome=Outcome.FAIL, error=ErrorKind.CLIENT, status=0))
    result = LatencyCheck(percentile=99, max_ms=1000).check(stored_run(table_of(rows)))
    assert result.valid is False
    assert result.observed == pytest.approx(5000)
    assert "of 9 ended requests" in result.details


def test_only_ok_leaves_failures_out():
    rows = [answered(float(i), 0.01) for i in range(9)]
    rows.append(answered(9.0, 3.0, outcome=Outcome.FAIL, status=500, error=ErrorKind.HTTP))
    run = stored_run(table_of(rows))
    assert LatencyCheck(percentile=99, max_ms=100).check(run).valid is False
    only_ok = LatencyCheck(percentile=99, max_ms=100, only_ok=True).check(run)
    assert only_ok.valid is True
    assert "of 9 OK requests" in only_ok.details


def test_latency_without_ended_requests_is_unknown():
    run = stored_run(table_of([{"intended_s": 1.0, "outcome": Outcome.PENDING}]))
    result = LatencyCheck(percentile=50, max_ms=100).check(run)
    assert result.valid == UNKNOWN
    assert result.details == "no ended requests in scope (whole run)"
    assert result.observed is None


def test_all_answered_passes_when_every_request_ends_in_time():
    run = stored_run(table_of([answered(float(i), 0.5) for i in range(10)]))
    result = AllAnsweredCheck(deadline_s=1).check(run)
    assert (result.valid, result.observed, result.limit, result.unit) == (True, 0, 0, "count")


def test_all_answered_names_pending_given_up_and_late_rows():
    rows = [answered(float(i), 0.5) for i in range(10)]
    rows[2] = {"intended_s": 2.0, "outcome": Outcome.PENDING}
    rows[5] = answered(5.0, 2.0, outcome=Outcome.INFO, error=ErrorKind.TIMEOUT, status=0)
    rows[7] = answered(7.0, 1.5)
    result = AllAnsweredCheck(deadline_s=1).check(stored_run(table_of(rows)))
    assert result.valid is False
    assert result.observed == 3
    assert "1 pending, 1 given up, 1 late (rows 2, 5, 7)" in result.details


def test_all_answered_in_an_empty_window_is_unknown():
    run = stored_run(table_of([answered(1.0, 0.1)]))
    result = AllAnsweredCheck(deadline_s=1, window={"from_s": 5, "to_s": 6}).check(run)
    assert result.valid == UNKNOWN
    assert "no requests in scope (5.0-6.0 s)" in result.details


def test_latency_ignores_nan_end_of_an_ended_row():
    rows = [answered(0.0, 0.01), {"intended_s": 1.0, "outcome": Outcome.FAIL}]
    result = LatencyCheck(percentile=99, max_ms=100).check(stored_run(table_of(rows)))
    assert result.valid is True
    assert not math.isnan(result.observed)
