"""Writing responses, including the faulty ones: bad JSON and cut connections."""

from __future__ import annotations

import json
from collections.abc import Mapping

from aiohttp import web


def json_response(
    payload: object, *, headers: Mapping[str, str], malformed: bool = False
) -> web.Response:
    """A JSON 200; when ``malformed``, only the first half of the body."""
    body = json.dumps(payload).encode()
    if malformed:
        body = body[: len(body) // 2]
    return web.Response(body=body, content_type="application/json", headers=headers)


async def cut_json_response(
    request: web.Request, payload: object, *, headers: Mapping[str, str]
) -> web.StreamResponse:
    """Announce the whole JSON body, send half of it, then cut the connection."""
    body = json.dumps(payload).encode()
    response = web.StreamResponse(headers=headers)
    response.content_type = "application/json"
    response.content_length = len(body)
    await response.prepare(request)
    await response.write(body[: len(body) // 2])
    cut_connection(request)
    return response


def cut_connection(request: web.Request) -> None:
    """Close the connection after what was written: the client sees an incomplete payload."""
    if request.transport is not None:
        request.transport.close()
