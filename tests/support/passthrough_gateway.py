"""A minimal gateway for tests: every ``/v1/`` request passed through to one upstream.

``python passthrough_gateway.py --port PORT --upstream URL [--key KEY]`` listens on loopback
and forwards each request's method, path, body, ``X-Tenant-Id`` and key to ``URL`` (the
clients' key, else ``KEY``), streaming the answer back. No cache, no retry: what a gateway
adds on top of the provider is only this hop. ``GET /healthz`` answers 200.
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web


UPSTREAM = web.AppKey("upstream", str)
SESSION = web.AppKey("session", aiohttp.ClientSession)
KEY = web.AppKey("key", str)
FORWARDED = ("Content-Type", "X-Tenant-Id")


async def healthz(_request: web.Request) -> web.Response:
    """Ready."""
    return web.Response(text="ok")


async def forward(request: web.Request) -> web.StreamResponse:
    """The request, sent on to the upstream; its answer streamed back."""
    app = request.app
    headers = {name: request.headers[name] for name in FORWARDED if name in request.headers}
    headers["Authorization"] = request.headers.get("Authorization", f"Bearer {app[KEY]}")
    url = app[UPSTREAM] + request.rel_url.path_qs
    try:
        upstream = await app[SESSION].request(
            request.method, url, data=await request.read(), headers=headers
        )
    except aiohttp.ClientError as exc:
        return web.json_response({"error": {"message": f"upstream: {exc}"}}, status=502)
    async with upstream:
        response = web.StreamResponse(status=upstream.status)
        response.content_type = upstream.content_type
        await response.prepare(request)
        async for chunk in upstream.content.iter_any():
            await response.write(chunk)
        await response.write_eof()
        return response


def make_app(upstream: str, key: str) -> web.Application:
    """The gateway's application."""
    app = web.Application()
    app[UPSTREAM] = upstream.rstrip("/")
    app[KEY] = key

    async def session(app: web.Application) -> AsyncIterator[None]:
        app[SESSION] = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        yield
        await app[SESSION].close()

    app.cleanup_ctx.append(session)
    app.router.add_get("/healthz", healthz)
    app.router.add_route("*", "/v1/{tail:.*}", forward)
    return app


def main() -> None:
    """Parse the command line and serve."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--key", default="sk-passthrough")
    args = parser.parse_args()
    web.run_app(make_app(args.upstream, args.key), host="127.0.0.1", port=args.port, print=None)


if __name__ == "__main__":
    main()
