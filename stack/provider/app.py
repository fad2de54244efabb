"""The application factory of the simulated provider."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable

from aiohttp import web
from aiohttp.typedefs import Handler

from stack.provider import control, tokens
from stack.provider.chat import chat_completions
from stack.provider.config import ProviderConfig
from stack.provider.embeddings import embeddings
from stack.provider.errors import error_middleware
from stack.provider.inbound import endpoint_kind, tenant
from stack.provider.keys import REQUEST_ID, STARTED, STATE, TICKET
from stack.provider.models import list_models, retrieve_model
from stack.provider.state import ProviderState


API_PREFIX = "/v1/"
CLIENT_GONE = 499


def create_app(
    config: ProviderConfig, *, clock: Callable[[], float] = time.monotonic
) -> web.Application:
    """A provider serving ``config``; ``clock`` drives the rate limits and the stats' timeline."""
    app = web.Application(middlewares=[context_middleware, error_middleware])
    app[STATE] = ProviderState(config, clock=clock)
    app.router.add_post("/v1/chat/completions", chat_completions)
    app.router.add_post("/v1/embeddings", embeddings)
    app.router.add_get("/v1/models", list_models)
    app.router.add_get("/v1/models/{model:.+}", retrieve_model)
    app.router.add_get("/healthz", healthz)
    control.add_routes(app)
    app.on_startup.append(_load_tokenizer)
    return app


async def _load_tokenizer(_app: web.Application) -> None:
    """Load the tokenizer before the first request rather than during it."""
    tokens.encoding()


async def healthz(_request: web.Request) -> web.StreamResponse:
    """Liveness."""
    return web.json_response({"status": "ok"})


@web.middleware
async def context_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Give every request an id and a start time; count ``/v1/`` requests in the stats."""
    request_id = f"req_{secrets.token_hex(16)}"
    request[REQUEST_ID] = request_id
    request[STARTED] = asyncio.get_running_loop().time()
    if not request.path.startswith(API_PREFIX):
        return _with_id(await handler(request), request_id)
    ticket = request.app[STATE].stats.begin(tenant(request), endpoint_kind(request))
    request[TICKET] = ticket
    status = CLIENT_GONE
    try:
        response = await handler(request)
        status = response.status
        return _with_id(response, request_id)
    finally:
        ticket.finish(status)


def _with_id(response: web.StreamResponse, request_id: str) -> web.StreamResponse:
    if not response.prepared:
        response.headers.setdefault("x-request-id", request_id)
    return response
