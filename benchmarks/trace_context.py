"""W3C trace context for load requests: each one starts a fresh trace, sampled.

The generator is the client: a request's ``traceparent`` names a new trace and, as its
parent, a span of the client's that is never exported (the target's request span is the
trace's first recorded span). Ids come from a generator seeded from the OS, not from the
workload's seed: runs of one seeded schedule must not share traces in a receiver.
"""

from __future__ import annotations

import os
import random


HEADER = "traceparent"
_SAMPLED = "01"


class TraceIds:
    """Fresh trace and parent span ids (never zero, which W3C reserves for "none")."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng or random.Random(os.urandom(16))  # noqa: S311 - ids, not secrets

    def draw(self) -> tuple[int, int, int]:
        """A trace id as two 64-bit halves, and a parent span id."""
        bits = self._rng.getrandbits
        high, low, parent = bits(64), bits(64), bits(64)
        return high, low or 1, parent or 1


def traceparent(high: int, low: int, parent: int) -> str:
    """The header value of a sampled trace (version 00)."""
    return f"00-{high:016x}{low:016x}-{parent:016x}-{_SAMPLED}"
