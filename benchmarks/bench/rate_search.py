"""The search for the highest rate that passes: a ladder up, then bisection.

Rates go up the ladder (``step_rps``, 2 x ``step_rps``, ...) until one fails or ``max_rps``
is reached; then the gap between the highest pass below the lowest failure and that failure
is halved until it is at most ``resolution_rps``. A pass above the lowest failure (noise) does
not count. Each rate is decided by a strict majority of its repetitions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class RateSearch:
    """Where the ladder starts and steps, where it stops, and how fine the bisection goes."""

    step_rps: int
    resolution_rps: int
    max_rps: int

    def __post_init__(self) -> None:
        if not 0 < self.resolution_rps <= self.step_rps <= self.max_rps:
            raise ValueError(
                "need 0 < resolution_rps <= step_rps <= max_rps, got"
                f" {self.resolution_rps}, {self.step_rps}, {self.max_rps}"
            )

    def next_rate(self, passed: Mapping[int, bool]) -> int | None:
        """The next rate to try given the verdicts so far, or None when the search is done."""
        lowest_fail = min((r for r, ok in passed.items() if not ok), default=None)
        if lowest_fail is None:
            following = max(passed, default=0) + self.step_rps
            return following if following <= self.max_rps else None
        best = capacity(passed)
        if lowest_fail - best <= self.resolution_rps:
            return None
        return best + (lowest_fail - best) // 2


def capacity(passed: Mapping[int, bool]) -> int:
    """The highest passing rate below the lowest failing one (0 if none passed)."""
    lowest_fail = min((r for r, ok in passed.items() if not ok), default=None)
    return max(
        (r for r, ok in passed.items() if ok and (lowest_fail is None or r < lowest_fail)),
        default=0,
    )


def majority(verdicts: Sequence[bool]) -> bool:
    """True when more than half of ``verdicts`` are True."""
    return 2 * sum(verdicts) > len(verdicts)
