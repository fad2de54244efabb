"""HDR duration histograms: precision, clamping, merge and encoding."""

import math

import numpy as np
import pytest

from benchmarks.hdr import DurationHistogram


def test_percentiles_are_within_a_tenth_of_a_percent() -> None:
    values = np.random.default_rng(1).lognormal(mean=-3, sigma=1, size=50_000)
    histogram = DurationHistogram()
    histogram.record_many(values)
    ordered = np.sort(values)
    for p in (50, 90, 99, 99.9):
        rank = int(np.ceil(p / 100 * len(values))) - 1
        # Within 0.1% of the sample at that rank, give or take one rank of rounding.
        low, high = ordered[max(rank - 1, 0)] * 0.999, ordered[rank + 1] * 1.001
        assert low <= histogram.percentile_s(p) <= high
    assert histogram.count == len(values)


def test_record_and_record_many_agree() -> None:
    values = [0.001, 0.002, 0.002, 0.5, 3.0]
    one_by_one, at_once = DurationHistogram(), DurationHistogram()
    for v in values:
        one_by_one.record(v)
    at_once.record_many(values)
    assert one_by_one.encode() == at_once.encode()


def test_nan_is_skipped_and_extremes_are_clamped() -> None:
    histogram = DurationHistogram()
    histogram.record_many([math.nan, -1.0, 10_000.0])
    assert histogram.count == 2
    assert histogram.percentile_s(0) == pytest.approx(1e-6)
    assert histogram.max_s == pytest.approx(3600, rel=1e-3)


def test_merge_equals_recording_everything_in_one() -> None:
    rng = np.random.default_rng(2)
    parts = [rng.exponential(0.05, 10_000) for _ in range(3)]
    separate = []
    for values in parts:
        h = DurationHistogram()
        h.record_many(values)
        separate.append(h)
    whole = DurationHistogram()
    whole.record_many(np.concatenate(parts))
    merged = DurationHistogram.merged(separate)
    assert merged.count == whole.count == 30_000
    for p in (50, 99, 99.99):
        assert merged.percentile_s(p) == whole.percentile_s(p)


def test_encode_round_trips() -> None:
    histogram = DurationHistogram()
    histogram.record_many([0.01, 0.02, 0.03])
    back = DurationHistogram.decode(histogram.encode())
    assert back.count == 3
    assert back.percentile_s(50) == histogram.percentile_s(50)


def test_empty_histogram_reads_nan() -> None:
    histogram = DurationHistogram()
    assert math.isnan(histogram.percentile_s(99))
    assert math.isnan(histogram.max_s)


def test_record_many_equals_one_by_one_over_many_decades() -> None:
    values = np.random.default_rng(3).lognormal(mean=-2, sigma=2.5, size=5_000)
    one_by_one, at_once = DurationHistogram(), DurationHistogram()
    for v in values:
        one_by_one.record(float(v))
    at_once.record_many(values)
    assert one_by_one.encode() == at_once.encode()
    assert one_by_one.max_s == at_once.max_s
