"""Streaming latency from the arrival times of content chunks.

- TTFT: from the intended send time to the first content chunk (corrected, like latency).
- TPOT: time per output token after the first, ``(last - first) / (tokens - 1)``, with
  ``tokens`` the completion tokens the provider's ``usage`` reports; a chunk may carry more
  than one token, so counting chunks would overstate it.
- ITL: every gap between consecutive content chunks, as the user sees them.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StreamTiming:
    """TTFT, TPOT, the inter-chunk gaps and the largest gap, in seconds (NaN if undefined)."""

    ttft_s: float
    tpot_s: float
    itl_s: tuple[float, ...]

    @property
    def itl_max_s(self) -> float:
        """The longest stall the user saw mid-stream."""
        return max(self.itl_s, default=math.nan)


def stream_timing(
    intended_s: float, token_times_s: Sequence[float], completion_tokens: int
) -> StreamTiming:
    """Timing of one stream whose content chunks arrived at ``token_times_s`` (ascending)."""
    if not token_times_s:
        return StreamTiming(math.nan, math.nan, ())
    first, last = token_times_s[0], token_times_s[-1]
    tpot = (last - first) / (completion_tokens - 1) if completion_tokens > 1 else math.nan
    gaps = tuple(b - a for a, b in itertools.pairwise(token_times_s))
    return StreamTiming(first - intended_s, tpot, gaps)
