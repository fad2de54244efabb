"""One nearest-rank percentile for checks, time series, tables and benchmarks."""

import numpy as np
import pytest

from benchmarks.percentile import (
    nearest_rank,
    nearest_rank_by_bucket,
    nearest_rank_or_none,
    sorted_ranks,
)
from scenarios.report.tables import latency_percentiles_ms


def test_percentiles_are_by_nearest_rank():
    samples = [float(v) for v in range(1, 101)]
    assert nearest_rank(samples, 50) == 50.0
    assert nearest_rank(samples, 99) == 99.0
    assert nearest_rank(samples, 100) == 100.0
    assert nearest_rank([3.0, 1.0, 2.0], 50) == 2.0  # unsorted input
    assert nearest_rank([5.0], 99) == 5.0
    assert nearest_rank([1.0, 2.0], 99) == 2.0  # a small sample's p99 is its maximum
    assert nearest_rank_or_none([], 99) is None


@pytest.mark.parametrize("percentile", [0, -1, 100.5])
def test_a_percentile_outside_0_to_100_is_refused(percentile):
    with pytest.raises(ValueError, match="percentile"):
        nearest_rank([1.0], percentile)


def test_no_values_have_no_percentile():
    with pytest.raises(ValueError, match="no values"):
        nearest_rank([], 50)


def test_buckets_take_their_own_nearest_rank_and_nan_when_empty():
    bucket = np.array([0, 0, 0, 2], dtype=np.intp)
    values = np.array([3.0, 1.0, 2.0, 7.0])
    found = nearest_rank_by_bucket(bucket, values, 50, 3)
    assert found[0] == 2.0
    assert np.isnan(found[1])
    assert found[2] == 7.0


def test_a_report_table_and_a_check_agree_on_every_percentile():
    rng = np.random.default_rng(7)
    for size in (1, 2, 3, 19, 20, 21, 99, 100, 101, 1000):
        latency_ms = rng.lognormal(3, 1, size)
        table = latency_percentiles_ms(latency_ms)
        ordered = np.sort(latency_ms)
        assert sorted_ranks(ordered, (50, 95, 99)) == {
            p: nearest_rank(latency_ms, p) for p in (50, 95, 99)
        }
        assert table == {f"p{p}_ms": nearest_rank(latency_ms, p) for p in (50, 95, 99)}
