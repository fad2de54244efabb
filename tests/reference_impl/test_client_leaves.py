"""A streaming client that leaves as its stream ends is not a gateway error."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import NamedTuple

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from reference_impl.app import create_app
from reference_impl.config import load_config


KEY = "sk-test-leaver"


class Gateway(NamedTuple):
    host: str
    port: int


CHUNKS = 6


def _chunk(index: int, delta: dict[str, str], finish: str | None = None) -> bytes:
    chunk = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }
    del index
    return b"data: " + json.dumps(chunk).encode() + b"\n\n"


async def _provider_stream(request: web.Request) -> web.StreamResponse:
    """A provider that streams a short answer then [DONE] (or answers whole)."""
    if not (await request.json()).get("stream"):
        return web.json_response(_completion())
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    await response.write(_chunk(0, {"role": "assistant", "content": ""}))
    for index in range(CHUNKS):
        await response.write(_chunk(index, {"content": f"word{index} "}))
        await asyncio.sleep(0.01)
    await response.write(_chunk(CHUNKS, {}, finish="stop"))
    await asyncio.sleep(0.05)  # the client may leave before the [DONE]
    await response.write(b"data: [DONE]\n\n")
    await response.write_eof()
    return response


def _completion() -> dict[str, object]:
    message = {"role": "assistant", "content": "hi"}
    return {
        "id": "chatcmpl-2",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


@pytest.fixture
async def provider() -> AsyncIterator[TestServer]:
    app = web.Application()
    app.router.add_post("/v1/chat/completions", _provider_stream)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield server
    await server.close()


@pytest.fixture(params=[False, True], ids=["served", "cancelling"])
async def gateway(request: pytest.FixtureRequest, provider: TestServer) -> AsyncIterator[Gateway]:
    """The gateway as served (a handler runs on when its client leaves), or with
    ``handler_cancellation`` (the handler is cancelled)."""
    config = load_config(
        None,
        overrides={
            "provider_url": str(provider.make_url("/v1")),
            "profile": "naive",
            "limiter": {"enabled": True, "tenant_cap": 1},
            "tenants": [{"name": "one", "api_key": KEY, "concurrency_cap": 1}],
        },
        environ={},
    )
    runner = web.AppRunner(create_app(config), handler_cancellation=request.param)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    yield Gateway(host, port)
    await runner.cleanup()


def _request(stream: bool) -> bytes:
    body = json.dumps(
        {
            "model": "gpt-4o-mini",
            "messages": [{"role": "user", "content": "hello"}],
            "temperature": 0.7,
            "stream": stream,
        }
    ).encode()
    head = (
        "POST /v1/chat/completions HTTP/1.1\r\nHost: gateway\r\n"
        f"Authorization: Bearer {KEY}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _leave_after(server: Gateway, marker: bytes) -> None:
    """Send a streamed request and hang up (with a reset) once ``marker`` arrived."""
    reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(_request(stream=True))
    await writer.drain()
    seen = b""
    while marker not in seen:
        data = await asyncio.wait_for(reader.read(65536), 5)
        assert data, f"the stream ended before {marker!r}"
        seen += data
    writer.transport.abort()


MARKERS = {"first": b"word0", "last": b'"finish_reason": "stop"', "done": b"[DONE]"}


@pytest.mark.parametrize("marker", MARKERS.values(), ids=MARKERS.keys())
async def test_client_leaving_a_stream_is_no_error(
    gateway: Gateway, caplog: pytest.LogCaptureFixture, marker: bytes
) -> None:
    caplog.set_level(logging.DEBUG)
    await _leave_after(gateway, marker)
    await asyncio.sleep(0.3)  # the gateway notices, finishes the request, frees the slot

    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]
    assert not any("500" in r.getMessage() for r in caplog.records)

    # cap 1: a follow-up request is admitted only if the leaver's slot was given back
    reader, writer = await asyncio.open_connection(gateway.host, gateway.port)
    writer.write(_request(stream=False))
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), 5)
    writer.close()
    assert status_line.startswith(b"HTTP/1.1 200"), status_line
