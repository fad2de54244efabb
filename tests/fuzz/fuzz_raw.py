"""Abuse of HTTP framing on a raw socket: bad chunking, bad Content-Length, request smuggling
shapes, pipelining, partial requests closed (or reset) early, slow senders, and bytes that
are no HTTP/1.1 request at all."""

from __future__ import annotations

import random

from fuzz_probes import CHAT, Context, auth, chat_body, dumps, probe, request
from fuzz_wire import Ending, Probe


BAD_CHUNK_SIZES = (b"zz", b"-5", b"f" * 20, b" 5", b"0x10", b"+5", b"5 5", b"", b"\x00")
TRANSFER_ENCODINGS = ("chunked", "chunked, chunked", "Chunked", "chunked;q=1", "gzip, chunked",
                      "identity, chunked", "xchunked", "chunked ")  # fmt: skip
CONTENT_LENGTHS = ("abc", "-1", "1e3", "+10", " 10", "10, 10", "10,11", "1" * 25, "0x10", "")
NOT_HTTP = (
    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40,
    b"\r\n\r\n",
    b"GET /\r\n\r\n",
    b"\x00" * 64,
    b"POST\r\n\r\n",
    b" POST /v1/chat/completions HTTP/1.1\r\n\r\n",
)


def _head(ctx: Context, key: str, *extra: tuple[str, str]) -> bytes:
    """A chat request's head without a body framing header, up to its blank line."""
    return request(ctx, "POST", CHAT, headers=[auth(key), *extra])


def _chunks(data: bytes, rng: random.Random) -> bytes:
    """``data`` in well-formed chunks of random sizes, the last chunk included."""
    out, start = bytearray(), 0
    while start < len(data):
        piece = data[start : start + rng.randint(1, max(1, len(data) // 3))]
        out += b"%x\r\n%s\r\n" % (len(piece), piece)
        start += len(piece)
    return bytes(out) + b"0\r\n\r\n"


def chunking(rng: random.Random, ctx: Context) -> Probe:
    """Chunked bodies: well-formed (some with extensions or trailers) and broken."""
    body = dumps(chat_body(rng, ctx))
    encoding = rng.choice(TRANSFER_ENCODINGS) if rng.random() < 0.3 else "chunked"
    head = _head(ctx, rng.choice(ctx.keys), ("Transfer-Encoding", encoding))
    choice = rng.randrange(6)
    if choice == 0:
        return probe("wire/chunked", head, _chunks(body, rng))
    if choice == 1:
        framed = b'%x;ext=1;q="a"\r\n%s\r\n0\r\nX-Trailer: t\r\n\r\n' % (len(body), body)
        return probe("wire/chunked-extensions", head + framed)
    if choice == 2:
        size = rng.choice(BAD_CHUNK_SIZES)
        return probe("wire/chunk-size", head + size + b"\r\n" + body + b"\r\n0\r\n\r\n")
    if choice == 3:
        framed = b"%x\r\n%s" % (len(body) + rng.randint(1, 1000), body)
        return probe("wire/chunk-short", head + framed, ending=Ending.HALF_CLOSE)
    if choice == 4:
        framed = b"%x\r\n%sXX0\r\n\r\n" % (len(body), body)  # no CRLF after the data
        return probe("wire/chunk-no-crlf", head + framed)
    framed = _chunks(body, rng).replace(b"\r\n", b"\n")
    return probe("wire/chunk-lf", head + framed)


def content_length(rng: random.Random, ctx: Context) -> Probe:
    """Content-Length malformed, doubled, contradicting the body, or beside chunking."""
    body = dumps(chat_body(rng, ctx))
    key = rng.choice(ctx.keys)
    choice = rng.randrange(6)
    if choice == 0:
        head = _head(ctx, key, ("Content-Length", rng.choice(CONTENT_LENGTHS)))
        return probe("wire/content-length-bad", head + body)
    if choice == 1:
        head = _head(ctx, key, ("Content-Length", str(len(body))), ("Content-Length", "7"))
        return probe("wire/content-length-two", head + body)
    if choice == 2:
        head = _head(ctx, key, ("Content-Length", str(len(body) + rng.randint(1, 5000))))
        return probe("wire/content-length-long", head + body, ending=Ending.HALF_CLOSE)
    if choice == 3:
        head = _head(ctx, key, ("Content-Length", str(len(body) // 2)))
        return probe("wire/content-length-short", head + body)
    if choice == 4:
        head = _head(ctx, key, ("Content-Length", str(len(body))), ("Transfer-Encoding", "chunked"))
        return probe("wire/cl-te", head + _chunks(body, rng))
    head = _head(ctx, key, ("Content-Length", "0"))
    return probe("wire/content-length-zero", head + body)


def partial(rng: random.Random, ctx: Context) -> Probe:
    """A request cut short: the client closes (or resets) mid-head or mid-body."""
    wire = request(
        ctx, "POST", CHAT, headers=[auth(rng.choice(ctx.keys))], body=dumps(chat_body(rng, ctx))
    )
    head_end = wire.index(b"\r\n\r\n") + 4
    cut = rng.choice((rng.randint(1, head_end - 1), head_end, rng.randint(head_end, len(wire) - 1)))
    ending = rng.choice((Ending.CLOSE, Ending.RESET, Ending.HALF_CLOSE))
    return probe(f"wire/partial-{ending}", wire[:cut], ending=ending)


def pipelined(rng: random.Random, ctx: Context) -> Probe:
    """Two requests in one write, or a valid one followed by garbage."""
    key = rng.choice(ctx.keys)
    first = request(
        ctx,
        "POST",
        CHAT,
        headers=[auth(key), ("Connection", "keep-alive")],
        body=dumps(chat_body(rng, ctx)),
    )
    first = first.replace(b"Connection: close\r\n", b"")
    second = rng.choice((request(ctx, "GET", "/healthz"), rng.choice(NOT_HTTP), rng.randbytes(50)))
    return probe("wire/pipelined", first + second)


def slow(rng: random.Random, ctx: Context) -> Probe:
    """A valid request sent in many small pieces; or sent whole, then the sender half-closes."""
    wire = request(
        ctx, "POST", CHAT, headers=[auth(rng.choice(ctx.keys))], body=dumps(chat_body(rng, ctx))
    )
    if rng.random() < 0.3:
        return probe("wire/half-close", wire, ending=Ending.HALF_CLOSE)
    cuts = sorted(rng.sample(range(1, len(wire)), k=min(len(wire) - 1, rng.randint(2, 12))))
    pieces = [wire[a:b] for a, b in zip([0, *cuts], [*cuts, len(wire)], strict=True)]
    return probe("wire/slow", *pieces)


def not_http(rng: random.Random, _ctx: Context) -> Probe:
    """Bytes that are no HTTP/1.1 request: other protocols, blank lines, noise."""
    data = rng.choice((*NOT_HTTP, rng.randbytes(rng.randint(1, 2000))))
    return probe("wire/not-http", data, ending=Ending.HALF_CLOSE)


CATEGORIES = {
    "chunking": chunking,
    "content_length": content_length,
    "partial": partial,
    "pipelined": pipelined,
    "slow": slow,
    "not_http": not_http,
}
