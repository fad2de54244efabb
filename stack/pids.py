"""Whether a process runs, by its pid: how one meltproof process learns that another still runs."""

from __future__ import annotations

import os


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists: another user's counts, and so does a zombie not yet
    reaped (``stack.process`` tells those apart for its own children)."""
    if pid <= 0:
        return False  # 0 and below name process groups, not a process
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:
        return True  # another user's process
    return True
