"""The gateway application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from .auth import scrape_refusal, tenants
from .body_deadline import body_deadline
from .chat import chat_completions
from .config import GatewayConfig
from .copilot import routes as copilot
from .embeddings import embeddings
from .errors import content_encodings, json_errors
from .exchange import labelled_prompt_versions
from .keys import CONFIG, GATEWAY, METRICS
from .metrics import GatewayMetrics
from .openapi import openapi_document
from .state import open_gateway


async def healthz(_request: web.Request) -> web.Response:
    """Liveness: the process serves requests."""
    return web.json_response({"status": "ok"})


async def metrics(request: web.Request) -> web.Response:
    """Prometheus exposition of every worker's counters, for the holder of the scrape token."""
    refusal = scrape_refusal(request)
    if refusal is not None:
        return refusal
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
        middlewares=[json_errors, content_encodings, tenants, body_deadline(config.body_timeout_s)],
        client_max_size=config.max_body_bytes,
        handler_args={
            "keepalive_timeout": config.idle_timeout_s,
            "lingering_time": config.body_timeout_s,  # the unread rest of a refused request
        },
    )
    app[CONFIG] = config
    app[METRICS] = GatewayMetrics(
        models=[route.name for route in config.models],
        prompt_versions=labelled_prompt_versions(config),
    )
    app.cleanup_ctx.append(_gateway)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/openapi.json", openapi_document)
    app.router.add_post("/v1/chat/completions", chat_completions)
    app.router.add_post("/v1/embeddings", embeddings)
    app.router.add_post("/v1/copilot/summarize", copilot.summarize)
    app.router.add_post("/v1/copilot/outreach", copilot.outreach)
    return app
