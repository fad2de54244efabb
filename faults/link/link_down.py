"""``link_down``: the proxy is disabled; it drops every connection and refuses new ones."""

from __future__ import annotations

from typing import Literal

from ..context import FaultContext
from ..errors import acting
from ..model import FaultModel
from .toxic import Link


class LinkDownFault(FaultModel):
    """Disable the link's proxy; heal enables it again (its toxics stay in place)."""

    kind: Literal["link_down"] = "link_down"
    link: Link

    @property
    def target(self) -> str:
        """The link."""
        return self.link

    @property
    def slot(self) -> tuple[str, ...]:
        """Whether the link is enabled."""
        return ("link", self.link, "enabled")

    def inject(self, ctx: FaultContext) -> None:
        """Disable the proxy."""
        client = ctx.need_toxiproxy(self.kind)
        with acting(self.kind, "injecting"):
            client.set_enabled(self.link, False)

    def heal(self, ctx: FaultContext) -> None:
        """Enable the proxy."""
        client = ctx.need_toxiproxy(self.kind)
        with acting(self.kind, "healing"):
            client.set_enabled(self.link, True)
