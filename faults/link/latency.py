"""``latency``: every chunk of data on the link is held back."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from .toxic import ToxicFault


class LatencyFault(ToxicFault):
    """Delay data by ``latency_ms`` plus or minus up to ``jitter_ms``; ramps from 0 ms."""

    kind: Literal["latency"] = "latency"
    latency_ms: int = Field(gt=0)
    jitter_ms: int = Field(default=0, ge=0)

    toxic_type: ClassVar[str] = "latency"
    ramp_field: ClassVar[str | None] = "latency_ms"
    ramp_from: ClassVar[float] = 0.0

    def attributes(self) -> dict[str, int]:
        """Toxiproxy's ``latency`` and ``jitter``, in ms."""
        return {"latency": self.latency_ms, "jitter": self.jitter_ms}
