"""``limit_data``: a connection is closed once so many bytes have passed."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from .toxic import ToxicFault


class LimitDataFault(ToxicFault):
    """Close each connection after ``bytes`` bytes (counted from the injection on
    connections already open)."""

    kind: Literal["limit_data"] = "limit_data"
    bytes: int = Field(ge=0)

    toxic_type: ClassVar[str] = "limit_data"

    def attributes(self) -> dict[str, int]:
        """Toxiproxy's ``bytes``."""
        return {"bytes": self.bytes}
