"""Hostile request bodies: deep nesting, huge sizes and numbers, wrong types, awkward unicode
and byte encodings, streaming switches, and copilot ids of every kind."""

from __future__ import annotations

import json
import random
from typing import Any

from fuzz_probes import (
    CHAT,
    EMBEDDINGS,
    OUTREACH,
    SUMMARIZE,
    Context,
    chat_body,
    dumps,
    embeddings_body,
    post,
    probe,
    prompt,
    request,
)
from fuzz_wire import Probe

from reference_impl.config import GatewayConfig


MAX_BODY_BYTES = GatewayConfig.model_fields["max_body_bytes"].default
RAW = "\u0000raw\u0000"
"""Stands for raw JSON text spliced in after encoding (numbers json.dumps cannot write)."""
DEPTHS = (2, 10, 62, 63, 64, 65, 66, 100, 1_000, 50_000)
HUGE_NUMBERS = (
    b"1e308", b"1e999", b"-1e999", b"-0", b"0.0000000000000000000000001", b"9" * 4_300,
    b"9" * 5_000, b"-" + b"9" * 20_000, b"1" + b"0" * 400 + b".5", b"1E+400000",
)  # fmt: skip
WRONG_VALUES: tuple[Any, ...] = (
    None, True, False, 0, -1, 1.5, 2**63, -(2**63) - 1, float("nan"), float("inf"),
    float("-inf"), "", "x", "1", "true", [], [None], [[[]]], {}, {"a": 1},
)  # fmt: skip
STRANGE_TEXT = (
    "\x00", "a\x00b", "\ud800", "\udfff", "\ud83d\ude00", "\ufeff", "\u202etxet", "\u200b" * 50,
    "e\u0301" * 500, "\uffff\ufffe", "\U0010ffff", "\x1b[31m", "\u2028\u2029", "\r\n\r\n",
    "data: [DONE]\n\n", "😀" * 300, "\\u0000", "\t\x0b\x0c", "%s%n%x", "{{7*7}}",
)  # fmt: skip


def nesting(rng: random.Random, ctx: Context) -> Probe:
    """Arrays and objects nested around and beyond the limit, anywhere in a body."""
    depth = rng.choice(DEPTHS)
    closed = rng.random() < 0.8
    kind = rng.choice(("array", "object", "mixed"))
    nested = _nested_text(rng, depth, kind, closed=closed)
    where = rng.choice(("top", "message", "content", "response_format", "input", "copilot"))
    templates = {
        "top": (CHAT, b"%s"),
        "message": (CHAT, _spliced(chat_body(rng, ctx), ("messages", 0, "extra"))),
        "content": (CHAT, _spliced(chat_body(rng, ctx), ("messages", 0, "content"))),
        "response_format": (CHAT, _spliced(chat_body(rng, ctx), ("response_format",))),
        "input": (EMBEDDINGS, _spliced(embeddings_body(rng, ctx), ("input",))),
        "copilot": (SUMMARIZE, b'{"pipeline_id": 1, "x": %s}'),
    }
    path, template = templates[where]
    return post(rng, ctx, f"body/nesting/{where}", path, template.replace(b"%s", nested))


def _nested_text(rng: random.Random, depth: int, kind: str, *, closed: bool) -> bytes:
    opening, closing = bytearray(), bytearray()
    for _ in range(depth):
        is_array = kind == "array" or (kind == "mixed" and rng.random() < 0.5)
        opening += b"[" if is_array else b'{"k":'
        closing[:0] = b"]" if is_array else b"}"
    return bytes(opening) + b"1" + (bytes(closing) if closed else b"")


def _spliced(body: dict[str, Any], path: tuple[str | int, ...]) -> bytes:
    """``body`` as JSON with ``%s`` where ``path`` points (raw text goes there)."""
    return dumps(_set(body, path, RAW)).replace(json.dumps(RAW).encode(), b"%s")


def _set(body: Any, path: tuple[str | int, ...], value: Any) -> Any:
    """A copy of ``body`` with ``value`` at ``path`` (dict keys and list indexes)."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(body, list) and isinstance(head, int) and head < len(body):
        return [*body[:head], _set(body[head], rest, value), *body[head + 1 :]]
    copy = dict(body) if isinstance(body, dict) else {}
    copy[str(head)] = _set(copy.get(str(head)), rest, value)
    return copy


def sizes(rng: random.Random, ctx: Context) -> Probe:
    """Bodies at and over the size limit, many messages or keys, huge numbers and caps."""
    return rng.choice(_SIZES)(rng, ctx)


def _long_prompt(rng: random.Random, ctx: Context) -> Probe:
    length = rng.choice((0, 100_000, MAX_BODY_BYTES - 400, MAX_BODY_BYTES + 1, 3 << 20))
    body = chat_body(rng, ctx)
    body["messages"][0]["content"] = prompt(rng, ctx) + "x" * length
    return post(rng, ctx, f"body/size/{length}", CHAT, body)


def _many_messages(rng: random.Random, ctx: Context) -> Probe:
    count = rng.choice((1_000, 10_000))
    messages = [{"role": "user", "content": prompt(rng, ctx, 1)} for _ in range(count)]
    return post(rng, ctx, "body/size/messages", CHAT, chat_body(rng, ctx, messages=messages))


def _many_keys(rng: random.Random, ctx: Context) -> Probe:
    extra = {f"k{index}": index for index in range(rng.choice((1_000, 40_000)))}
    return post(rng, ctx, "body/size/keys", CHAT, {**chat_body(rng, ctx), **extra})


def _huge_number(rng: random.Random, ctx: Context) -> Probe:
    field = rng.choice(("temperature", "max_tokens", "max_completion_tokens", "n", "seed"))
    template = _spliced(chat_body(rng, ctx), (field,))
    return post(rng, ctx, "body/size/number", CHAT, template.replace(b"%s", _number(rng)))


def _huge_id(rng: random.Random, ctx: Context) -> Probe:
    field, path = rng.choice((("pipeline_id", SUMMARIZE), ("candidate_id", OUTREACH)))
    body = b'{"%s": %s}' % (field.encode(), _number(rng))
    return post(rng, ctx, "body/size/id", path, body)


def _long_model(rng: random.Random, ctx: Context) -> Probe:
    model = rng.choice(("m" * 100_000, "gpt-4o" + " " * 10_000))
    return post(rng, ctx, "body/size/model", CHAT, chat_body(rng, ctx, model=model))


def _largest_caps(rng: random.Random, ctx: Context) -> Probe:
    body = chat_body(rng, ctx, n=rng.choice((1, 64, 128)), max_tokens=rng.choice((1, 1_000_000)))
    return post(rng, ctx, "body/size/caps", CHAT, body)


_SIZES = (
    _long_prompt,
    _many_messages,
    _many_keys,
    _huge_number,
    _huge_id,
    _long_model,
    _largest_caps,
)


def _number(rng: random.Random) -> bytes:
    return rng.choice(HUGE_NUMBERS)


CHAT_FIELDS: tuple[tuple[str | int, ...], ...] = (
    (), ("model",), ("messages",), ("messages", 0), ("messages", 0, "role"),
    ("messages", 0, "content"), ("messages", 0, "content", 0), ("messages", 0, "name"),
    ("stream",), ("stream_options",), ("stream_options", "include_usage"), ("temperature",),
    ("max_tokens",), ("max_completion_tokens",), ("n",), ("response_format",), ("tools",),
    ("user",), ("metadata",), ("seed",), ("top_p",), ("stop",), ("logit_bias",),
)  # fmt: skip
EMBEDDINGS_INPUTS: tuple[Any, ...] = (
    [], [""], [None], [1.5], [-1], [2**70], [[]], [[1, "a"]], [[[1]]], {"text": "x"}, [{}],
    True, 7, ["a", 1], [[-5, 2**40]],
)  # fmt: skip


def types(rng: random.Random, ctx: Context) -> Probe:
    """A valid body with one field (or the body itself) of a wrong type or out of range."""
    value = rng.choice(WRONG_VALUES)
    route = rng.choice(("chat", "chat", "embeddings", "copilot"))
    if route == "chat":
        path = rng.choice(CHAT_FIELDS)
        body = _set(chat_body(rng, ctx), path, value) if path else value
        return post(rng, ctx, "body/types/chat", CHAT, dumps(body))
    if route == "embeddings":
        body = embeddings_body(rng, ctx)
        if rng.random() < 0.5:
            body["input"] = rng.choice(EMBEDDINGS_INPUTS)
        else:
            body[rng.choice(("model", "input", "dimensions", "encoding_format"))] = value
        return post(rng, ctx, "body/types/embeddings", EMBEDDINGS, dumps(body))
    field, route_path = rng.choice((("pipeline_id", SUMMARIZE), ("candidate_id", OUTREACH)))
    copilot: dict[str, Any] = {field: value}
    if rng.random() < 0.3:  # unknown fields are refused on the copilot
        copilot = {field: 1, rng.choice(("stream", "model", "tenant")): value}
    return post(rng, ctx, "body/types/copilot", route_path, dumps(copilot))


def unicode(rng: random.Random, ctx: Context) -> Probe:
    """Strange text in prompts, roles, models and keys; bodies in other byte encodings."""
    text = "".join(rng.choices(STRANGE_TEXT, k=rng.randint(1, 4)))
    body = chat_body(rng, ctx)
    where = rng.randrange(5)
    if where == 0:
        body["messages"][0]["content"] = f"{prompt(rng, ctx)} {text}"
    elif where == 1:
        body["messages"][0]["content"] = [{"type": "text", "text": f"{prompt(rng, ctx)}{text}"}]
    elif where == 2:
        body["messages"][0][rng.choice(("role", "name"))] = f"user{text}"
    elif where == 3:
        body["model"] = f"{body['model']}{text}"
    else:
        body[text] = text
    encoding = rng.choice(("ascii", "utf-8", "utf-8-sig", "utf-16", "utf-32", "latin-1", "bad"))
    return post(rng, ctx, f"body/unicode/{encoding}", CHAT, _encoded(body, encoding))


def _encoded(body: dict[str, Any], encoding: str) -> bytes:
    """``body`` as JSON in ``encoding``: ``ascii`` escapes everything, ``bad`` leaves lone
    surrogates as invalid UTF-8 bytes and adds an overlong sequence."""
    if encoding == "ascii":
        return dumps(body)
    text = json.dumps(body, ensure_ascii=False)
    if encoding == "bad":
        return text.encode("utf-8", "surrogatepass").replace(b"user", b"us\xc0\xafer", 1)
    return text.encode(encoding, "surrogatepass" if encoding.startswith("utf") else "replace")


STREAM_SWITCHES: tuple[Any, ...] = (True, True, True, False, None, "true", 1, 0, [], {})
STREAM_OPTIONS: tuple[Any, ...] = (
    None, {"include_usage": True}, {"include_usage": False}, {"include_usage": "yes"}, [],
    "usage", {"x": 1},
)  # fmt: skip
JSON_SCHEMA_FORMAT = {
    "type": "json_schema",
    "json_schema": {
        "name": "a",
        "schema": {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
    },
}


def streaming(rng: random.Random, ctx: Context) -> Probe:
    """Streams on and off, with every spelling of the switches and options; some with a
    deadline too short to answer in (a degraded answer, replayed as events)."""
    if rng.random() < 0.1:
        body = embeddings_body(rng, ctx, stream=True)
        return post(rng, ctx, "body/streaming/embeddings", EMBEDDINGS, body)
    fields: dict[str, Any] = {"stream": rng.choice(STREAM_SWITCHES)}
    options = rng.choice(STREAM_OPTIONS)
    if options is not None:
        fields["stream_options"] = options
    if rng.random() < 0.3:
        fields["n"] = rng.choice((1, 2, 5))
    if rng.random() < 0.2:
        fields["response_format"] = JSON_SCHEMA_FORMAT
    headers = []
    if rng.random() < 0.2:
        headers.append(("x-meltproof-deadline-ms", rng.choice(("1", "5", "50"))))
    body = chat_body(rng, ctx, **fields)
    return post(rng, ctx, "body/streaming/chat", CHAT, body, headers=headers)


def copilot(rng: random.Random, ctx: Context) -> Probe:
    """Copilot requests for the tenant's own rows, another tenant's, and ids that are none."""
    key = rng.choice(ctx.keys)
    other = rng.choice([k for k in ctx.keys if k != key] or [key])
    summarize = rng.random() < 0.5
    rows = ctx.pipelines if summarize else ctx.candidates
    own, foreign = rows.get(key, ()), rows.get(other, ())
    identifier = rng.choice(
        (*own[:3], *foreign[:3], 0, 2**31, 2**63 - 1, 2**63, 2**64, rng.randint(1, 10**6))
    )
    field, path = ("pipeline_id", SUMMARIZE) if summarize else ("candidate_id", OUTREACH)
    headers = [("Authorization", f"Bearer {key}"), ("Content-Type", "application/json")]
    body = dumps({field: identifier})
    return probe("body/copilot", request(ctx, "POST", path, headers=headers, body=body))


CATEGORIES = {
    "nesting": nesting,
    "sizes": sizes,
    "types": types,
    "unicode": unicode,
    "streaming": streaming,
    "copilot": copilot,
}
