"""What every service of the stack looks like to the orchestrator."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class ServiceInfo:
    """A running service as recorded in ``stack.json`` and in reports."""

    name: str
    url: str
    source: str
    version: str
    pid: int | None = None
    code_path: str | None = None
    """Where the service's code was imported from (meltproof's own Python services)."""


class Service(Protocol):
    """A service is launched, then waited for, then stopped; stop is safe at any point."""

    name: str

    def launch(self) -> None:
        """Start the service without waiting for it to be ready."""

    def wait_ready(self, deadline: float) -> ServiceInfo:
        """Block until the service answers (or fail with StackStartError past ``deadline``)."""

    def stop(self) -> None:
        """Stop what ``launch`` started; a no-op if it never started."""
