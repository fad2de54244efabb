"""The generator's file-descriptor budget: one connection per outstanding request needs many.

An open-loop client facing a stalled target opens a connection for every request it cannot
put on a busy one; past the process's open-files limit, connects fail with EMFILE and the
generator would blame the target. So the soft limit is raised to the hard one, and the
connection pool is capped below it: beyond the cap, requests wait for a connection (and that
wait counts as latency, since latency runs from the intended send time).
"""

from __future__ import annotations

import errno
import resource


RESERVED_FDS = 256
"""Kept for everything else: the event loop, logs, history files, child pipes."""

CLIENT_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.EADDRNOTAVAIL})
"""Errors of the generator's own machine (out of descriptors or ephemeral ports)."""


def raise_open_files_limit() -> int:
    """Raise the soft open-files limit to the hard one; return the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError):
            pass  # keep the current limit; the cap below follows it
    return soft


def connection_cap(requested: int | None) -> int:
    """``requested`` if given, else as many connections as the open-files limit allows."""
    if requested is not None:
        return requested
    return max(raise_open_files_limit() - RESERVED_FDS, 1)
