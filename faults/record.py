"""The fault log: ``FaultRecord``, what one activation of a fault really did, and
``FaultWindow``, the same in seconds from the load's time zero, as a stored run keeps it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class FaultWindow:
    """When one fault really acted, in seconds from the load's time zero."""

    name: str
    kind: str
    target: str | None
    planned_at_s: float
    started_s: float
    ended_s: float | None
    """None when the fault was still active (never healed) at the end of the run."""
    error: str | None = None
    """Why injecting or healing failed, if it did."""
    params: Mapping[str, Any] = field(default_factory=dict)
    """The fault's own settings (its model's fields but ``kind``), as it was injected."""

    def end_or(self, horizon_s: float) -> float:
        """The end of the window, or ``horizon_s`` if the fault never healed."""
        return horizon_s if self.ended_s is None else self.ended_s

    def to_dict(self) -> dict[str, Any]:
        """The entry of the stored fault log."""
        return {**asdict(self), "params": dict(self.params)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FaultWindow:
        """From an entry of the stored fault log (one written before ``params`` was kept
        reads with none)."""
        ended = data.get("ended_s")
        return cls(
            name=str(data["name"]),
            kind=str(data["kind"]),
            target=data.get("target"),
            planned_at_s=float(data["planned_at_s"]),
            started_s=float(data["started_s"]),
            ended_s=None if ended is None else float(ended),
            error=data.get("error"),
            params=dict(data.get("params") or {}),
        )


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

    def window(self, time_zero: float) -> FaultWindow:
        """The record in seconds from ``time_zero``, the load's time zero."""
        return FaultWindow(
            name=self.name,
            kind=self.kind,
            target=self.target,
            planned_at_s=self.planned_at_s,
            started_s=self.started_at - time_zero,
            ended_s=None if self.ended_at is None else self.ended_at - time_zero,
            error=self.error,
            params=dict(self.params),
        )
