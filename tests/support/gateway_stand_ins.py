"""Stand-ins for the gateway's unit tests: a provider that answers every chat with "hi", and
the gateway served on a loopback port as ``python -m reference_impl`` serves it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from aiohttp import web
from aiohttp.test_utils import TestServer

from reference_impl.app import create_app
from reference_impl.config import GatewayConfig
from reference_impl.errors import GatewayRunner


def _answering_hi(prompt_tokens: int, completion_tokens: int) -> web.Handler:
    async def answer(request: web.Request) -> web.Response:
        body = await request.json()
        message = {"role": "assistant", "content": "hi"}
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        return web.json_response(
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": 1,
                "model": body["model"],
                "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                "usage": usage,
            }
        )

    return answer


@contextlib.asynccontextmanager
async def hi_provider(
    *, prompt_tokens: int = 1, completion_tokens: int = 1
) -> AsyncIterator[TestServer]:
    """A provider on loopback whose every chat completion is "hi" with this usage."""
    app = web.Application()
    app.router.add_post("/v1/chat/completions", _answering_hi(prompt_tokens, completion_tokens))
    async with TestServer(app, host="127.0.0.1") as server:
        yield server


@contextlib.asynccontextmanager
async def served_gateway(config: GatewayConfig) -> AsyncIterator[tuple[str, int]]:
    """The gateway of ``config`` behind ``GatewayRunner`` on a loopback port: (host, port)."""
    runner = GatewayRunner(create_app(config), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        yield host, port
    finally:
        await runner.cleanup()
