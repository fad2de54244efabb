"""Per-window time series."""

import pytest
from op_support import answered, table_of

from benchmarks.op import ErrorKind, Outcome
from benchmarks.timeseries import time_series


def test_windows_bucket_by_intended_time_with_exact_percentiles() -> None:
    rows = [answered(0.01 * i, 0.010 + 0.001 * i) for i in range(100)]  # window 0: 10..109 ms
    rows += [answered(1.5, 2.0)]  # arrives in window 1, answered in window 3
    rows += [answered(2.2, 0.1, outcome=Outcome.FAIL, error=ErrorKind.HTTP, status=503)]
    windows = time_series(table_of(rows))
    assert [w.scheduled for w in windows] == [100, 1, 1]
    first = windows[0]
    assert first.p50_s == pytest.approx(0.059)
    assert first.p99_s == pytest.approx(0.108)
    assert first.max_s == pytest.approx(0.109)
    assert windows[1].p50_s == pytest.approx(2.0)
    assert (windows[2].ok, windows[2].failed) == (0, 1)


def test_sent_counts_follow_the_actual_send_time() -> None:
    rows = [answered(0.5, 0.1, sent_s=1.2)]  # the generator was late by 0.7 s
    windows = time_series(table_of(rows))
    assert [(w.scheduled, w.sent) for w in windows] == [(1, 0), (0, 1)]
    rows.append(answered(1.9, 0.1))
    windows = time_series(table_of(rows))
    assert [(w.scheduled, w.sent) for w in windows] == [(1, 0), (1, 2)]


def test_a_window_where_nothing_ended_has_no_percentiles() -> None:
    rows = [answered(0.1, 0.1), {"intended_s": 1.5, "outcome": Outcome.PENDING}]
    windows = time_series(table_of(rows))
    assert windows[1].p99_s is None


def test_window_must_be_positive() -> None:
    with pytest.raises(ValueError, match="window_s"):
        time_series(table_of([answered(0, 1)]), window_s=0)
