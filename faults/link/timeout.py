"""``timeout``: data stops; the connection is closed after a while, or never (a black hole)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from .toxic import ToxicFault


class TimeoutFault(ToxicFault):
    """Stop all data and close the connection after ``timeout_ms``.

    With ``timeout_ms`` 0 the connection stays open and silent until the fault heals: a black
    hole, the way a dead host or a dropped route looks to a client.
    """

    kind: Literal["timeout"] = "timeout"
    timeout_ms: int = Field(default=0, ge=0)

    toxic_type: ClassVar[str] = "timeout"

    def attributes(self) -> dict[str, int]:
        """Toxiproxy's ``timeout`` in ms."""
        return {"timeout": self.timeout_ms}
