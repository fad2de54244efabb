"""Read OpenAI batch-API input (JSON lines of requests with real prompts) into a ``ReplayTrace``.

Each line is ``{"custom_id": ..., "method": "POST", "url": "/v1/chat/completions" or
"/v1/embeddings", "body": {...}}``. The replay sends each body's ``messages`` (or ``input``),
``model``, ``max_tokens`` (or ``max_completion_tokens``), ``temperature`` and ``stream`` as
they are; other body fields are not sent. The file has no times: a replay spreads its lines,
in file order, over the arrivals it is given. Every line belongs to one tenant.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from .replay_trace import NO_MAX_TOKENS, ReplayTrace, TraceBuilder, TraceError


ROUTES = {"/v1/chat/completions": "chat", "/v1/embeddings": "embeddings"}
DEFAULT_TENANT = "default"


def read_batch(path: Path, *, tenant: str = DEFAULT_TENANT) -> ReplayTrace:
    """The requests of the batch input file ``path``, all as ``tenant``."""
    source = str(path)
    builder = TraceBuilder(source)
    for number, record in _lines(path):
        if not isinstance(record, dict):
            raise TraceError(source, number, "not a JSON object")
        _add(builder, source, number, record, tenant)
    return builder.build(keep_prompts=True)


def _add(
    builder: TraceBuilder, source: str, number: int, record: Mapping[str, Any], tenant: str
) -> None:
    def fail(message: str) -> TraceError:
        return TraceError(source, number, message)

    url = record.get("url")
    route = ROUTES.get(url) if isinstance(url, str) else None
    if route is None:
        raise fail(f"field 'url' must be one of {', '.join(ROUTES)}, got {url!r}")
    method = record.get("method", "POST")
    if method != "POST":
        raise fail(f"field 'method' must be 'POST', got {method!r}")
    body = record.get("body")
    if not isinstance(body, dict):
        raise fail("field 'body' must be a JSON object (the request's body)")
    model = body.get("model")
    if not (isinstance(model, str) and model):
        raise fail(f"field 'body.model' must be a non-empty string, got {model!r}")
    content_field = "messages" if route == "chat" else "input"
    content = body.get(content_field)
    if route == "chat" and not (isinstance(content, list) and content):
        raise fail("field 'body.messages' must be a non-empty list of messages")
    if route == "embeddings" and not (isinstance(content, str | list) and content):
        raise fail("field 'body.input' must be a non-empty string or list")
    max_tokens = body.get("max_tokens", body.get("max_completion_tokens"))
    if max_tokens is not None and not (_is_int(max_tokens) and max_tokens >= 1):
        raise fail(f"field 'body.max_tokens' must be an integer >= 1, got {max_tokens!r}")
    temperature = body.get("temperature")
    if temperature is not None and not (_is_number(temperature) and 0 <= temperature <= 2):  # noqa: PLR2004 - the API's range
        raise fail(f"field 'body.temperature' must be a number in [0, 2], got {temperature!r}")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise fail(f"field 'body.stream' must be true or false, got {stream!r}")
    identity = (route, model, json.dumps(content, sort_keys=True), max_tokens, temperature)
    builder.add(
        at_s=None,
        tenant=tenant,
        endpoint="chat_stream" if stream and route == "chat" else route,
        identity=identity,
        prompt=content,
        prompt_tokens=0,
        max_tokens=max_tokens or NO_MAX_TOKENS,
        temperature=None if temperature is None else float(temperature),
        model=model,
        prompt_version="default",
    )


def _lines(path: Path) -> Iterator[tuple[int, object]]:
    source = str(path)
    try:
        with path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                try:
                    yield number, json.loads(line)
                except json.JSONDecodeError as exc:
                    raise TraceError(source, number, f"not a JSON object: {exc.msg}") from None
    except OSError as exc:
        raise TraceError(source, None, f"cannot read the file: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise TraceError(source, None, "not UTF-8 text") from None


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
