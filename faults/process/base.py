"""The base of the process faults: one server process of the stack, through ``ProcessControl``
(a process of the embedded backend, or a container of the container backend).

Only servers the stack started itself can be targeted; an existing server (``REDIS_URL``,
``DATABASE_URL``) is never signalled, and a fault on it fails with ``MissingComponentError``.
"""

from __future__ import annotations

from typing import Literal

from stack.process import ProcessControl

from ..context import FaultContext
from ..model import FaultModel


Service = Literal["redis", "postgres"]


class ProcessFault(FaultModel):
    """A fault on the process of one stack service."""

    service: Service

    @property
    def target(self) -> str:
        """The service."""
        return self.service

    @property
    def slot(self) -> tuple[str, ...]:
        """The process."""
        return ("process", self.service)

    def process(self, ctx: FaultContext) -> ProcessControl:
        """The service's process, or ``MissingComponentError``."""
        return ctx.need_process(self.kind, self.service)
