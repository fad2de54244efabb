"""Goodput: the requests that did the user good (OK, not degraded, within ``slo_ms``).

Counted as a share of every request in scope (pending and failed ones included) and/or as a
rate over the window's length; when both bounds are set both must hold, and the result
reports the first that fails (or the share when both hold).
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, model_validator

from benchmarks.op import Outcome
from scenarios.stored_run import StoredRun

from .base import Verdict, at_least
from .selection import Windowed
from .wording import amount, count


class GoodputCheck(Windowed):
    """Good requests are at least ``min_share`` of all and/or ``min_rps`` per second."""

    kind: Literal["goodput"] = "goodput"
    slo_ms: float = Field(gt=0)
    min_share: float | None = Field(None, ge=0, le=1)
    min_rps: float | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _some_bound(self) -> Self:
        if self.min_share is None and self.min_rps is None:
            raise ValueError("goodput needs min_share, min_rps or both")
        return self

    def verdict(self, run: StoredRun) -> Verdict:
        """The good share (or rate) in scope."""
        selection = self.select(run)
        ops = run.table.ops
        good = (
            selection.mask
            & (ops["outcome"] == Outcome.OK)
            & ~ops["degraded"]
            & (run.table.latency_s * 1000 <= self.slo_ms)
        )
        good_count = int(good.sum())
        what = (
            f"goodput (OK, not degraded, <= {amount(self.slo_ms, 'ms')}) of "
            f"{count(selection.count, 'request')} ({selection.scope})"
        )
        verdicts: list[Verdict] = []
        if self.min_share is not None:
            share = good_count / selection.count
            verdicts.append(at_least(what, share, self.min_share, "fraction"))
        if self.min_rps is not None:
            rate = good_count / selection.span_s
            rate_what = f"{good_count:,} good over {amount(selection.span_s, 's')}"
            if self.min_share is None:
                rate_what = f"{what}: {rate_what}"
            verdicts.append(at_least(rate_what, rate, self.min_rps, "rps"))
        headline = next((v for v in verdicts if not v.valid), verdicts[0])
        details = "; ".join(v.details for v in verdicts)
        return Verdict(
            all(v.valid for v in verdicts),
            headline.observed,
            headline.limit,
            headline.unit,
            details,
        )
