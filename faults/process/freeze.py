"""``freeze``: the server is suspended, like a VM pause or a long GC pause: SIGSTOP to a process
of the stack, ``docker pause`` (the cgroup freezer) of a container."""

from __future__ import annotations

from typing import Literal

from ..context import FaultContext
from ..errors import acting
from .base import ProcessFault


class FreezeFault(ProcessFault):
    """Suspend the server: its connections stay open but nothing answers (clients see
    timeouts, not errors); heal resumes it with its state intact."""

    kind: Literal["freeze"] = "freeze"

    def inject(self, ctx: FaultContext) -> None:
        """SIGSTOP, or pause the container."""
        process = self.process(ctx)
        with acting(self.kind, "injecting"):
            process.freeze()

    def heal(self, ctx: FaultContext) -> None:
        """SIGCONT, or unpause the container."""
        process = self.process(ctx)
        with acting(self.kind, "healing"):
            process.thaw()
