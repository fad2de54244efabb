"""A trivial HTTP/1.1 endpoint: every request answered at once with one small, fixed body.

It exists to load the generator, not itself: a raw asyncio ``Protocol`` (on uvloop) that finds
the end of each request's headers, skips ``Content-Length`` bytes of body, and writes a
prebuilt response — an OpenAI-like chat completion with usage — on the same keep-alive
connection; pipelined requests are answered in one write. Request bodies must come with a
``Content-Length`` (or not at all); chunked bodies are not supported.

``GET /_stats`` answers ``{"requests": N, "cpu_s": S}`` instead: the requests answered so far
and the CPU seconds this process has used, so that a benchmark can state the server's cost
per request.

Run: ``python -m benchmarks.bench.trivial_server --host 127.0.0.1 --port PORT``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import time
from dataclasses import dataclass
from typing import cast

from ..event_loop import run_with_fast_loop


BODY = json.dumps(
    {
        "id": "chatcmpl-trivial",
        "object": "chat.completion",
        "created": 0,
        "model": "trivial",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "ok"},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    },
    separators=(",", ":"),
).encode()
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
    + str(len(BODY)).encode()
    + b"\r\n\r\n"
    + BODY
)
STATS_REQUEST = b"GET /_stats "
_HEADERS_END = b"\r\n\r\n"
_CONTENT_LENGTH = b"\r\ncontent-length:"


@dataclass
class ServerStats:
    """What the whole process has answered."""

    requests: int = 0

    def response(self) -> bytes:
        """The ``/_stats`` answer: requests so far and this process's CPU seconds."""
        body = json.dumps({"requests": self.requests, "cpu_s": time.process_time()}).encode()
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}"
        return head.encode() + _HEADERS_END + body


def _body_length(head: bytes) -> int:
    """The Content-Length of a request whose header block is ``head`` (0 without one)."""
    at = head.lower().find(_CONTENT_LENGTH)
    if at < 0:
        return 0
    start = at + len(_CONTENT_LENGTH)
    end = head.find(b"\r\n", start)
    return int(head[start : end if end >= 0 else len(head)])


class TrivialProtocol(asyncio.Protocol):
    """One connection: answer each complete request, in order, with ``RESPONSE``."""

    def __init__(self, stats: ServerStats) -> None:
        self._stats = stats
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport to write to."""
        self._transport = cast("asyncio.Transport", transport)  # TCP: uvloop's or asyncio's

    def data_received(self, data: bytes) -> None:
        """Answer every request that is now complete; keep a partial one for later."""
        buffer = self._buffer
        buffer += data
        replies: list[bytes] = []
        start = 0
        while True:
            end = buffer.find(_HEADERS_END, start)
            if end < 0:
                break
            try:
                after = end + len(_HEADERS_END) + _body_length(bytes(buffer[start:end]))
            except ValueError:
                self._close()
                return
            if after > len(buffer):
                break
            if buffer.startswith(STATS_REQUEST, start):
                replies.append(self._stats.response())
            else:
                self._stats.requests += 1
                replies.append(RESPONSE)
            start = after
        del buffer[:start]
        if replies and self._transport is not None:
            self._transport.write(b"".join(replies))

    def _close(self) -> None:
        if self._transport is not None:
            self._transport.close()


async def serve(host: str, port: int) -> None:
    """Serve until SIGTERM or SIGINT."""
    loop = asyncio.get_running_loop()
    stats = ServerStats()
    server = await loop.create_server(lambda: TrivialProtocol(stats), host, port, backlog=1024)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    sys.stdout.write(f"trivial server listening on http://{host}:{port}\n")
    sys.stdout.flush()
    async with server:
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    """Parse ``--host`` and ``--port`` and serve."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench.trivial_server",
        description="A trivial HTTP/1.1 keep-alive endpoint for load-generator benchmarks.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (%(default)s)")
    parser.add_argument("--port", type=int, required=True, help="port to bind")
    args = parser.parse_args(argv)
    run_with_fast_loop(serve(args.host, args.port))


if __name__ == "__main__":
    main()
