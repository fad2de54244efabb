"""A bare HTTP pass-through: the floor under the latency and CPU of any Python gateway.

Every POST is read whole, POSTed to the same path on the upstream through one pooled
``ClientSession`` (keep-alive, no connection limit), and answered with the upstream's status,
``Content-Type`` and body. Only ``Content-Type`` and ``Authorization`` are forwarded; there is
nothing else: no parsing, no logging, no retries. ``GET /healthz`` answers 200 for readiness
probes. It runs on uvloop where uvloop is installed.

Run: ``python -m benchmarks.bench.passthrough_server --host 127.0.0.1 --port P --upstream URL``.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator, Callable

import aiohttp
from aiohttp import web

from ..event_loop import fast_loop_factory


UPSTREAM_URL = web.AppKey("upstream_url", str)
UPSTREAM = web.AppKey("upstream", aiohttp.ClientSession)
FORWARDED_HEADERS = ("Content-Type", "Authorization")
UPSTREAM_TIMEOUT_S = 30.0


async def _upstream_session(app: web.Application) -> AsyncIterator[None]:
    """``cleanup_ctx``: one pooled session for the app's lifetime."""
    async with aiohttp.ClientSession(
        base_url=app[UPSTREAM_URL],
        connector=aiohttp.TCPConnector(limit=0),
        timeout=aiohttp.ClientTimeout(total=UPSTREAM_TIMEOUT_S),
    ) as session:
        app[UPSTREAM] = session
        yield


async def healthz(_request: web.Request) -> web.Response:
    """Readiness: the process serves requests."""
    return web.Response(text="ok")


async def forward(request: web.Request) -> web.Response:
    """POST the request's body to the same path upstream; answer with what came back."""
    body = await request.read()
    headers = {name: request.headers[name] for name in FORWARDED_HEADERS if name in request.headers}
    async with request.app[UPSTREAM].post(request.path, data=body, headers=headers) as upstream:
        payload = await upstream.read()
        content_type = upstream.headers.get("Content-Type", "application/octet-stream")
        return web.Response(
            status=upstream.status, body=payload, headers={"Content-Type": content_type}
        )


def create_app(upstream_url: str) -> web.Application:
    """The pass-through to ``upstream_url`` (a base URL such as ``http://127.0.0.1:8000``)."""
    app = web.Application()
    app[UPSTREAM_URL] = upstream_url
    app.cleanup_ctx.append(_upstream_session)
    app.router.add_get("/healthz", healthz)
    app.router.add_post("/{path:.*}", forward)
    return app


def _new_loop() -> asyncio.AbstractEventLoop:
    factory: Callable[[], asyncio.AbstractEventLoop] = fast_loop_factory() or asyncio.new_event_loop
    return factory()


def main(argv: list[str] | None = None) -> None:
    """Parse ``--host``, ``--port`` and ``--upstream``; serve until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench.passthrough_server",
        description="A bare HTTP pass-through to one upstream, for gateway benchmarks.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (%(default)s)")
    parser.add_argument("--port", type=int, required=True, help="port to bind")
    parser.add_argument("--upstream", required=True, help="base URL to forward to")
    args = parser.parse_args(argv)
    web.run_app(
        create_app(args.upstream),
        host=args.host,
        port=args.port,
        print=None,
        access_log=None,
        loop=_new_loop(),
    )


if __name__ == "__main__":
    main()
