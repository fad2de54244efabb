"""What every hand-made probe is built from: the target's facts, request bytes, and prompts
that carry the run's canary."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fuzz_wire import Ending, Probe


CHAT = "/v1/chat/completions"
EMBEDDINGS = "/v1/embeddings"
SUMMARIZE = "/v1/copilot/summarize"
OUTREACH = "/v1/copilot/outreach"
ROUTES = ("/healthz", "/metrics", "/openapi.json", CHAT, EMBEDDINGS, SUMMARIZE, OUTREACH)
WORDS = ("candidate", "pipeline", "summary", "Kafka", "offer", "résumé", "候选人", "مرشح", "🙂")

HeaderValue = str | bytes
Headers = Sequence[tuple[str | bytes, HeaderValue]]


@dataclass(frozen=True)
class Context:
    """What probes need to know of the gateway under test."""

    canary: str
    """A random marker in every prompt text: it must never show up in logs, Redis,
    PostgreSQL or metrics."""
    host: str
    keys: tuple[str, ...]
    """API keys, one per tenant."""
    chat_models: tuple[str, ...]
    embedding_models: tuple[str, ...]
    pipelines: Mapping[str, tuple[int, ...]]
    """API key -> its tenant's pipeline ids."""
    candidates: Mapping[str, tuple[int, ...]]
    """API key -> its tenant's candidate ids."""
    metrics_token: str | None
    """The scrape token /metrics asks for; None when the gateway asks for none."""


Builder = Callable[[random.Random, Context], Probe]


def request(
    ctx: Context,
    method: str | bytes,
    path: str | bytes,
    *,
    headers: Headers = (),
    body: bytes | None = None,
    content_length: bool = True,
) -> bytes:
    """An HTTP/1.1 request: Host, then ``headers``, ``Content-Length`` of ``body`` (unless
    told not to), ``Connection: close``; str values are sent as UTF-8."""
    lines = [_bytes(method) + b" " + _bytes(path) + b" HTTP/1.1", b"Host: " + ctx.host.encode()]
    lines += [_bytes(name) + b": " + _bytes(value) for name, value in headers]
    if body is not None and content_length:
        lines.append(b"Content-Length: " + str(len(body)).encode())
    lines.append(b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n" + (body or b"")


def _bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")


def probe(kind: str, *parts: bytes, ending: Ending = Ending.READ) -> Probe:
    """A probe of ``kind`` sent as ``parts``."""
    return Probe(kind=kind, parts=parts, ending=ending)


def auth(key: str) -> tuple[str, str]:
    """The Authorization header of ``key``."""
    return ("Authorization", f"Bearer {key}")


def json_headers(rng: random.Random, ctx: Context) -> list[tuple[str, str]]:
    """A tenant's key and the JSON content type."""
    return [auth(rng.choice(ctx.keys)), ("Content-Type", "application/json")]


def dumps(value: Any) -> bytes:
    """``value`` as JSON bytes (lone surrogates kept as escapes)."""
    return json.dumps(value).encode()


def post(
    rng: random.Random,
    ctx: Context,
    kind: str,
    path: str,
    body: bytes | Any,
    *,
    headers: Headers = (),
) -> Probe:
    """A POST of ``body`` (JSON unless bytes) with a tenant's key and ``headers``."""
    data = body if isinstance(body, bytes) else dumps(body)
    all_headers = [*json_headers(rng, ctx), *headers]
    return probe(kind, request(ctx, "POST", path, headers=all_headers, body=data))


def prompt(rng: random.Random, ctx: Context, words: int = 6) -> str:
    """Prompt text carrying the canary."""
    return " ".join([ctx.canary, *rng.choices(WORDS, k=words)])


def chat_body(rng: random.Random, ctx: Context, **fields: Any) -> dict[str, Any]:
    """A valid chat request (deterministic half the time, so the cache and coalescing see it)."""
    body: dict[str, Any] = {
        "model": rng.choice(ctx.chat_models),
        "messages": [{"role": "user", "content": prompt(rng, ctx)}],
        "max_tokens": rng.randint(1, 16),
    }
    if rng.random() < 0.5:
        body["temperature"] = 0
    return {**body, **fields}


def embeddings_body(rng: random.Random, ctx: Context, **fields: Any) -> dict[str, Any]:
    """A valid embeddings request."""
    return {"model": rng.choice(ctx.embedding_models), "input": prompt(rng, ctx), **fields}


def with_canary(value: Any, canary: str) -> Any:
    """A request body with the canary put in front of every prompt text it has (message
    contents and text parts, embeddings input strings), wherever their shape allows."""
    if not isinstance(value, dict):
        return value
    body = dict(value)
    messages = body.get("messages")
    if isinstance(messages, list):
        body["messages"] = [_message_with_canary(message, canary) for message in messages]
    text = body.get("input")
    if isinstance(text, str):
        body["input"] = f"{canary} {text}"
    elif isinstance(text, list):
        body["input"] = [f"{canary} {item}" if isinstance(item, str) else item for item in text]
    return body


def _message_with_canary(message: Any, canary: str) -> Any:
    if not isinstance(message, dict):
        return message
    content = message.get("content")
    if isinstance(content, str):
        return {**message, "content": f"{canary} {content}"}
    if isinstance(content, list):
        parts = [
            {**part, "text": f"{canary} {part['text']}"}
            if isinstance(part, dict) and isinstance(part.get("text"), str)
            else part
            for part in content
        ]
        return {**message, "content": parts}
    return message
