"""Exact percentiles by nearest rank: the one rule every check, table and report uses.

The nearest-rank ``p`` percentile of ``n`` values is the smallest value with at least ``p``
percent of the values at or below it: the ``ceil(p / 100 * n)``-th in ascending order. HDR
histograms (``benchmarks.hdr``) round the rank half up instead, so on a small sample a
summary's percentile may sit one sample away from this one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt


Floats = npt.NDArray[np.float64]


def rank(percentile: float, size: int) -> int:
    """The index of the nearest-rank ``percentile`` in a sorted array of ``size`` values."""
    return max(math.ceil(percentile / 100 * size) - 1, 0)


def nearest_rank(values: Floats | Sequence[float], percentile: float) -> float:
    """The nearest-rank ``percentile`` (0 < percentile <= 100) of ``values`` (non-empty), in
    linear time."""
    if not 0 < percentile <= 100:  # noqa: PLR2004 - a percentage
        raise ValueError(f"percentile must be in (0, 100], got {percentile}")
    array = np.asarray(values, dtype=np.float64)
    if not len(array):
        raise ValueError("no values to take a percentile of")
    k = rank(percentile, len(array))
    return float(np.partition(array, k)[k])


def nearest_rank_or_none(values: Floats | Sequence[float], percentile: float) -> float | None:
    """``nearest_rank``, or None when there are no values."""
    return nearest_rank(values, percentile) if len(values) else None


def sorted_ranks(ordered: Floats, percentiles: Sequence[float]) -> dict[float, float]:
    """The nearest-rank ``percentiles`` of ``ordered`` (non-empty, sorted ascending)."""
    return {p: float(ordered[rank(p, len(ordered))]) for p in percentiles}


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
