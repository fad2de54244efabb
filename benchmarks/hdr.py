"""HDR histograms of durations: recorded in microseconds, read back in seconds.

The range is 1 µs to 1 hour at 3 significant digits (values within 0.1%), so every timeout
fits; anything longer is clamped to the top and still counted. Histograms travel between
processes and into run histories as the standard compressed base64 encoding, and merge
exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt
from hdrh.histogram import HdrHistogram


LOWEST_US = 1
HIGHEST_US = 3_600_000_000
SIGNIFICANT_DIGITS = 3
_HALF_SUB_BUCKET_BITS = 10
"""At 3 significant digits HDR resolves 2^10 steps per power of two (units of 1 µs)."""


class DurationHistogram:
    """Durations in seconds, kept as an HDR histogram of microseconds."""

    def __init__(self, histogram: HdrHistogram | None = None) -> None:
        self._h = histogram or HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)

    def record(self, seconds: float) -> None:
        """Add one duration; negative ones (clock noise) count as zero."""
        self._h.record_value(_to_us(seconds))

    def record_many(self, seconds: npt.ArrayLike) -> None:
        """Add many durations at once; NaNs (requests without that time) are skipped."""
        values = np.asarray(seconds, dtype=np.float64)
        values = values[~np.isnan(values)]
        micros = np.clip(np.rint(values * 1e6), LOWEST_US, HIGHEST_US).astype(np.int64)
        # Each value to the lowest one its HDR bucket holds: the same histogram, recorded
        # as a few thousand (value, count) pairs instead of one call per distinct value.
        shift = np.maximum(np.floor(np.log2(micros)).astype(np.int64) - _HALF_SUB_BUCKET_BITS, 0)
        micros = (micros >> shift) << shift
        unique, counts = np.unique(micros, return_counts=True)
        for value, count in zip(unique.tolist(), counts.tolist(), strict=True):
            self._h.record_value(value, count)

    @property
    def count(self) -> int:
        """How many durations were recorded."""
        return int(self._h.get_total_count())

    def percentile_s(self, percentile: float) -> float:
        """The duration at ``percentile`` (0-100); NaN if empty."""
        if not self.count:
            return float("nan")
        return float(self._h.get_value_at_percentile(percentile)) / 1e6

    def percentiles_s(self, percentiles: Iterable[float]) -> dict[float, float]:
        """Several percentiles at once."""
        return {p: self.percentile_s(p) for p in percentiles}

    @property
    def max_s(self) -> float:
        """The largest duration recorded; NaN if empty."""
        return float(self._h.get_max_value()) / 1e6 if self.count else float("nan")

    @property
    def mean_s(self) -> float:
        """The mean duration; NaN if empty."""
        return float(self._h.get_mean_value()) / 1e6 if self.count else float("nan")

    def add(self, other: DurationHistogram) -> None:
        """Merge ``other`` into this one."""
        self._h.add(other._h)

    def encode(self) -> str:
        """The compressed base64 form (HdrHistogram's standard encoding)."""
        encoded: bytes = self._h.encode()
        return encoded.decode("ascii")

    @classmethod
    def decode(cls, encoded: str) -> DurationHistogram:
        """A histogram back from ``encode()``."""
        return cls(HdrHistogram.decode(encoded.encode("ascii")))

    def __reduce__(self) -> tuple[object, tuple[str]]:
        """Pickle through the standard encoding (the ctypes counts do not pickle)."""
        return DurationHistogram.decode, (self.encode(),)

    @classmethod
    def merged(cls, parts: Sequence[DurationHistogram]) -> DurationHistogram:
        """A new histogram holding all of ``parts``."""
        total = cls()
        for part in parts:
            total.add(part)
        return total


def _to_us(seconds: float) -> int:
    return min(max(round(seconds * 1e6), LOWEST_US), HIGHEST_US)
