"""Error and degradation rates over the requests in scope.

An error is a request that failed (``FAIL``) or that the client gave up on (``INFO``): either
way the user saw no answer. Rates are over the requests that ended.

Degraded answers are those the target flagged (``x-degraded: true`` or ``"degraded": true``),
signals of meltproof's gateway. Another target that flagged no answer in the whole run does not
report degradation, and the degraded rate is ``not_applicable`` to it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from benchmarks.op import Outcome
from scenarios.stored_run import StoredRun

from .base import NotApplicableError, UndecidableError, Verdict, at_most
from .selection import Windowed, ok_answers, target_ended
from .wording import count


class ErrorRateCheck(Windowed):
    """The share of ended requests in scope that failed or were given up is at most ``max``."""

    kind: Literal["error_rate"] = "error_rate"
    max: float = Field(ge=0, le=1)

    def verdict(self, run: StoredRun) -> Verdict:
        """The error rate as a fraction."""
        selection = self.select(run)
        outcome = run.table.ops["outcome"]
        ended = selection.mask & target_ended(run.table.ops)
        total = int(ended.sum())
        if not total:
            raise UndecidableError(f"no ended requests in scope ({selection.scope})")
        failed = int((ended & (outcome == Outcome.FAIL)).sum())
        given_up = int((ended & (outcome == Outcome.INFO)).sum())
        verdict = at_most(
            f"error rate of {count(total, 'ended request')} ({selection.scope})",
            (failed + given_up) / total,
            self.max,
            "fraction",
        )
        details = f"{verdict.details} ({failed:,} failed, {given_up:,} given up)"
        return Verdict(verdict.valid, verdict.observed, verdict.limit, verdict.unit, details)


class DegradedRateCheck(Windowed):
    """The share of OK answers in scope flagged degraded is at most ``max``."""

    kind: Literal["degraded_rate"] = "degraded_rate"
    max: float = Field(ge=0, le=1)

    def verdict(self, run: StoredRun) -> Verdict:
        """The degraded share of OK answers as a fraction."""
        if not reports_degraded(run):
            raise NotApplicableError(
                f"the target ({run.target_kind}) flagged no answer degraded: x-degraded is a "
                "header of meltproof's gateway, which this target does not send"
            )
        selection = self.select(run)
        ops = run.table.ops
        ok = ok_answers(selection, ops)
        total = int(ok.sum())
        degraded = int((ok & ops["degraded"]).sum())
        return at_most(
            f"degraded share of {count(total, 'OK answer')} ({selection.scope})",
            degraded / total,
            self.max,
            "fraction",
        )


def reports_degraded(run: StoredRun) -> bool:
    """Whether the target flags degraded answers: our gateway does; another target only if it
    flagged one in the run."""
    return run.target_kind == "gateway" or bool(run.table.ops["degraded"].any())
