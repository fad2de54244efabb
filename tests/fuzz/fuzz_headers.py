"""Hostile heads: content encodings and charsets, oversized, many, duplicated and broken
headers, methods and paths, API key variants, tenant spoofing, per-request option headers,
and /metrics with and without its scrape token."""

from __future__ import annotations

import base64
import functools
import gzip
import random
import zlib
from dataclasses import replace

from fuzz_probes import (
    CHAT,
    EMBEDDINGS,
    OUTREACH,
    ROUTES,
    SUMMARIZE,
    Context,
    Headers,
    auth,
    chat_body,
    dumps,
    embeddings_body,
    probe,
    request,
)
from fuzz_wire import Probe


POST_ROUTES = (CHAT, EMBEDDINGS, SUMMARIZE, OUTREACH)
BOGUS_ENCODINGS = ("zstd", "snappy", "br", "gzip, br", "gzip, gzip", "GZIP", " identity ", "",
                   "x-gzip", "compress", "*", "identity;q=0", "gzip\x00")  # fmt: skip
CONTENT_TYPES = (
    "application/json; charset=utf-16", "application/json; charset=latin-1", "text/plain",
    "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
    'application/json; charset="utf-8"', "a/b/c;;;=", "application/json; charset=nope", "",
)  # fmt: skip
METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "PROPFIND",
           "BREW", "get", "P0ST", "G\x01T", "A" * 100, "CONNECT", "POST /x")  # fmt: skip
PATHS = (*ROUTES, "/", "/v1/", "/v2/chat/completions", "/v1/chat/completions/", "//healthz",
         "/v1/./chat/completions", "/v1/../metrics", "/v1/chat%2Fcompletions",
         "/metrics?token=x", "/healthz#frag", "/v1/embeddings?x=%zz&&==",
         "http://evil.example/v1/chat/completions", "*", "/" + "a" * 10_000)  # fmt: skip
VERSIONS = (b"HTTP/1.0", b"HTTP/2.0", b"HTTP/1.2", b"HTTP/1.1x", b"http/1.1", b"HTTP/9.9", b"")
SPOOFS = ("X-Tenant-Id", "X-Meltproof-Tenant", "X-Forwarded-For", "X-Real-IP", "Forwarded",
          "X-Api-Key", "X-Forwarded-Host", "X-Original-URL", "X-HTTP-Method-Override",
          "X-Forwarded-Proto")  # fmt: skip
DUPLICABLE = ("Authorization", "Content-Type", "x-prompt-version", "Content-Length", "Host",
              "Transfer-Encoding", "Content-Encoding")  # fmt: skip
MALFORMED_LINES: tuple[tuple[str | bytes, str | bytes], ...] = (
    ("X-A", b"1\rX-B: 2"), ("X-A", b"1\nX-B: 2"), ("X-A", b"1\r\nX-Injected: 2"),
    ("X-A", b"1\r\n  folded"), (b"X A", "1"), (b"Host ", "x"), (b"", "empty name"), (b"X(A)", "1"),
    ("X-\u00c4", "1"), (b"X-\x00", "1"), ("X-A", b"\xff\xfe"), ("X-A", "\u00fc\u20ac"),
    ("X-A", b"a\x00b"), ("X-A", b"\x7f"),
)  # fmt: skip
"""Header lines that break HTTP/1.1: bare CR or LF, folding, bad names, NUL, raw bytes."""
PROMPT_VERSIONS: tuple[str | bytes, ...] = (
    "", " ", "a" * 64, "a" * 65, "../etc", "v1;drop", "v\u00e9", "v1 v2", b"v1\x00", b"v1\r", "*",
    "default", "v" * 1_000,
)  # fmt: skip
"""x-prompt-version values, good and bad (a fresh valid one is drawn besides)."""


@functools.cache
def _bomb(size: int) -> bytes:
    """``size`` zero bytes, gzipped: a few KiB on the wire."""
    return gzip.compress(b"\x00" * size, compresslevel=9, mtime=0)


def _chat(rng: random.Random, ctx: Context) -> bytes:
    return dumps(chat_body(rng, ctx))


def encodings(rng: random.Random, ctx: Context) -> Probe:
    """Bodies compressed, falsely labelled, or in other charsets."""
    body = dumps(chat_body(rng, ctx)) if rng.random() < 0.8 else dumps(embeddings_body(rng, ctx))
    path = CHAT if b'"messages"' in body else EMBEDDINGS
    choice = rng.randrange(6)
    key = auth(rng.choice(ctx.keys))
    if choice == 0:
        encoded, name = rng.choice(
            ((gzip.compress(body, mtime=0), "gzip"), (zlib.compress(body), "deflate"))
        )
        headers: Headers = [key, ("Content-Encoding", name)]
        return probe(f"encoding/{name}", request(ctx, "POST", path, headers=headers, body=encoded))
    if choice == 1:
        garbled = rng.choice(
            (body, gzip.compress(body, mtime=0)[:-9], b"\x1f\x8b" + rng.randbytes(40))
        )
        name = rng.choice(("gzip", "deflate"))
        headers = [key, ("Content-Encoding", name)]
        return probe("encoding/corrupt", request(ctx, "POST", path, headers=headers, body=garbled))
    if choice == 2:
        bomb = _bomb(rng.choice((2 << 20, 32 << 20)))
        headers = [key, ("Content-Encoding", "gzip")]
        return probe("encoding/bomb", request(ctx, "POST", path, headers=headers, body=bomb))
    if choice == 3:
        headers = [key, ("Content-Encoding", rng.choice(BOGUS_ENCODINGS))]
        return probe("encoding/bogus", request(ctx, "POST", path, headers=headers, body=body))
    content_type = rng.choice(CONTENT_TYPES)
    data = body.decode().encode("utf-16") if "utf-16" in content_type else body
    headers = [key, ("Content-Type", content_type)]
    return probe("encoding/charset", request(ctx, "POST", path, headers=headers, body=data))


def headers(rng: random.Random, ctx: Context) -> Probe:
    """Oversized, many, duplicated and malformed header lines on a valid chat request."""
    body = _chat(rng, ctx)
    key = auth(rng.choice(ctx.keys))
    choice = rng.randrange(6)
    if choice == 0:
        size = rng.choice((4_000, 8_190, 8_191, 16_000, 100_000))
        extra: Headers = [("X-Big", "a" * size)]
        kind = "headers/oversized"
    elif choice == 1:
        extra = [(f"X-H{index}", "v") for index in range(rng.choice((50, 99, 100, 101, 1_000)))]
        kind = "headers/many"
    elif choice == 2:
        name = rng.choice(DUPLICABLE)
        values = {
            "Authorization": f"Bearer {rng.choice(ctx.keys)}",
            "Content-Length": "3",
            "Transfer-Encoding": "chunked",
            "Content-Encoding": "gzip",
        }
        extra = [(name, values.get(name, "v2")), (name, values.get(name, "v3"))]
        kind = "headers/duplicated"
    elif choice == 3:
        extra = [rng.choice(MALFORMED_LINES)]
        kind = "headers/malformed"
    elif choice == 4:
        extra = [("Expect", rng.choice(("100-continue", "bogus", "100-continue, x")))]
        kind = "headers/expect"
    else:
        wire = request(ctx, "POST", CHAT, headers=[key], body=body)
        head, _, rest = wire.partition(b"\r\n\r\n")
        return probe("headers/lf-only", head.replace(b"\r\n", b"\n") + b"\n\n" + rest)
    return probe(kind, request(ctx, "POST", CHAT, headers=[key, *extra], body=body))


def methods(rng: random.Random, ctx: Context) -> Probe:
    """Every method (known, unknown, garbled) on every route and on paths that are none;
    request lines of other HTTP versions."""
    method, path = rng.choice(METHODS), rng.choice(PATHS)
    body = _chat(rng, ctx) if rng.random() < 0.5 else None
    wire = request(ctx, method, path, headers=[auth(rng.choice(ctx.keys))], body=body)
    if rng.random() < 0.2:
        version = rng.choice(VERSIONS)
        line, _, rest = wire.partition(b"\r\n")
        wire = line.rsplit(b" ", 1)[0] + (b" " + version if version else b"") + b"\r\n" + rest
        return probe("methods/version", wire)
    return probe("methods", wire)


def auth_variants(rng: random.Random, ctx: Context) -> Probe:
    """API keys missing, misspelt, in other schemes or casings, of another tenant, or two."""
    key = rng.choice(ctx.keys)
    other = rng.choice(ctx.keys[1:] or ctx.keys)
    basic = base64.b64encode(f"{key}:".encode()).decode()
    variants: tuple[Headers, ...] = (
        (),
        [("Authorization", "")],
        [("Authorization", "Bearer ")],
        [("Authorization", "Bearer")],
        [("Authorization", f"bearer {key}")],
        [("Authorization", f"BEARER {key}")],
        [("Authorization", f"BeArEr {key}")],
        [("Authorization", f"Bearer  {key}")],
        [("Authorization", f"Bearer {key} ")],
        [("Authorization", f"Bearer\t{key}")],
        [("Authorization", f"Basic {basic}")],
        [("Authorization", f"Token {key}")],
        [("Authorization", key)],
        [("Authorization", "Bearer sk-wrong-key-000000")],
        [("Authorization", f"Bearer {key}x")],
        [("Authorization", f"Bearer {key[:-1]}")],
        [("Authorization", f"Bearer {other}")],
        [("api-key", key)],
        [("api-key", "")],
        [("api-key", "sk-nope")],
        [("Authorization", f"Bearer {key}"), ("api-key", other)],
        [("Authorization", f"Bearer {key}"), ("Authorization", f"Bearer {other}")],
        [("Authorization", "Bearer " + "k" * 10_000)],
        [("Authorization", "Bearer ключ-🙂")],
        [("Authorization", f"Bearer {key}".encode() + b"\x00")],
        [("Authorization", f"Bearer {key}".encode() + b"\r")],
    )
    path = rng.choice(POST_ROUTES)
    body = _route_body(rng, ctx, path)
    variant = [*rng.choice(variants), ("Content-Type", "application/json")]
    return probe("auth", request(ctx, "POST", path, headers=variant, body=body))


def _route_body(rng: random.Random, ctx: Context, path: str) -> bytes:
    if path == CHAT:
        return _chat(rng, ctx)
    if path == EMBEDDINGS:
        return dumps(embeddings_body(rng, ctx))
    field = "pipeline_id" if path == SUMMARIZE else "candidate_id"
    return dumps({field: rng.randint(0, 100)})


def spoofing(rng: random.Random, ctx: Context) -> Probe:
    """A valid key with headers or body fields that claim another tenant or origin."""
    other_tenant = rng.choice(("acme", "admin", "fuzz-two", "*", "../", "globex"))
    extra: Headers = [(name, other_tenant) for name in rng.sample(SPOOFS, k=rng.randint(1, 4))]
    path = rng.choice(POST_ROUTES[:2])
    body = chat_body(rng, ctx) if path == CHAT else embeddings_body(rng, ctx)
    if rng.random() < 0.5:
        body.update(
            {"tenant": other_tenant, "user": other_tenant, "metadata": {"tenant_id": other_tenant}}
        )
    headers = [auth(rng.choice(ctx.keys)), *extra]
    return probe("spoofing", request(ctx, "POST", path, headers=headers, body=dumps(body)))


def options(rng: random.Random, ctx: Context) -> Probe:
    """x-prompt-version (junk and many distinct valid ones), deadline, cache opt-in and
    idempotency headers."""
    version = rng.choice((f"v{rng.randrange(10**9)}", *PROMPT_VERSIONS))
    extra: list[tuple[str | bytes, str | bytes]] = [("x-prompt-version", version)]
    if rng.random() < 0.3:
        deadline = rng.choice(("", "-1", "0", "abc", "1e3", "600001", "9" * 30, "1", "600000"))
        extra.append(("x-meltproof-deadline-ms", deadline))
    if rng.random() < 0.3:
        extra.append(("x-meltproof-cache", rng.choice(("1", "2", "true", ""))))
    if rng.random() < 0.2:
        extra.append(("Idempotency-Key", rng.choice(("", "k" * 5_000, "ü"))))
    path = rng.choice(POST_ROUTES)
    headers = [auth(rng.choice(ctx.keys)), *extra]
    return probe(
        "options", request(ctx, "POST", path, headers=headers, body=_route_body(rng, ctx, path))
    )


def metrics(rng: random.Random, ctx: Context) -> Probe:
    """/metrics with the scrape token, without it, with a wrong one or a tenant's key."""
    token = ctx.metrics_token
    variants: tuple[tuple[Headers, bool], ...] = (
        ([], token is None),
        ([("Authorization", f"Bearer {token}")], True) if token else ([], True),
        ([("Authorization", "Bearer not-the-token")], token is None),
        ([auth(rng.choice(ctx.keys))], token is None),
        ([("Authorization", f"Basic {token or 'x'}")], token is None),
    )
    extra, authorised = rng.choice(variants)
    method = rng.choice(("GET", "GET", "GET", "HEAD", "POST"))
    sent = probe("metrics", request(ctx, method, "/metrics", headers=extra))
    return replace(sent, metrics_authorised=authorised and method != "POST")


CATEGORIES = {
    "encodings": encodings,
    "headers": headers,
    "methods": methods,
    "auth": auth_variants,
    "spoofing": spoofing,
    "options": options,
    "metrics": metrics,
}
