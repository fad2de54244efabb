"""The gateway application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from .admission import admission
from .auth import scrape_refusal
from .chat import chat_completions
from .config import GatewayConfig
from .copilot import routes as copilot
from .embeddings import embeddings
from .exchange import labelled_prompt_versions
from .keys import CONFIG, GATEWAY, METRICS
from .metrics import GatewayMetrics
from .model_list import list_models
from .openapi import openapi_document
from .state import open_gateway
from .tracing import start_tracing
from .tracing_middleware import TRACING, install_tracing


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
    async with open_gateway(app[CONFIG], app[METRICS], app[TRACING]) as gateway:
        app[GATEWAY] = gateway
        yield


def _gateway_metrics(config: GatewayConfig) -> GatewayMetrics:
    """The metrics of ``config``'s models and prompt versions, with the enforced plans."""
    gateway_metrics = GatewayMetrics(
        models=[route.name for route in config.models],
        prompt_versions=labelled_prompt_versions(config),
    )
    if config.budgets.enabled:
        for tenant in config.tenants:
            if tenant.budget is not None:
                gateway_metrics.budget_plan(
                    tenant=tenant.name,
                    limit_tokens=tenant.budget.limit_tokens,
                    period_s=tenant.budget.period_s,
                )
    return gateway_metrics


def create_app(config: GatewayConfig) -> web.Application:
    """Build the gateway for ``config``; resources open and close with the app."""
    gateway_metrics = _gateway_metrics(config)
    api = [  # method, path, handler, and the route label of its requests in flight
        ("POST", "/v1/chat/completions", chat_completions, "chat"),
        ("POST", "/v1/embeddings", embeddings, "embeddings"),
        ("POST", "/v1/copilot/summarize", copilot.summarize, "copilot_summarize"),
        ("POST", "/v1/copilot/outreach", copilot.outreach, "copilot_outreach"),
        ("GET", "/v1/models", list_models(config), "models"),
    ]
    in_flight = {path: gateway_metrics.in_flight(label) for _, path, _, label in api}
    app = web.Application(
        middlewares=[admission(in_flight, config.body_timeout_s)],
        client_max_size=config.max_body_bytes,
        handler_args={
            "keepalive_timeout": config.idle_timeout_s,
            "lingering_time": config.body_timeout_s,  # the unread rest of a refused request
        },
    )
    app[CONFIG] = config
    app[METRICS] = gateway_metrics
    install_tracing(app, start_tracing(config.tracing))  # before _gateway: closed after it
    app.cleanup_ctx.append(_gateway)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/openapi.json", openapi_document)
    for method, path, handler, _ in api:
        app.router.add_route(method, path, handler)
    return app
