"""A stack that another meltproof process runs, found through its run directory.

``meltproof up`` writes ``stack.json`` into its run directory; a run whose target is a gateway
running elsewhere, pointed at that stack's links, reaches the stack's Toxiproxy and simulated
provider through the endpoints recorded there. The processes themselves belong to ``up``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .errors import StackError
from .pids import pid_alive
from .provider_control import ProviderControl
from .stack import Endpoints
from .toxiproxy import ToxiproxyClient


@dataclass(frozen=True)
class AttachedStack:
    """The endpoints of a running stack, read from its ``stack.json``."""

    run_dir: Path
    endpoints: Endpoints

    @classmethod
    def open(cls, run_dir: Path) -> AttachedStack:
        """Read ``run_dir/stack.json``; ``StackError`` unless its ``up`` still runs."""
        path = run_dir / "stack.json"
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            endpoints = Endpoints(**document["endpoints"])
            pid = int(document["harness_pid"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise StackError(
                f"{path} is not the record of a running stack ({exc}); give the run dir that "
                "meltproof up printed"
            ) from exc
        if not pid_alive(pid):
            raise StackError(
                f"the stack of {run_dir} is not running (its meltproof up, pid {pid}, is gone)"
            )
        return cls(run_dir, endpoints)

    @property
    def toxiproxy(self) -> ToxiproxyClient:
        """The stack's Toxiproxy API."""
        return ToxiproxyClient(self.endpoints.toxiproxy)

    @property
    def provider(self) -> ProviderControl:
        """The simulated provider's control API."""
        return ProviderControl(self.endpoints.provider)
