"""A load plan (what to send where, for how long, from how many processes) and its result."""

from __future__ import annotations

import math
from dataclasses import dataclass

from .endpoints import endpoint
from .hdr import DurationHistogram
from .op import ErrorKind, OpTable, Outcome
from .target import Target
from .workload import Workload


SHORTFALL_TOLERANCE = 0.05
"""The run fails if the requests sent within the duration fall short of the schedule by more."""


@dataclass(frozen=True)
class LoadPlan:
    """What to send where, for how long, from how many processes."""

    workload: Workload
    duration_s: float
    target: Target
    processes: int = 1

    def __post_init__(self) -> None:
        if not (math.isfinite(self.duration_s) and self.duration_s > 0):
            raise ValueError(f"duration_s must be positive and finite, got {self.duration_s}")
        if self.processes < 1:
            raise ValueError(f"processes must be at least 1, got {self.processes}")
        for share in self.workload.endpoints:
            endpoint(share.name)  # an unknown name fails here, not in a generator process


@dataclass(frozen=True, eq=False)
class LoadResult:
    """Every request of a run as measured, and the stream gaps, with the plan and start time."""

    plan: LoadPlan
    table: OpTable
    itl: DurationHistogram
    started_at: float
    """Wall-clock time (Unix seconds) of the run's time zero."""

    def shortfall(self) -> str | None:
        """Why the generator failed its schedule, or None if it kept it.

        It fails when it sent too little within the duration, when some requests never
        finished, or when it could not make some requests itself (``ErrorKind.CLIENT``,
        ``ErrorKind.INTERNAL``): figures that would otherwise blame the target.
        """
        ops = self.table.ops
        duration = self.plan.duration_s
        scheduled = len(ops)
        error = ops["error"]
        problems = {
            "could not make {n:,} requests for want of file descriptors or local ports "
            "(lower the rate or raise `ulimit -n`)": int((error == ErrorKind.CLIENT).sum()),
            "failed {n:,} requests by a bug of its own (see the log)": int(
                (error == ErrorKind.INTERNAL).sum()
            ),
            "never finished {n:,} requests": int((ops["outcome"] == Outcome.PENDING).sum()),
        }
        for message, n in problems.items():
            if n:
                return "the load generator " + message.format(n=n)
        sent_in_time = int((ops["sent_s"] <= duration).sum())
        if not scheduled or sent_in_time >= (1 - SHORTFALL_TOLERANCE) * scheduled:
            return None
        return (
            f"the load generator fell behind: it sent {sent_in_time:,} of {scheduled:,} scheduled "
            f"requests within {duration:g} s ({sent_in_time / duration:,.0f} of "
            f"{scheduled / duration:,.0f} requests/s). Use more --processes or a lower rate."
        )
