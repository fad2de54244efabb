"""Raw HTTP/1.1 on a fresh loopback connection: a hostile request is sent byte for byte (no
client library second-guesses it) and the first response read back within a deadline."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from dataclasses import dataclass
from enum import StrEnum


READ_LIMIT = 1 << 20
PAUSE_S = 0.02
"""Between the parts of a request sent in pieces (a slow sender, a body after its head)."""


class Ending(StrEnum):
    """What the client does once the request is written."""

    READ = "read"
    """Wait for the response."""
    HALF_CLOSE = "half-close"
    """Shut its side down (the server sees the end of the stream), then read the response."""
    CLOSE = "close"
    """Go away without reading (FIN)."""
    RESET = "reset"
    """Go away without reading, resetting the connection (RST)."""


@dataclass(frozen=True)
class Probe:
    """One hostile request: its bytes, in parts written ``PAUSE_S`` apart."""

    kind: str
    """Its category (``wire/bad-chunking``, ``schema/negative/chat`` ...)."""
    parts: tuple[bytes, ...]
    ending: Ending = Ending.READ
    metrics_authorised: bool = False
    """A ``GET /metrics`` carrying the scrape token: its 200 may be Prometheus text."""

    @property
    def wire(self) -> bytes:
        """Every byte sent."""
        return b"".join(self.parts)

    @property
    def is_head(self) -> bool:
        """A HEAD request: its response has no body."""
        return self.wire.startswith(b"HEAD ")


@dataclass(frozen=True)
class Reply:
    """The first response to a probe, or why there is none."""

    status: int | None = None
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    failure: str | None = None
    """``timeout``, ``closed`` (no response at all), or what was wrong with the response."""
    seconds: float = 0.0
    interim: tuple[int, ...] = ()
    """1xx statuses sent before the response."""

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (any case)."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key == wanted), None)

    @property
    def content_type(self) -> str:
        """The media type, lower case, without parameters."""
        return (self.header("content-type") or "").partition(";")[0].strip().lower()


class MalformedResponseError(Exception):
    """The server's bytes are not an HTTP/1.1 response."""


async def send(host: str, port: int, probe: Probe, *, deadline_s: float) -> Reply:
    """Send ``probe`` on a new connection and read its response, all within ``deadline_s``."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        async with asyncio.timeout(deadline_s):
            reply = await _exchange(host, port, probe)
    except TimeoutError:
        reply = Reply(failure="timeout")
    return Reply(
        status=reply.status,
        headers=reply.headers,
        body=reply.body,
        failure=reply.failure,
        seconds=loop.time() - started,
        interim=reply.interim,
    )


async def _exchange(host: str, port: int, probe: Probe) -> Reply:
    reader, writer = await asyncio.open_connection(host, port, limit=READ_LIMIT)
    try:
        await _write(writer, probe)
        if probe.ending in {Ending.CLOSE, Ending.RESET}:
            if probe.ending is Ending.RESET:
                sock = writer.get_extra_info("socket")
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return Reply()
        try:
            return await read_reply(reader, head=probe.is_head)
        except ConnectionError:
            return Reply(failure="closed")
        except MalformedResponseError as exc:
            return Reply(failure=f"malformed response: {exc}")
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def _write(writer: asyncio.StreamWriter, probe: Probe) -> None:
    """Write every part; a server that answers and closes early may refuse the rest, which is
    its right: the response (if any) is read all the same."""
    try:
        for index, part in enumerate(probe.parts):
            if index:
                await asyncio.sleep(PAUSE_S)
            writer.write(part)
            await writer.drain()
        if probe.ending is Ending.HALF_CLOSE:
            writer.write_eof()
    except ConnectionError:
        return


async def read_reply(reader: asyncio.StreamReader, *, head: bool = False) -> Reply:
    """The first final response on ``reader`` (1xx interim responses are noted and skipped)."""
    interim: tuple[int, ...] = ()
    while True:
        try:
            head_bytes = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if exc.partial:
                raise MalformedResponseError("the head ends before its blank line") from None
            return Reply(failure="closed", interim=interim)
        except asyncio.LimitOverrunError:
            raise MalformedResponseError("the head is over 1 MiB") from None
        status, headers = parse_head(head_bytes)
        if 100 <= status < 200:
            interim += (status,)
            continue
        body = b"" if head or status in {204, 304} else await _body(reader, headers)
        return Reply(status=status, headers=headers, body=body, interim=interim)


def parse_head(data: bytes) -> tuple[int, tuple[tuple[str, str], ...]]:
    """The status and (lower-cased name, value) headers of a response head."""
    status_line, *lines = data.decode("latin-1").split("\r\n")
    version, _, rest = status_line.partition(" ")
    code = rest.partition(" ")[0]
    if not version.startswith("HTTP/1.") or len(code) != 3 or not code.isdigit():
        raise MalformedResponseError(f"bad status line {status_line[:80]!r}")
    headers = []
    for line in filter(None, lines):
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise MalformedResponseError(f"bad header line {line[:80]!r}")
        headers.append((name.lower(), value.strip()))
    return int(code), tuple(headers)


async def _body(reader: asyncio.StreamReader, headers: tuple[tuple[str, str], ...]) -> bytes:
    fields = dict(headers)
    if "chunked" in fields.get("transfer-encoding", "").lower():
        return await _chunked(reader)
    if "content-length" in fields:
        try:
            length = int(fields["content-length"])
        except ValueError:
            raise MalformedResponseError("bad Content-Length") from None
        return await _exactly(reader, length)
    return await reader.read()


async def _chunked(reader: asyncio.StreamReader) -> bytes:
    body = bytearray()
    while True:
        size_line = await _line(reader)
        try:
            size = int(size_line.partition(b";")[0], 16)
        except ValueError:
            raise MalformedResponseError(f"bad chunk size {size_line[:40]!r}") from None
        if size == 0:
            while await _line(reader):  # trailers, up to the blank line
                pass
            return bytes(body)
        body += await _exactly(reader, size)
        if await _line(reader):
            raise MalformedResponseError("a chunk is longer than its size")


async def _line(reader: asyncio.StreamReader) -> bytes:
    try:
        return (await reader.readuntil(b"\r\n"))[:-2]
    except asyncio.IncompleteReadError:
        raise MalformedResponseError("the body ends mid-chunk") from None


async def _exactly(reader: asyncio.StreamReader, size: int) -> bytes:
    try:
        return await reader.readexactly(size)
    except asyncio.IncompleteReadError:
        raise MalformedResponseError("the body is shorter than announced") from None
