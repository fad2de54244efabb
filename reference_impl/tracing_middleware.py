"""The request span: every ``/v1/`` request is traced from the outermost middleware.

``install_tracing(app, tracing)`` keeps ``tracing`` under ``TRACING``, puts the middleware
first (so it sees the status every other middleware settled on) only when tracing is on,
and closes ``tracing`` at cleanup, after everything the app opened later (cleanup runs in
reverse), so the last requests' spans are sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiohttp import web
from aiohttp.typedefs import Handler

from .errors import CLIENT_CLOSED_REQUEST
from .keys import TENANT
from .tracing import Attr, Tracing


TRACING = web.AppKey("tracing", Tracing)
TRACED_PREFIX = "/v1/"
INTERNAL_ERROR = 500
"""The status of a request whose handler raised past every middleware."""
UNMATCHED_ROUTE = "unmatched"
"""The route of a request no route matched (its path is the client's, so it is not kept)."""


def install_tracing(app: web.Application, tracing: Tracing) -> None:
    """Trace ``app``'s requests with ``tracing`` (see the module docstring); call it
    before adding the cleanup contexts whose spans should still be sent."""
    app[TRACING] = tracing
    if tracing.on:
        app.middlewares.insert(0, traced_requests)

    async def lifetime(_app: web.Application) -> AsyncIterator[None]:
        yield
        await tracing.close()

    app.cleanup_ctx.append(lifetime)


@web.middleware
async def traced_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Run ``handler`` inside the request's span: method, route, tenant and status."""
    if not request.path.startswith(TRACED_PREFIX):
        return await handler(request)
    tracing = request.app[TRACING]
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else UNMATCHED_ROUTE
    refused: web.HTTPException | None = None
    with tracing.request(request.headers, method=request.method, route=route) as span:
        status = INTERNAL_ERROR
        try:
            response = await handler(request)
            status = response.status
        except web.HTTPException as exc:  # an answer, not a failure: raised past the span
            refused, status = exc, exc.status
        except asyncio.CancelledError:
            status = CLIENT_CLOSED_REQUEST
            raise
        finally:
            tenant = request.get(TENANT)
            if tenant is not None:
                span.set(Attr.TENANT, tenant.name)
            span.set(Attr.STATUS, status)
    if refused is not None:
        raise refused
    return response
