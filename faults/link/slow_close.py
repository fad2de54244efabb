"""``slow_close``: closing a connection takes a while."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from .toxic import ToxicFault


class SlowCloseFault(ToxicFault):
    """Delay the close of each connection by ``delay_ms``; ramps from 0 ms."""

    kind: Literal["slow_close"] = "slow_close"
    delay_ms: int = Field(gt=0)

    toxic_type: ClassVar[str] = "slow_close"
    ramp_field: ClassVar[str | None] = "delay_ms"
    ramp_from: ClassVar[float] = 0.0

    def attributes(self) -> dict[str, int]:
        """Toxiproxy's ``delay`` in ms."""
        return {"delay": self.delay_ms}
