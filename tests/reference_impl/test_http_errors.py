"""HTTP-level bad input gets a JSON 4xx in the OpenAI error shape, logged without a traceback."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any, NamedTuple

import pytest
from gateway_stand_ins import served_gateway

from reference_impl.config import load_config


KEY = "sk-test-http-errors"
CANARY = "canary-prompt-5b1e"
BODY = b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"%s"}]}' % CANARY.encode()
HEAD = "POST /v1/chat/completions HTTP/1.1\r\nHost: gateway\r\n"
AUTH = f"Authorization: Bearer {KEY}\r\nContent-Type: application/json\r\n"


class Reply(NamedTuple):
    version: str
    status: int
    headers: dict[str, str]
    body: bytes


@pytest.fixture
async def gateway() -> AsyncIterator[tuple[str, int]]:
    """The gateway served as ``python -m reference_impl`` serves it, on a loopback port."""
    config = load_config(
        None,
        overrides={
            "provider_url": "http://127.0.0.1:9/v1",  # never called: every request is refused
            "profile": "naive",
            "max_body_bytes": 1024,
            "tenants": [{"name": "one", "api_key": KEY}],
        },
        environ={},
    )
    async with served_gateway(config) as address:
        yield address


async def _exchange(address: tuple[str, int], raw: bytes | tuple[bytes, bytes]) -> Reply:
    """Send ``raw`` on a fresh connection (a pair: the head, then the body a bit later, so
    that the app reads a body that turns out bad); read one response."""
    reader, writer = await asyncio.open_connection(*address)
    try:
        for part in (raw,) if isinstance(raw, bytes) else raw:
            writer.write(part)
            await writer.drain()
            await asyncio.sleep(0.05)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in filter(None, lines):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        body = await asyncio.wait_for(reader.readexactly(length), 5)
        version, status, *_ = status_line.split()
        return Reply(version, int(status), headers, body)
    finally:
        writer.close()


def _chat(extra_headers: str = "", body: bytes = BODY) -> bytes:
    return f"{HEAD}{AUTH}{extra_headers}Content-Length: {len(body)}\r\n\r\n".encode() + body


CHUNKED = f"{HEAD}{AUTH}Transfer-Encoding: chunked\r\n\r\n".encode()
CASES: dict[str, tuple[bytes | tuple[bytes, bytes], int]] = {
    "header_too_long": (_chat(f"X-Big: {'a' * 20_000}\r\n"), 431),
    "too_many_headers": (_chat("".join(f"X-H{i}: v\r\n" for i in range(300))), 431),
    "bad_content_length": (f"{HEAD}{AUTH}Content-Length: ten\r\n\r\n".encode() + BODY, 400),
    "two_content_lengths": (
        f"{HEAD}{AUTH}Content-Length: {len(BODY)}\r\nContent-Length: 3\r\n\r\n".encode() + BODY,
        400,
    ),
    "body_too_large": (_chat(body=b'{"x":"' + b"a" * 4096 + b'"}'), 413),
    "unknown_method": (b"BREW /v1/chat/completions HTTP/1.1\r\nHost: gateway\r\n\r\n", 405),
    "wrong_method": (
        f"DELETE /v1/chat/completions HTTP/1.1\r\nHost: g\r\n{AUTH}\r\n".encode(),
        405,
    ),
    "garbage_method": (b"G\x01T / HTTP/1.1\r\nHost: gateway\r\n\r\n", 400),
    "bad_chunked": (CHUNKED + b"zz\r\nhello\r\n0\r\n\r\n", 400),
    "nul_in_request_line": (b"POST /v1/chat\x00/completions HTTP/1.1\r\nHost: g\r\n\r\n", 400),
    "nul_in_header": (_chat("X-Bad: a\x00b\r\n"), 400),
    "content_encoding_br": (_chat("Content-Encoding: br\r\n"), 415),
    "content_encoding_unknown": (_chat("Content-Encoding: snappy\r\n"), 415),
    "content_encoding_br_later": ((_chat("Content-Encoding: br\r\n", b""), b"x" * 60), 415),
    "bare_lf_line_endings": (_chat().replace(b"\r\n", b"\n"), 400),
    "body_longer_than_its_length": (
        f"{HEAD}{AUTH}Connection: close\r\nContent-Length: 20\r\n\r\n".encode() + BODY,
        400,
    ),
    "unknown_expectation": (_chat("Expect: bogus\r\n"), 417),
    "unknown_expectation_unknown_path": (
        f"POST /nowhere HTTP/1.1\r\nHost: g\r\nExpect: bogus\r\n{AUTH}\r\n".encode(),
        417,
    ),
    "http_2_0_request_line": (_chat().replace(b"HTTP/1.1", b"HTTP/2.0"), 400),
    "no_http_version": (b"GET /v1/embeddings\r\nHost: gateway\r\n\r\n", 400),
}


@pytest.mark.parametrize(("raw", "status"), CASES.values(), ids=CASES.keys())
async def test_bad_http_input_gets_a_json_4xx(
    gateway: tuple[str, int], caplog: pytest.LogCaptureFixture, raw: bytes, status: int
) -> None:
    caplog.set_level(logging.DEBUG)
    reply = await _exchange(gateway, raw)
    await asyncio.sleep(0.05)  # let the server finish logging

    assert reply.status == status, reply
    assert reply.version in {"HTTP/1.0", "HTTP/1.1"}, reply
    assert reply.headers["content-type"].startswith("application/json")
    error: dict[str, Any] = json.loads(reply.body)["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"]
    if reply.status == 405 and b"DELETE" in raw:  # a known route: its methods are named
        assert reply.headers["allow"] == "POST"
    loud = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert loud == [], [(r.levelname, r.getMessage()) for r in loud]
    leaks = [
        r.getMessage() for r in caplog.records if CANARY in r.getMessage() or KEY in r.getMessage()
    ]
    assert leaks == []  # the request's bytes (prompt, key) never reach the log
