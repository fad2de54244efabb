"""``stream_truncation``: the connection is cut in the middle of a response."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from .base import ProviderFault


class StreamTruncationFault(ProviderFault):
    """With ``probability``, cut the connection after ``truncate_after_tokens`` tokens of a
    response (no final event, no usage). Ramps the probability up from 0."""

    kind: Literal["stream_truncation"] = "stream_truncation"
    truncate_after_tokens: int = Field(ge=0)
    probability: float = Field(default=1.0, ge=0.0, le=1.0)

    ramp_field: ClassVar[str | None] = "probability"
    ramp_from: ClassVar[float] = 0.0

    def spec(self) -> dict[str, Any]:
        """Where and how often a response is cut."""
        return {
            "truncate_after_tokens": self.truncate_after_tokens,
            "truncate_probability": self.probability,
        }
