"""The base of the Toxiproxy toxic faults, and how toxics meet pooled connections.

A toxic fault adds one toxic, named ``meltproof-<kind>-<stream>``, to a link's proxy and heals
by removing it. Injecting replaces a toxic of the same name (the later fault wins; a ramp step
is such a replacement), and healing one that is gone is not an error.

Toxiproxy and connections, as measured against Toxiproxy 2.12 (and checked by
``tests/integration/test_faults_toxiproxy.py``):

- A toxic acts on connections opened before it was added: a 100 ms latency toxic added while
  20 Redis connections were open delayed every PING on each of them. Pooled connections do not
  escape a toxic, so no fault needs to be injected before pools connect, and none recycles them.
- ``toxicity`` is drawn once per connection (per toxic), not per request: with toxicity 0.5 on
  30 open connections, each connection saw the latency on all of its PINGs or on none (11 of
  30), and new connections drew the same way. Every connection of the link draws again
  whenever a toxic is added to or removed from the same direction (Toxiproxy rebuilds the
  chain), hence at each ramp step too.

So ``toxicity`` is the share of *connections* that suffer the toxic. A client with a pool of k
long-lived connections sees a coarse share of its requests affected (a multiple of 1/k) that
holds for the whole fault window. Forcing reconnections would not help: new connections draw
exactly like old ones, and the disconnect would be a fault of its own (``link_down``,
``reset_peer``). For a share of *requests*, use ``provider_errors`` on the provider, or
toxicity 1 over a shorter window.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import ClassVar, Literal

from pydantic import Field

from stack.errors import ToxiproxyError
from stack.toxiproxy import Toxic, ToxiproxyClient

from ..context import FaultContext
from ..errors import acting
from ..model import FaultModel


Link = Literal["postgres", "redis", "provider"]
"""The stack's links (``stack.links``)."""
Stream = Literal["downstream", "upstream"]
"""downstream: from the server to the client; upstream: from the client to the server."""

_NOT_FOUND = 404


class ToxicFault(FaultModel):
    """A Toxiproxy toxic on one direction of a link, on a share of its connections."""

    link: Link
    stream: Stream = "downstream"
    toxicity: float = Field(default=1.0, ge=0.0, le=1.0)
    """The share of connections that suffer the toxic (drawn per connection)."""

    toxic_type: ClassVar[str]
    """Toxiproxy's name of the toxic type."""

    @abstractmethod
    def attributes(self) -> dict[str, int]:
        """The toxic's attributes, in Toxiproxy's names and units."""

    @property
    def toxic_name(self) -> str:
        """The toxic's name on the proxy."""
        return f"meltproof-{self.kind}-{self.stream}"

    @property
    def target(self) -> str:
        """The link."""
        return self.link

    @property
    def slot(self) -> tuple[str, ...]:
        """One toxic name on one link."""
        return ("link", self.link, self.toxic_name)

    def inject(self, ctx: FaultContext) -> None:
        """Add the toxic, replacing one of the same name."""
        client = ctx.need_toxiproxy(self.kind)
        toxic = Toxic(
            self.toxic_name,
            self.toxic_type,
            stream=self.stream,
            toxicity=self.toxicity,
            attributes=self.attributes(),
        )
        with acting(self.kind, "injecting"):
            _remove(client, self.link, self.toxic_name)
            client.add_toxic(self.link, toxic)

    def heal(self, ctx: FaultContext) -> None:
        """Remove the toxic."""
        client = ctx.need_toxiproxy(self.kind)
        with acting(self.kind, "healing"):
            _remove(client, self.link, self.toxic_name)


def _remove(client: ToxiproxyClient, link: str, name: str) -> None:
    """Remove a toxic; one that is not there is fine."""
    try:
        client.remove_toxic(link, name)
    except ToxiproxyError as exc:
        if exc.status != _NOT_FOUND:
            raise
