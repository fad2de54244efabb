"""``bandwidth``: the link carries at most so many kilobytes per second."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from .toxic import ToxicFault


class BandwidthFault(ToxicFault):
    """Limit each connection to ``rate_kbps`` kilobytes (1000 bytes) per second.

    The unit is Toxiproxy's ``rate`` (KB/s), kilobytes, not kilobits.
    """

    kind: Literal["bandwidth"] = "bandwidth"
    rate_kbps: int = Field(gt=0)

    toxic_type: ClassVar[str] = "bandwidth"

    def attributes(self) -> dict[str, int]:
        """Toxiproxy's ``rate`` in KB/s."""
        return {"rate": self.rate_kbps}
