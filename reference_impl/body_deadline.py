"""The body deadline: a request's body must arrive within ``body_timeout_s`` of its headers.

A client that announces a body and sends only part of it (or sends it a byte at a time)
would otherwise hold its connection and handler for as long as it likes. ``late_body`` reads
the body ahead of the handler (``admission``), which then finds it already read; past the
deadline the client gets a JSON 408 and the connection is closed. The connection handler's
settings (``create_app``) do the rest: the unread body of a request answered early (a 401) is
drained for at most ``body_timeout_s`` too, and headers that never complete are cut off by the
``idle_timeout_s`` keep-alive limit.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from .errors import json_error


log = logging.getLogger(__name__)


def body_pending(request: web.Request) -> bool:
    """Whether part of the request's body has yet to arrive."""
    return request.body_exists and not request.content.is_eof()


async def late_body(request: web.Request, timeout_s: float) -> web.StreamResponse | None:
    """Read the rest of the body: None once read, or the 408 sent when it takes longer than
    ``timeout_s``."""
    try:
        async with asyncio.timeout(timeout_s):
            await request.read()
    except TimeoutError:
        return await _request_timeout(request, timeout_s)
    return None


async def _request_timeout(request: web.Request, timeout_s: float) -> web.StreamResponse:
    """Send the 408, then close the connection at once (rather than wait for the rest)."""
    log.info("request body too slow on %s %s from %s", request.method, request.path, request.remote)
    response = json_error(
        408,
        f"the request body did not arrive within {timeout_s:g} s",
        error_type="invalid_request_error",
        code="request_timeout",
    )
    response.force_close()
    await response.prepare(request)
    await response.write_eof()
    request.protocol.force_close()
    return response
