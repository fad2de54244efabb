"""The gateway application factory."""

from __future__ import annotations

from aiohttp import web

from .chat import chat_completions
from .config import GatewayConfig
from .errors import json_errors
from .keys import CONFIG
from .upstream import upstream_session


async def healthz(_request: web.Request) -> web.Response:
    """Liveness: the process serves requests."""
    return web.json_response({"status": "ok"})


def create_app(config: GatewayConfig) -> web.Application:
    """Build the gateway for ``config``; resources open and close with the app."""
    app = web.Application(middlewares=[json_errors], client_max_size=config.max_body_bytes)
    app[CONFIG] = config
    app.cleanup_ctx.append(upstream_session)
    app.router.add_get("/healthz", healthz)
    app.router.add_post("/v1/chat/completions", chat_completions)
    return app
