"""The gateway's one middleware: what every request passes around its handler.

In this order: its arrival time (``arrival.ARRIVED``) and its route's count of requests in
flight, until the handler returns its response (a stream has then sent its last event); a
body encoding the gateway decodes (else a JSON 415), a known tenant on ``/v1/`` (else a 401),
and the whole body within the body deadline (else a 408, the connection closed); then the
handler, whatever it raises answered as a JSON error (``errors.error_response``).

One middleware, not one per concern: each would be one more layer that every request's
handler runs inside, whose frame every resumption of the handler passes through.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from .arrival import ARRIVED
from .auth import tenant_refusal
from .body_deadline import body_pending, late_body
from .errors import encoding_refusal, error_response
from .metrics import Value


def admission(in_flight: Mapping[str, Value], body_timeout_s: float) -> Middleware:
    """The middleware counting each path of ``in_flight`` in its value, admitting a request
    or answering the first check it fails, and answering errors as JSON."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        ARRIVED.set(time.perf_counter())
        count = in_flight.get(request.path)
        if count is not None:
            count.inc(1)
        try:
            refusal: web.StreamResponse | None
            refusal = encoding_refusal(request) or tenant_refusal(request)
            if refusal is None and body_pending(request):
                refusal = await late_body(request, body_timeout_s)
            return refusal if refusal is not None else await handler(request)
        except Exception as exc:  # noqa: BLE001 - answered as JSON; error_response logs a failure
            return error_response(request, exc)
        finally:
            if count is not None:
                count.inc(-1)

    return middleware
