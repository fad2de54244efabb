"""Exact percentiles by nearest rank, over a whole selection or per time bucket.

Checks decide on exact figures, not on HDR-rounded ones. The rank rule is the one of
``benchmarks.timeseries``: the smallest value with at least ``p`` percent of the values at
or below it.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt


Floats = npt.NDArray[np.float64]


def rank(percentile: float, size: int) -> int:
    """The index of the nearest-rank ``percentile`` in a sorted array of ``size`` values."""
    return max(math.ceil(percentile / 100 * size) - 1, 0)


def nearest_rank(values: Floats, percentile: float) -> float:
    """The nearest-rank ``percentile`` of ``values`` (non-empty), in linear time."""
    k = rank(percentile, len(values))
    return float(np.partition(values, k)[k])


def nearest_rank_by_bucket(
    bucket: npt.NDArray[np.intp], values: Floats, percentile: float, count: int
) -> Floats:
    """The nearest-rank ``percentile`` of ``values`` in each of ``count`` buckets (NaN if empty)."""
    order = np.lexsort((values, bucket))
    bucket, values = bucket[order], values[order]
    starts = np.searchsorted(bucket, np.arange(count), side="left")
    sizes = np.searchsorted(bucket, np.arange(count), side="right") - starts
    result = np.full(count, np.nan)
    for k in np.flatnonzero(sizes):
        result[k] = values[starts[k] + rank(percentile, int(sizes[k]))]
    return result
