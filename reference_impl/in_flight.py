"""Requests in flight per route, and when the request being served arrived.

The middleware runs first, as soon as a request's headers are in: it counts the request in
its route's gauge until the handler returns its response (a stream has then sent its last
event) and sets ``ARRIVED``, which the request's tasks inherit (a coalesced flight's task
too, from the request that leads it), so the time to first token is counted from the
request's arrival.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from contextvars import ContextVar

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from .metrics import Value


ARRIVED: ContextVar[float] = ContextVar("arrived")
"""``time.perf_counter()`` when the request being served arrived."""


def in_flight(gauges: Mapping[str, Value]) -> Middleware:
    """A middleware counting the requests of each path of ``gauges`` in its gauge's value."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        ARRIVED.set(time.perf_counter())
        gauge = gauges.get(request.path)
        if gauge is None:
            return await handler(request)
        gauge.inc(1)
        try:
            return await handler(request)
        finally:
            gauge.inc(-1)

    return middleware
