"""``kill_restart``: the server crashes (SIGKILL) and is started again when the fault heals: a
process of the stack is spawned again, a container is started again (same port, same file
system)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..context import FaultContext
from ..errors import acting
from .base import ProcessFault


class KillRestartFault(ProcessFault):
    """Kill the server; heal starts it again on the same port and waits until it answers
    (up to ``restart_timeout_s``).

    Redis runs without persistence, so it comes back empty: losing the cache, the limiter
    counters and the budgets is the fault. PostgreSQL comes back with its data after crash
    recovery (commits of the last fraction of a second may be lost: the test bed runs with
    ``synchronous_commit`` off). Every client connection breaks in both cases.
    """

    kind: Literal["kill_restart"] = "kill_restart"
    restart_timeout_s: float = Field(default=30.0, gt=0.0, allow_inf_nan=False)

    def inject(self, ctx: FaultContext) -> None:
        """SIGKILL (every process of a container), and wait until the server is gone."""
        process = self.process(ctx)
        with acting(self.kind, "injecting"):
            process.kill()

    def heal(self, ctx: FaultContext) -> None:
        """Start the server again and wait until it answers."""
        process = self.process(ctx)
        with acting(self.kind, "healing"):
            process.start(self.restart_timeout_s)
