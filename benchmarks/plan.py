"""A load plan (what to send where, for how long, from how many processes) and its result."""

from __future__ import annotations

from dataclasses import dataclass

from .endpoints import endpoint
from .hdr import DurationHistogram
from .op import ErrorKind, OpTable
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
        """Why the generator failed its schedule, or None if it kept it.

        It fails when it sent too little within the duration, or when its own machine
        could not make some requests (``ErrorKind.CLIENT``).
        """
        duration = self.plan.duration_s
        scheduled = len(self.table)
        client_errors = int((self.table.ops["error"] == ErrorKind.CLIENT).sum())
        if client_errors:
            return (
                f"the load generator could not make {client_errors:,} requests for want of "
                "file descriptors or local ports; lower --rate, raise `ulimit -n`, or "
                "set Target.max_connections"
            )
        sent_in_time = int((self.table.ops["sent_s"] <= duration).sum())
        if not scheduled or sent_in_time >= (1 - SHORTFALL_TOLERANCE) * scheduled:
            return None
        return (
            f"the load generator fell behind: it sent {sent_in_time:,} of {scheduled:,} scheduled "
            f"requests within {duration:g} s ({sent_in_time / duration:,.0f} of "
            f"{scheduled / duration:,.0f} requests/s). Use more --processes or a lower rate."
        )
