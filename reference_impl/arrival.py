"""When the request being served arrived, for the work it starts.

``admission``'s middleware sets ``ARRIVED`` as a request comes in; the request's tasks inherit
it (a coalesced flight's task too, from the request that leads it), so the time to first
token is counted from the request's arrival.
"""

from __future__ import annotations

from contextvars import ContextVar


ARRIVED: ContextVar[float] = ContextVar("arrived")
"""``time.perf_counter()`` when the request being served arrived."""
