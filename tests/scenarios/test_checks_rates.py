"""Error, degraded, goodput and cache-hit rates over hand-built runs."""

import pytest
from op_support import answered, table_of
from pydantic import ValidationError
from run_support import fault, stored_run

from benchmarks.op import CacheStatus, ErrorKind, Outcome
from scenarios.checks import (
    NOT_APPLICABLE,
    UNKNOWN,
    CacheHitRateCheck,
    DegradedRateCheck,
    ErrorRateCheck,
    GoodputCheck,
)


def failed(t: float) -> dict:
    return answered(t, 0.1, outcome=Outcome.FAIL, error=ErrorKind.HTTP, status=503)


def given_up(t: float) -> dict:
    return answered(t, 5.0, outcome=Outcome.INFO, error=ErrorKind.TIMEOUT, status=0)


def mixed_run():
    """Ten requests: 7 OK, 2 failed, 1 given up; one pending."""
    rows = [answered(float(i), 0.1) for i in range(7)]
    rows += [failed(7.0), failed(8.0), given_up(9.0)]
    rows.append({"intended_s": 9.5, "outcome": Outcome.PENDING})
    return stored_run(table_of(rows))


def test_error_rate_counts_failures_and_give_ups_over_ended_requests():
    result = ErrorRateCheck(max=0.3).check(mixed_run())
    assert (result.valid, result.unit, result.limit) == (True, "fraction", 0.3)
    assert result.observed == pytest.approx(0.3)
    assert "(2 failed, 1 given up)" in result.details


def test_error_rate_fails_above_its_bound():
    result = ErrorRateCheck(max=0.2).check(mixed_run())
    assert result.valid is False
    assert result.details.startswith(
        "error rate of 10 ended requests (whole run) = 30.00% > 20.00%"
    )


def test_error_rate_without_ended_requests_is_unknown():
    run = stored_run(table_of([{"intended_s": 0.0, "outcome": Outcome.PENDING}]))
    assert ErrorRateCheck(max=0.1).check(run).valid == UNKNOWN


def test_error_rate_during_faults():
    rows = [answered(float(i), 0.1) for i in range(5)] + [failed(float(i)) for i in range(5, 10)]
    run = stored_run(table_of(rows), faults=(fault(5, 10),))
    assert ErrorRateCheck(max=0.01, window="before_faults").check(run).valid is True
    during = ErrorRateCheck(max=0.01, window="during_faults").check(run)
    assert (during.valid, during.observed) == (False, 1.0)


def test_degraded_rate_is_a_share_of_ok_answers():
    rows = [answered(float(i), 0.1, degraded=i < 2) for i in range(8)] + [failed(8.0)]
    run = stored_run(table_of(rows))
    result = DegradedRateCheck(max=0.25).check(run)
    assert (result.valid, result.observed) == (True, 0.25)
    assert DegradedRateCheck(max=0.2).check(run).valid is False


def test_degraded_rate_without_ok_answers_is_unknown():
    result = DegradedRateCheck(max=0.1).check(stored_run(table_of([failed(0.0)])))
    assert result.valid == UNKNOWN
    assert "no OK answers" in result.details


def goodput_run():
    """Ten requests over 10 s: 6 good, 1 degraded, 1 slow, 1 failed, 1 pending."""
    rows = [answered(float(i), 0.1) for i in range(6)]
    rows += [answered(6.0, 0.1, degraded=True), answered(7.0, 0.9), failed(8.0)]
    rows.append({"intended_s": 9.0, "outcome": Outcome.PENDING})
    return stored_run(table_of(rows), duration_s=10)


def test_goodput_share_counts_ok_undegraded_requests_within_the_slo():
    result = GoodputCheck(slo_ms=500, min_share=0.6).check(goodput_run())
    assert (result.valid, result.observed, result.unit) == (True, 0.6, "fraction")
    assert GoodputCheck(slo_ms=1000, min_share=0.7).check(goodput_run()).valid is True
    assert GoodputCheck(slo_ms=500, min_share=0.7).check(goodput_run()).valid is False


def test_goodput_rate_is_per_second_of_the_window():
    result = GoodputCheck(slo_ms=500, min_rps=0.6).check(goodput_run())
    assert (result.valid, result.observed, result.unit) == (True, 0.6, "rps")
    window = GoodputCheck(slo_ms=500, min_rps=1.5, window={"from_s": 0, "to_s": 4})
    assert window.check(goodput_run()).observed == pytest.approx(1.0)


def test_goodput_with_both_bounds_reports_the_one_that_fails():
    result = GoodputCheck(slo_ms=500, min_share=0.5, min_rps=1).check(goodput_run())
    assert result.valid is False
    assert (result.observed, result.limit, result.unit) == (0.6, 1, "rps")
    assert "60.00% >= 50.00%" in result.details
    assert "0.6 rps < 1 rps" in result.details


def test_goodput_needs_a_bound_and_an_empty_window_is_unknown():
    with pytest.raises(ValidationError, match="min_share, min_rps or both"):
        GoodputCheck(slo_ms=500)
    result = GoodputCheck(slo_ms=500, min_share=0.5, window="during_faults").check(goodput_run())
    assert result.valid == UNKNOWN


def cache_run(*statuses: CacheStatus):
    rows = [answered(float(i), 0.1, cache=s) for i, s in enumerate(statuses)]
    return stored_run(table_of([*rows, failed(9.0)]))


def test_cache_hit_rate_counts_coalesced_answers_by_default():
    run = cache_run(CacheStatus.HIT, CacheStatus.COALESCED, CacheStatus.MISS, CacheStatus.MISS)
    result = CacheHitRateCheck(min=0.5).check(run)
    assert (result.valid, result.observed) == (True, 0.5)
    strict = CacheHitRateCheck(min=0.5, count_coalesced=False).check(run)
    assert (strict.valid, strict.observed) == (False, 0.25)
    assert "x-cache hits among 4 OK answers (whole run) = 25.00% < 50.00%" in strict.details


def test_cache_hit_rate_of_a_target_without_the_header_or_ground_truth_is_not_applicable():
    result = CacheHitRateCheck(min=0.1).check(cache_run(CacheStatus.NONE, CacheStatus.NONE))
    assert result.valid == NOT_APPLICABLE
    assert "x-cache" in result.details
