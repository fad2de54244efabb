"""``reset_peer``: connections are reset (TCP RST), as by a crashing peer or a middlebox."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from .toxic import ToxicFault


class ResetPeerFault(ToxicFault):
    """Reset a connection ``timeout_ms`` after data next flows on it (0: at once)."""

    kind: Literal["reset_peer"] = "reset_peer"
    timeout_ms: int = Field(default=0, ge=0)

    toxic_type: ClassVar[str] = "reset_peer"

    def attributes(self) -> dict[str, int]:
        """Toxiproxy's ``timeout`` in ms."""
        return {"timeout": self.timeout_ms}
