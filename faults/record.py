"""``FaultRecord``: what one activation of a fault really did, for the fault log."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FaultRecord:
    """One activation of a fault: planned time, wall-clock start and end, and any error.

    ``started_at`` / ``ended_at`` are ``time.time()`` values taken once the injection (the
    heal) had returned; ``ended_at`` is None while the fault is active. ``error`` says why an
    injection or a heal failed: the timeline goes on, the caller decides what it means.
    """

    name: str
    kind: str
    target: str | None
    planned_at_s: float
    """Seconds from the load's time zero."""
    started_at: float
    ended_at: float | None = None
    error: str | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def to_window_dict(self, time_zero: float) -> dict[str, Any]:
        """The entry of the stored fault log (``scenarios.stored_run.FaultWindow``): times in
        seconds from ``time_zero``, the load's time zero."""
        return {
            "name": self.name,
            "kind": self.kind,
            "target": self.target,
            "planned_at_s": self.planned_at_s,
            "started_s": self.started_at - time_zero,
            "ended_s": None if self.ended_at is None else self.ended_at - time_zero,
            "error": self.error,
            "params": dict(self.params),
        }
