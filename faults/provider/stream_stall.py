"""``stream_stall``: a response pauses in the middle, the connection open and silent."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from .base import ProviderFault


class StreamStallFault(ProviderFault):
    """With ``probability``, a response pauses ``stall_ms`` after ``stall_after_tokens``
    tokens (a stream between two events; a non-streamed answer before it is sent).
    Ramps the pause up from 0 ms."""

    kind: Literal["stream_stall"] = "stream_stall"
    stall_after_tokens: int = Field(ge=0)
    stall_ms: float = Field(gt=0.0, allow_inf_nan=False)
    probability: float = Field(default=1.0, ge=0.0, le=1.0)

    ramp_field: ClassVar[str | None] = "stall_ms"
    ramp_from: ClassVar[float] = 0.0

    def spec(self) -> dict[str, Any]:
        """Where, how long and how often a response stalls."""
        return {
            "stall_after_tokens": self.stall_after_tokens,
            "stall_ms": self.stall_ms,
            "stall_probability": self.probability,
        }
