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
"""Kept for everything else (event loop, logs, files, pipes); a quarter on small limits."""

CLIENT_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.EADDRNOTAVAIL})
"""Errors of the generator's own machine (out of descriptors or ephemeral ports)."""


_UNLIMITED_TRIES = (1 << 20, 10_240)
"""Soft limits to try when the hard one is unlimited (macOS refuses above OPEN_MAX, 10240)."""


def raise_open_files_limit() -> int:
    """Raise this process's soft open-files limit as far as allowed; return it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    tries = _UNLIMITED_TRIES if hard == resource.RLIM_INFINITY else (hard,)
    for wanted in tries:
        if wanted <= soft:
            break
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        except (ValueError, OSError):
            continue  # not allowed: try a lower one, or keep the current limit
        return wanted
    return soft


def connection_cap(requested: int | None) -> int:
    """``requested`` if given, else as many connections as the open-files limit allows.

    Without a request this raises the process's soft open-files limit (see above).
    """
    if requested is not None:
        return requested
    limit = raise_open_files_limit()
    return max(limit - min(RESERVED_FDS, limit // 4), 1)
