"""What the harness reads from a response: tokens, the answering model and the gateway's flags.

Headers the harness understands (a gateway under test may send them; none is required):
``x-cache`` (``hit``, ``miss`` or ``coalesced``), ``x-degraded`` (``true`` for a degraded
answer; a JSON body's top-level ``"degraded": true`` counts too) and ``x-budget-warning``
(present when a tenant passed its soft token budget).

Malformed bodies raise ``ProtocolError``: the request failed even if its status was 200.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from .op import CacheStatus


CACHE_HEADER = "x-cache"
DEGRADED_HEADER = "x-degraded"
BUDGET_WARNING_HEADER = "x-budget-warning"

_CACHE_VALUES = {
    "hit": CacheStatus.HIT,
    "miss": CacheStatus.MISS,
    "coalesced": CacheStatus.COALESCED,
}


class ProtocolError(Exception):
    """The response is not what the endpoint promises (bad JSON, a stream cut short)."""


@dataclass(frozen=True, slots=True)
class HeaderFacts:
    """The flags the gateway put in the response headers."""

    cache: CacheStatus
    degraded: bool
    budget_warning: bool

    @classmethod
    def read(cls, headers: Mapping[str, str]) -> HeaderFacts:
        """Parse the headers of one response (lookups are case-insensitive in aiohttp)."""
        cache = _CACHE_VALUES.get(headers.get(CACHE_HEADER, "").strip().lower(), CacheStatus.NONE)
        degraded = headers.get(DEGRADED_HEADER, "").strip().lower() in {"true", "1", "yes"}
        return cls(cache, degraded, BUDGET_WARNING_HEADER in headers)


@dataclass(slots=True)
class BodyFacts:
    """What the body says: the model that answered, token usage, the degraded flag."""

    model: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    degraded: bool = False


def _load(data: bytes) -> dict[str, object]:
    try:
        value = json.loads(data)
    except ValueError as exc:
        raise ProtocolError(f"response body is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ProtocolError("response body is not a JSON object")
    return value


def _read_usage(facts: BodyFacts, usage: object) -> None:
    if isinstance(usage, dict):
        facts.prompt_tokens = int(usage.get("prompt_tokens") or 0)
        facts.completion_tokens = int(usage.get("completion_tokens") or 0)


def read_json_body(data: bytes) -> BodyFacts:
    """Facts of a complete JSON response (chat completion, embeddings, or an error object)."""
    body = _load(data)
    facts = BodyFacts(degraded=body.get("degraded") is True)
    model = body.get("model")
    facts.model = model if isinstance(model, str) else None
    _read_usage(facts, body.get("usage"))
    return facts


@dataclass(slots=True)
class StreamReader:
    """Reads a chat completion SSE stream line by line and timestamps its content tokens."""

    facts: BodyFacts = field(default_factory=BodyFacts)
    token_times_s: list[float] = field(default_factory=list)
    done: bool = False

    def feed(self, line: bytes, now_s: float) -> None:
        """One line of the stream, received at ``now_s``."""
        line = line.strip()
        if not line.startswith(b"data:"):
            return  # blank separators, comments, other SSE fields
        data = line[5:].strip()
        if data == b"[DONE]":
            self.done = True
            return
        chunk = _load(data)
        if self.facts.model is None and isinstance(chunk.get("model"), str):
            self.facts.model = str(chunk["model"])
        _read_usage(self.facts, chunk.get("usage"))
        if _has_content(chunk.get("choices")):
            self.token_times_s.append(now_s)

    def finish(self) -> BodyFacts:
        """The facts of a stream that ended; a stream without ``[DONE]`` was cut short."""
        if not self.done:
            raise ProtocolError("stream ended without data: [DONE]")
        return self.facts


def _has_content(choices: object) -> bool:
    if not isinstance(choices, list):
        return False
    for choice in choices:
        delta = choice.get("delta") if isinstance(choice, dict) else None
        if isinstance(delta, dict) and delta.get("content"):
            return True
    return False
