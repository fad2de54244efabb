"""The gateway application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from .auth import tenants
from .chat import chat_completions
from .config import GatewayConfig
from .copilot import routes as copilot
from .embeddings import embeddings
from .errors import content_encodings, json_errors
from .keys import CONFIG, GATEWAY, METRICS
from .metrics import GatewayMetrics
from .state import open_gateway


async def healthz(_request: web.Request) -> web.Response:
    """Liveness: the process serves requests."""
    return web.json_response({"status": "ok"})


async def metrics(request: web.Request) -> web.Response:
    """Prometheus exposition of every worker's counters."""
    body, content_type = request.app[METRICS].render()
    response = web.Response(body=body)
    response.headers["Content-Type"] = content_type
    return response


async def _gateway(app: web.Application) -> AsyncIterator[None]:
    """``cleanup_ctx``: open the collaborators at start-up, close them at shutdown."""
    async with open_gateway(app[CONFIG], app[METRICS]) as gateway:
        app[GATEWAY] = gateway
        yield


def create_app(config: GatewayConfig) -> web.Application:
    """Build the gateway for ``config``; resources open and close with the app."""
    app = web.Application(
        middlewares=[json_errors, content_encodings, tenants], client_max_size=config.max_body_bytes
    )
    app[CONFIG] = config
    app[METRICS] = GatewayMetrics()
    app.cleanup_ctx.append(_gateway)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    app.router.add_post("/v1/chat/completions", chat_completions)
    app.router.add_post("/v1/embeddings", embeddings)
    app.router.add_post("/v1/copilot/summarize", copilot.summarize)
    app.router.add_post("/v1/copilot/outreach", copilot.outreach)
    return app
