"""Recovery time: how long after the last fault the service was healthy again.

From the last fault's end, requests are grouped into one-second buckets by intended send time.
A second is healthy when its latency percentile is at most ``max_ms`` and its error rate at
most ``max_error_rate``; the service has recovered at the start of the first ``stable_s``
healthy seconds in a row. Seconds without a request that ended are skipped: they neither
break nor extend a run of healthy seconds.

The verdict is ``unknown`` when there is nothing to recover from (no faults), when a fault
never healed, and when the load ended too soon after the last fault to tell whether the
service recovered within ``max_s``.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import numpy.typing as npt
from pydantic import Field

from benchmarks.op import Outcome
from benchmarks.percentile import nearest_rank_by_bucket
from scenarios.stored_run import StoredRun

from .base import UndecidableError, Verdict, at_most
from .selection import Scoped, scope_mask, target_ended
from .wording import amount


class RecoveryTimeCheck(Scoped):
    """The service is healthy again at most ``max_s`` seconds after the last fault ended."""

    kind: Literal["recovery_time"] = "recovery_time"
    max_s: float = Field(ge=0)
    max_ms: float = Field(gt=0)
    percentile: float = Field(95.0, gt=0, lt=100)
    max_error_rate: float = Field(0.01, ge=0, le=1)
    stable_s: int = Field(3, ge=1)

    def verdict(self, run: StoredRun) -> Verdict:
        """Seconds from the last fault's end to the start of a stable healthy stretch."""
        fault_end_s = _last_fault_end_s(run)
        left_s = run.duration_s - fault_end_s
        mask, labels = scope_mask(run.table, endpoint=self.endpoint, tenant=self.tenant)
        healthy = self._healthy_seconds(run, mask, fault_end_s, left_s)
        criteria = (
            f"p{self.percentile:g} <= {amount(self.max_ms, 'ms')} and errors <= "
            f"{amount(self.max_error_rate, 'fraction')} for {self.stable_s} s in a row, "
            f"{', '.join(labels) or 'all requests'}"
        )
        recovered_s = first_stable(healthy, self.stable_s)
        if recovered_s is not None:
            what = f"recovery after the last fault ended at {amount(fault_end_s, 's')} ({criteria})"
            return at_most(what, recovered_s, self.max_s, "s")
        if math.floor(left_s) < math.floor(self.max_s) + self.stable_s:
            raise UndecidableError(
                f"not recovered ({criteria}) in the {amount(left_s, 's')} left after the last "
                f"fault ended at {amount(fault_end_s, 's')}: too soon to tell whether it "
                f"recovers within {amount(self.max_s, 's')}"
            )
        details = (
            f"not recovered ({criteria}) in the {amount(left_s, 's')} left after the last fault "
            f"ended at {amount(fault_end_s, 's')} > {amount(self.max_s, 's')}"
        )
        return Verdict(False, left_s, self.max_s, "s", details)

    def _healthy_seconds(
        self, run: StoredRun, mask: npt.NDArray[np.bool_], fault_end_s: float, left_s: float
    ) -> npt.NDArray[np.int8]:
        """Per second after the fault: 1 healthy, 0 not, -1 without an ended request."""
        ops = run.table.ops
        offset_s = ops["intended_s"] - fault_end_s
        rows = mask & target_ended(ops) & (offset_s >= 0) & (offset_s < left_s)
        if not rows.any():
            raise UndecidableError("no request in scope ended after the last fault")
        seconds = math.ceil(left_s)
        bucket = np.floor(offset_s[rows]).astype(np.intp)
        sizes = np.bincount(bucket, minlength=seconds)
        outcome = ops["outcome"][rows]
        is_error = (outcome == Outcome.FAIL) | (outcome == Outcome.INFO)
        errors = np.bincount(bucket, weights=is_error, minlength=seconds)
        latency_ms = 1000 * nearest_rank_by_bucket(
            bucket, run.table.latency_s[rows], self.percentile, seconds
        )
        healthy = (latency_ms <= self.max_ms) & (errors <= self.max_error_rate * sizes)
        return np.where(sizes > 0, healthy.astype(np.int8), np.int8(-1)).astype(np.int8)


def _last_fault_end_s(run: StoredRun) -> float:
    if not run.faults:
        raise UndecidableError("the run had no faults, so there is nothing to recover from")
    never_healed = [f.name for f in run.faults if f.ended_s is None]
    if never_healed:
        raise UndecidableError(f"fault {', '.join(never_healed)} never healed")
    fault_end_s = max(f.end_or(run.duration_s) for f in run.faults)
    if fault_end_s >= run.duration_s:
        raise UndecidableError("the last fault ended with the load: no time was left to recover")
    return fault_end_s


def first_stable(healthy: npt.NDArray[np.int8], stable_s: int) -> int | None:
    """The first second that starts ``stable_s`` healthy seconds in a row (-1s skipped)."""
    start, length = 0, 0
    for second, state in enumerate(healthy.tolist()):
        if state < 0:
            continue
        if not state:
            length = 0
            continue
        if not length:
            start = second
        length += 1
        if length == stable_s:
            return start
    return None
