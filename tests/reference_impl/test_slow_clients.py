"""Clients that never finish sending: a partial body gets a JSON 408 and the connection closes;
headers that never complete close the connection. The deadlines are configured short here."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator

import pytest
from gateway_stand_ins import served_gateway

from reference_impl.config import load_config


KEY = "sk-test-slow-clients"
HEAD = (
    "POST /v1/chat/completions HTTP/1.1\r\nHost: gateway\r\n"
    f"Authorization: Bearer {KEY}\r\nContent-Type: application/json\r\n"
)
BODY = b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"max_tokens":1}'
DEADLINE_S = 0.5
PATIENCE_S = 10  # far past the deadline: only a gateway that never closes fails


@pytest.fixture
async def gateway() -> AsyncIterator[tuple[str, int]]:
    """The gateway served as ``python -m reference_impl`` serves it, with short deadlines."""
    config = load_config(
        None,
        overrides={
            "provider_url": "http://127.0.0.1:9/v1",  # never reached: no request is complete
            "profile": "naive",
            "tenants": [{"name": "one", "api_key": KEY}],
            "body_timeout_s": DEADLINE_S,
            "idle_timeout_s": DEADLINE_S,
        },
        environ={},
    )
    async with served_gateway(config) as address:
        yield address


async def _read_all(reader: asyncio.StreamReader) -> bytes:
    """Everything the gateway sends until it closes the connection."""
    return await asyncio.wait_for(reader.read(), PATIENCE_S)


async def test_a_partial_body_gets_a_json_408_and_the_connection_closes(
    gateway: tuple[str, int], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    reader, writer = await asyncio.open_connection(*gateway)
    try:
        writer.write(f"{HEAD}Content-Length: 1000\r\n\r\n".encode() + BODY[:40])
        await writer.drain()
        sent = await _read_all(reader)
    finally:
        writer.close()

    head, _, body = sent.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 "), sent
    assert b"application/json" in head.lower()
    assert b"connection: close" in head.lower()
    error = json.loads(body)["error"]
    assert error["code"] == "request_timeout"
    assert error["type"] == "invalid_request_error"
    loud = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert loud == [], [(r.levelname, r.getMessage()) for r in loud]


async def test_a_partial_body_of_a_refused_request_closes_the_connection(
    gateway: tuple[str, int],
) -> None:
    """A request answered before its body is read (here: an unknown key) has the rest of
    its body drained for at most the body deadline, not aiohttp's own 10 s."""
    reader, writer = await asyncio.open_connection(*gateway)
    try:
        head = HEAD.replace(KEY, "sk-not-a-known-key")
        writer.write(f"{head}Content-Length: 1000\r\n\r\n".encode() + BODY[:40])
        await writer.drain()
        sent = await asyncio.wait_for(reader.read(), 5)
    finally:
        writer.close()

    assert sent.startswith(b"HTTP/1.1 401 "), sent


async def _trickle(writer: asyncio.StreamWriter, data: bytes) -> None:
    """Send ``data`` a byte every 0.1 s: each byte well within the deadline, all of it not."""
    for byte in data:
        writer.write(bytes([byte]))
        await writer.drain()
        await asyncio.sleep(0.1)


async def _read_while_trickling(gateway: tuple[str, int], head: bytes, trickled: bytes) -> bytes:
    """Send ``head``, then trickle ``trickled`` until the gateway answers or closes; what it
    sends until it closes (a reset after the close, of a byte that crossed it, ends it too)."""
    reader, writer = await asyncio.open_connection(*gateway)
    writer.write(head)
    await writer.drain()
    trickling = asyncio.create_task(_trickle(writer, trickled))
    sent = b""
    try:
        sent = await asyncio.wait_for(reader.read(1 << 16), PATIENCE_S)
        trickling.cancel()
        return sent + await _read_all(reader)
    except ConnectionResetError:
        return sent
    finally:
        trickling.cancel()
        await asyncio.gather(trickling, return_exceptions=True)
        writer.close()


async def test_a_body_that_trickles_past_the_deadline_gets_a_408(
    gateway: tuple[str, int],
) -> None:
    head = f"{HEAD}Content-Length: {len(BODY)}\r\n\r\n".encode()
    sent = await _read_while_trickling(gateway, head, BODY)
    assert sent.startswith(b"HTTP/1.1 408 "), sent


async def test_headers_that_never_complete_close_the_connection(
    gateway: tuple[str, int],
) -> None:
    sent = await _read_while_trickling(gateway, HEAD.encode(), b"X-Slow: " + b"a" * 4000)
    assert sent == b""


async def test_a_connection_that_sends_nothing_is_closed(gateway: tuple[str, int]) -> None:
    reader, writer = await asyncio.open_connection(*gateway)
    try:
        assert await _read_all(reader) == b""
    finally:
        writer.close()


async def test_a_body_within_the_deadline_is_served(gateway: tuple[str, int]) -> None:
    """A body sent in parts within the deadline reaches the handler (whose answer here is
    about the unreachable provider, not the body)."""
    reader, writer = await asyncio.open_connection(*gateway)
    try:
        writer.write(f"{HEAD}Content-Length: {len(BODY)}\r\n\r\n".encode() + BODY[:10])
        await writer.drain()
        writer.write(BODY[10:])
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), PATIENCE_S)
    finally:
        writer.close()

    assert not head.startswith(b"HTTP/1.1 408 "), head
