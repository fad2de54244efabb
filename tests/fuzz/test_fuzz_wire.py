"""The fuzz suite's raw HTTP client: what it reads back, and how it reports a server that
never answers or answers with something that is no HTTP response."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from fuzz_wire import Ending, MalformedResponseError, Probe, read_reply, send


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
REQUEST = Probe(kind="test", parts=(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",))


def _reader(data: bytes) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    return reader


async def test_a_response_with_a_length() -> None:
    reply = await read_reply(_reader(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A: b\r\n\r\n{}"))
    assert (reply.status, reply.body, reply.header("x-a")) == (200, b"{}", "b")


async def test_a_chunked_response_after_an_interim_one() -> None:
    data = (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;x=1\r\ndata:\r\n3\r\n 1\n\r\n0\r\nTrailer: t\r\n\r\n"
    )
    reply = await read_reply(_reader(data))
    assert (reply.status, reply.body, reply.interim) == (200, b"data: 1\n", (100,))


async def test_a_response_ended_by_the_close_and_one_to_a_head_request() -> None:
    assert (await read_reply(_reader(b"HTTP/1.0 400 Bad\r\n\r\nbye"))).body == b"bye"
    head = await read_reply(_reader(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n"), head=True)
    assert (head.status, head.body) == (200, b"")


@pytest.mark.parametrize(
    "data",
    [
        b"SSH-2.0-OpenSSH\r\n\r\n",
        b"HTTP/1.1 2000 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nContent",
    ],
)
async def test_what_is_no_http_response_is_named(data: bytes) -> None:
    with pytest.raises(MalformedResponseError):
        await read_reply(_reader(data))


@pytest.fixture
async def server() -> AsyncIterator[Callable[[Handler], Awaitable[int]]]:
    servers: list[asyncio.Server] = []
    writers: list[asyncio.StreamWriter] = []

    async def start(handler: Handler) -> int:
        async def tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writers.append(writer)
            await handler(reader, writer)

        started = await asyncio.start_server(tracked, "127.0.0.1", 0)
        servers.append(started)
        return int(started.sockets[0].getsockname()[1])

    yield start
    for writer in writers:
        writer.close()
    for started in servers:
        started.close()
        await started.wait_closed()


async def test_a_server_that_never_answers_is_a_timeout(server) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()

    port = await server(silent)
    reply = await send("127.0.0.1", port, REQUEST, deadline_s=0.2)
    assert reply.failure == "timeout"


async def test_a_server_that_closes_without_answering(server) -> None:
    async def rude(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.close()

    port = await server(rude)
    reply = await send("127.0.0.1", port, REQUEST, deadline_s=5)
    assert (reply.status, reply.failure) == (None, "closed")


async def test_parts_arrive_in_order_and_a_closing_probe_reads_nothing(server) -> None:
    received: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    async def recorder(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.set_result(await reader.read())
        writer.close()

    port = await server(recorder)
    probe = Probe(kind="test", parts=(b"GE", b"T / HTTP/1.1\r\n", b"\r\n"), ending=Ending.CLOSE)
    reply = await send("127.0.0.1", port, probe, deadline_s=5)
    assert (reply.status, reply.failure) == (None, None)
    assert await asyncio.wait_for(received, 5) == b"GET / HTTP/1.1\r\n\r\n"
