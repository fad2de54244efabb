"""The cache hit rate that the target reports in its ``x-cache`` header.

Hits (and, by default, answers coalesced onto another request's upstream call) over the OK
answers in scope. A target that sends no ``x-cache`` header reports nothing to check.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from benchmarks.op import CacheStatus
from scenarios.stored_run import StoredRun

from .base import UndecidableError, Verdict, at_least
from .selection import Windowed, ok_answers
from .wording import count


class CacheHitRateCheck(Windowed):
    """The share of OK answers in scope served from the cache is at least ``min``."""

    kind: Literal["cache_hit_rate"] = "cache_hit_rate"
    min: float = Field(ge=0, le=1)
    count_coalesced: bool = True
    """Count answers coalesced onto another request's upstream call as hits."""

    def verdict(self, run: StoredRun) -> Verdict:
        """The hit rate as a fraction."""
        selection = self.select(run)
        ops = run.table.ops
        ok = ok_answers(selection, ops)
        total = int(ok.sum())
        cache = ops["cache"][ok]
        if not (cache != CacheStatus.NONE).any():
            raise UndecidableError(
                f"no OK answer in scope ({selection.scope}) carried an x-cache header: "
                "the target does not report its cache"
            )
        hits = cache == CacheStatus.HIT
        if self.count_coalesced:
            hits |= cache == CacheStatus.COALESCED
        what = "hits and coalesced" if self.count_coalesced else "hits"
        return at_least(
            f"cache {what} among {count(total, 'OK answer')} ({selection.scope})",
            int(hits.sum()) / total,
            self.min,
            "fraction",
        )
