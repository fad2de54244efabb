"""``freeze``: the server is suspended (SIGSTOP), like a VM pause or a long GC pause."""

from __future__ import annotations

from typing import Literal

from ..context import FaultContext
from ..errors import acting
from .base import ProcessFault


class FreezeFault(ProcessFault):
    """Suspend the server: its connections stay open but nothing answers (clients see
    timeouts, not errors); heal resumes it (SIGCONT) with its state intact."""

    kind: Literal["freeze"] = "freeze"

    def inject(self, ctx: FaultContext) -> None:
        """SIGSTOP."""
        process = self.process(ctx)
        with acting(self.kind, "injecting"):
            process.freeze()

    def heal(self, ctx: FaultContext) -> None:
        """SIGCONT."""
        process = self.process(ctx)
        with acting(self.kind, "healing"):
            process.thaw()
