"""What a request passes before its handler runs, in this order: a body encoding the gateway
decodes (else a JSON 415), a known tenant on ``/v1/`` (else a 401), and the whole body within
the body deadline (else a 408, the connection closed).

One middleware runs the three checks: as three, each would be one more layer that every
request's handler runs inside, and whose frame every resumption of the handler passes through.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from .auth import tenant_refusal
from .body_deadline import body_pending, late_body
from .errors import encoding_refusal


def admission(body_timeout_s: float) -> Middleware:
    """The middleware that admits a request, or answers the first check it fails."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        refusal: web.StreamResponse | None = encoding_refusal(request) or tenant_refusal(request)
        if refusal is None and body_pending(request):
            refusal = await late_body(request, body_timeout_s)
        return refusal if refusal is not None else await handler(request)

    return middleware
