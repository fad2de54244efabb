"""``POST /v1/chat/completions``: forwarded to the provider, JSON or streamed."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
from aiohttp import web

from .errors import InvalidRequest, json_error
from .keys import UPSTREAM


_PASSED_HEADERS = ("retry-after", "retry-after-ms", "x-request-id")
_PASSED_PREFIX = "x-ratelimit-"


async def read_json_object(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object, or ``InvalidRequest`` saying what is wrong."""
    raw = await request.read()
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidRequest(f"the body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise InvalidRequest("the body must be a JSON object")
    return body


def _passed_headers(upstream: aiohttp.ClientResponse) -> dict[str, str]:
    """The provider headers a client needs to back off correctly."""
    return {
        name: value
        for name, value in upstream.headers.items()
        if name.lower() in _PASSED_HEADERS or name.lower().startswith(_PASSED_PREFIX)
    }


async def chat_completions(request: web.Request) -> web.StreamResponse:
    """Forward the request; stream the answer through when the provider streams."""
    body = await read_json_object(request)
    session = request.app[UPSTREAM]
    try:
        async with session.post("v1/chat/completions", json=body) as upstream:
            if upstream.content_type == "text/event-stream":
                return await _relay_stream(request, upstream)
            return web.Response(
                status=upstream.status,
                body=await upstream.read(),
                content_type=upstream.content_type,
                headers=_passed_headers(upstream),
            )
    except TimeoutError:
        return json_error(504, "the provider did not answer in time", error_type="timeout")
    except aiohttp.ClientError as exc:
        return json_error(502, f"the provider is unreachable: {exc}", error_type="upstream_error")


async def _relay_stream(
    request: web.Request, upstream: aiohttp.ClientResponse
) -> web.StreamResponse:
    """Copy server-sent events to the client as they arrive."""
    response = web.StreamResponse(status=upstream.status, headers=_passed_headers(upstream))
    response.content_type = "text/event-stream"
    await response.prepare(request)
    async for chunk in upstream.content.iter_any():
        await response.write(chunk)
    await response.write_eof()
    return response
