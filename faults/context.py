"""What a fault acts on: the target's Toxiproxy, provider control API and server processes.

A component is None (or absent from ``processes``) when the target does not have it, e.g. a
foreign gateway has no simulated provider, and an existing Redis (``REDIS_URL``) is never
signalled; a fault that needs it raises ``MissingComponentError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

from stack.process import ProcessControl
from stack.provider_control import ProviderControl
from stack.toxiproxy import ToxiproxyClient

from .errors import MissingComponentError


if TYPE_CHECKING:
    from stack.stack import Stack


CONTROLLABLE_SERVICES = ("redis", "postgres")


@dataclass(frozen=True)
class FaultContext:
    """The components faults act on; each may be missing."""

    toxiproxy: ToxiproxyClient | None = None
    provider: ProviderControl | None = None
    processes: Mapping[str, ProcessControl] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def of_stack(cls, stack: Stack) -> FaultContext:
        """Everything of a running stack; servers it did not start are left out."""
        processes = {
            name: stack.process_control(name)
            for name in CONTROLLABLE_SERVICES
            if stack.controls(name)
        }
        return cls(
            toxiproxy=stack.toxiproxy,
            provider=stack.provider,
            processes=MappingProxyType(processes),
        )

    def need_toxiproxy(self, kind: str) -> ToxiproxyClient:
        """Toxiproxy, or ``MissingComponentError`` naming the fault ``kind``."""
        if self.toxiproxy is None:
            raise MissingComponentError(kind, "Toxiproxy")
        return self.toxiproxy

    def need_provider(self, kind: str) -> ProviderControl:
        """The simulated provider's control API, or ``MissingComponentError``."""
        if self.provider is None:
            raise MissingComponentError(kind, "the simulated provider's control API")
        return self.provider

    def need_process(self, kind: str, service: str) -> ProcessControl:
        """The process of ``service``, or ``MissingComponentError``."""
        process = self.processes.get(service)
        if process is None:
            raise MissingComponentError(kind, f"the stack's {service} process")
        return process
