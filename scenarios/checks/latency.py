"""Latency checks: a percentile under a bound, and every request answered in time.

Latency runs from the intended send time to the end (no coordinated omission), over the
requests that ended: answered ones and those the client gave up on (at the time it gave up,
a lower bound), so that timeouts raise the tail instead of vanishing from it.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from benchmarks.op import Outcome
from benchmarks.percentile import nearest_rank
from scenarios.stored_run import StoredRun

from .base import UndecidableError, Verdict, at_most
from .selection import Windowed, target_ended
from .wording import amount, count


SHOWN_ROWS = 5
"""How many violating rows ``all_answered`` names."""


class LatencyCheck(Windowed):
    """The latency ``percentile`` of the requests in scope is at most ``max_ms``."""

    kind: Literal["latency"] = "latency"
    percentile: float = Field(gt=0, lt=100)
    max_ms: float = Field(gt=0)
    only_ok: bool = False
    """Only successful requests (by default every request that ended counts)."""

    def verdict(self, run: StoredRun) -> Verdict:
        """The nearest-rank percentile of latency in scope, in ms."""
        selection = self.select(run)
        ops = run.table.ops
        population = selection.mask & target_ended(ops)
        if self.only_ok:
            population &= ops["outcome"] == Outcome.OK
        latency_s = run.table.latency_s[population]
        latency_s = latency_s[~np.isnan(latency_s)]
        noun = "OK request" if self.only_ok else "ended request"
        if not len(latency_s):
            raise UndecidableError(f"no {noun}s in scope ({selection.scope})")
        observed_ms = nearest_rank(latency_s, self.percentile) * 1000
        what = f"p{self.percentile:g} of {count(len(latency_s), noun)} ({selection.scope})"
        return at_most(what, observed_ms, self.max_ms, "ms")


class AllAnsweredCheck(Windowed):
    """Every request in scope was answered (none pending or given up) within ``deadline_s``."""

    kind: Literal["all_answered"] = "all_answered"
    deadline_s: float = Field(gt=0)

    def verdict(self, run: StoredRun) -> Verdict:
        """The number of requests unanswered or answered later than the deadline."""
        selection = self.select(run)
        ops = run.table.ops
        pending = selection.mask & (ops["outcome"] == Outcome.PENDING)
        given_up = selection.mask & (ops["outcome"] == Outcome.INFO)
        late = selection.mask & ~pending & ~given_up & (run.table.latency_s > self.deadline_s)
        violators = pending | given_up | late
        observed = int(violators.sum())
        details = (
            f"{observed:,} of {count(selection.count, 'request')} ({selection.scope}) "
            f"unanswered or later than {amount(self.deadline_s, 's')}"
        )
        if observed:
            rows = ", ".join(str(r) for r in ops["row"][violators][:SHOWN_ROWS].tolist())
            more = ", ..." if observed > SHOWN_ROWS else ""
            details += (
                f": {int(pending.sum()):,} pending, {int(given_up.sum()):,} given up, "
                f"{int(late.sum()):,} late (rows {rows}{more})"
            )
        return Verdict(observed == 0, observed, 0, "count", details)
