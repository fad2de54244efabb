"""Event counts over a sliding time window, shared by the circuit breaker and the retry budget."""

from __future__ import annotations

import math
import time
from collections.abc import Callable


class SlidingCount:
    """A count of events over the last ``window_s``, kept in ``buckets`` time buckets.

    The oldest bucket is partly elapsed, so the count covers more than
    ``window_s - window_s / buckets`` and at most ``window_s`` of history. Adding and
    reading cost O(1): each elapsed bucket is cleared once, at most ``buckets`` per call.
    """

    def __init__(
        self, *, window_s: float, buckets: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if not window_s > 0:
            raise ValueError(f"window_s must be positive, got {window_s!r}")
        if buckets < 1:
            raise ValueError(f"buckets must be at least 1, got {buckets!r}")
        self._clock = clock
        self._bucket_s = window_s / buckets
        self._counts = [0] * buckets
        self._total = 0
        self._head = self._bucket_index()

    def add(self, count: int = 1) -> int:
        """Count ``count`` events now; the events counted in the window, these included."""
        self._slide()
        self._counts[self._head % len(self._counts)] += count
        self._total += count
        return self._total

    def total(self) -> int:
        """The events counted in the window."""
        self._slide()
        return self._total

    def clear(self) -> None:
        """Forget every event."""
        self._counts = [0] * len(self._counts)
        self._total = 0

    def _bucket_index(self) -> int:
        return math.floor(self._clock() / self._bucket_s)

    def _slide(self) -> None:
        """Empty the buckets that the window has left since the last call."""
        now = self._bucket_index()
        if now <= self._head:  # still in the newest bucket (or a clock that went back)
            return
        for index in range(self._head + 1, min(now, self._head + len(self._counts)) + 1):
            slot = index % len(self._counts)
            self._total -= self._counts[slot]
            self._counts[slot] = 0
        self._head = now
