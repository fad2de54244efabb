"""``brownout``: the provider answers, only slower."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from .base import ProviderFault


class BrownoutFault(ProviderFault):
    """Multiply every time to first token and every token gap by ``latency_multiplier``;
    ramps from 1 (no slowdown)."""

    kind: Literal["brownout"] = "brownout"
    latency_multiplier: float = Field(ge=1.0, allow_inf_nan=False)

    ramp_field: ClassVar[str | None] = "latency_multiplier"
    ramp_from: ClassVar[float] = 1.0

    def spec(self) -> dict[str, Any]:
        """The latency multiplier."""
        return {"latency_multiplier": self.latency_multiplier}
