"""A load plan (what to send where, for how long, from how many processes) and its result."""

from __future__ import annotations

from dataclasses import dataclass

from .endpoints import endpoint
from .hdr import DurationHistogram
from .op import OpTable
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
        if self.duration_s <= 0:
            raise ValueError(f"duration_s must be positive, got {self.duration_s}")
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
        """Why the generator did not keep up with the schedule, or None if it did."""
        duration = self.plan.duration_s
        scheduled = len(self.table)
        if not scheduled:
            return None
        sent_in_time = int((self.table.ops["sent_s"] <= duration).sum())
        if sent_in_time >= (1 - SHORTFALL_TOLERANCE) * scheduled:
            return None
        return (
            f"the load generator fell behind: it sent {sent_in_time:,} of {scheduled:,} scheduled "
            f"requests within {duration:g} s ({sent_in_time / duration:,.0f} of "
            f"{scheduled / duration:,.0f} requests/s). Use more --processes or a lower rate."
        )
