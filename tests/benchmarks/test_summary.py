"""Run summaries: rates, outcomes, errors by kind and percentiles."""

import math

import pytest
from op_support import answered, table_of

from benchmarks.hdr import DurationHistogram
from benchmarks.op import ErrorKind, Outcome
from benchmarks.summary import Summary


def _run() -> Summary:
    rows = [answered(0.1 * i, 0.05) for i in range(96)]
    rows += [answered(9.6, 0.02, outcome=Outcome.FAIL, error=ErrorKind.HTTP, status=429)] * 2
    rows += [answered(9.7, 0.0, outcome=Outcome.FAIL, error=ErrorKind.CONNECT, status=0)]
    rows += [answered(9.8, 30.0, outcome=Outcome.INFO, error=ErrorKind.TIMEOUT, status=0)]
    return Summary.of(table_of(rows), DurationHistogram(), duration_s=10.0)


def test_outcomes_and_errors_by_kind() -> None:
    summary = _run()
    assert (summary.ok, summary.failed, summary.unknown) == (96, 3, 1)
    assert summary.errors == {"429": 2, "connect": 1, "timeout": 1}
    assert summary.error_rate == pytest.approx(3 / 100)
    assert summary.achieved_rate_rps == pytest.approx(10.0)


def test_timeouts_stay_in_the_latency_tail_but_not_in_ok_latency() -> None:
    summary = _run()
    assert summary.latency_s.max_s == pytest.approx(30.0, rel=1e-3)
    assert summary.ok_latency_s.max_s == pytest.approx(0.05, rel=1e-3)
    assert summary.ok_latency_s.count == 96


def test_late_sends_lower_the_achieved_rate() -> None:
    rows = [answered(0.1 * i, 0.01, sent_s=0.2 * i) for i in range(100)]  # sends at half pace
    summary = Summary.of(table_of(rows), DurationHistogram(), duration_s=10.0)
    assert summary.achieved_rate_rps == pytest.approx(5.1)
    assert summary.lag_s.max_s == pytest.approx(9.9, rel=1e-3)


def test_dict_round_trip_keeps_nan() -> None:
    summary = _run()
    back = Summary.from_dict(summary.to_dict())
    assert back.latency_s == summary.latency_s
    assert math.isnan(back.ttft_s.p50_s)


def test_requests_the_generator_could_not_make_stay_out_of_latency() -> None:
    rows = [answered(0.1 * i, 0.5) for i in range(10)]
    rows.append(answered(1.0, 0.0, outcome=Outcome.INFO, error=ErrorKind.CLIENT, status=0))
    rows.append({"intended_s": 1.1, "outcome": Outcome.PENDING})
    summary = Summary.of(table_of(rows), DurationHistogram(), duration_s=2.0)
    assert summary.latency_s.count == 10
    assert summary.latency_s.p50_s == pytest.approx(0.5, rel=1e-3)
    assert (summary.unknown, summary.pending) == (1, 1)
    assert summary.errors == {"client": 1}


def test_each_percentile_is_its_own_rank() -> None:
    # 1,000 requests taking 1, 2, ..., 1000 ms: the p-th percentile is p * 10 ms.
    rows = [answered(0.01 * i, (i + 1) / 1000) for i in range(1000)]
    latency = Summary.of(table_of(rows), DurationHistogram(), duration_s=10.0).latency_s
    assert latency.p50_s == pytest.approx(0.500, rel=0.01)
    assert latency.p90_s == pytest.approx(0.900, rel=0.01)
    assert latency.p95_s == pytest.approx(0.950, rel=0.01)
    assert latency.p99_s == pytest.approx(0.990, rel=0.01)
    assert latency.p999_s == pytest.approx(0.999, rel=0.01)


def test_latency_counts_from_the_intended_send_not_the_actual_one() -> None:
    # Every request was sent 2 s late and answered 0.1 s after it was sent.
    rows = [answered(0.1 * i, 2.1, sent_s=0.1 * i + 2.0) for i in range(50)]
    summary = Summary.of(table_of(rows), DurationHistogram(), duration_s=5.0)
    assert summary.latency_s.p50_s == pytest.approx(2.1, rel=0.01)
    assert summary.uncorrected_latency_s.p50_s == pytest.approx(0.1, rel=0.01)
