"""What a scheduled request looks like on the wire, per endpoint: an explicit registry.

``chat`` and ``chat_stream`` are OpenAI chat completions (JSON and SSE), ``embeddings`` is
``/v1/embeddings``. Requests are deterministic (temperature 0), so that a gateway may cache
them. The tenant goes in ``X-Tenant-Id`` and, when it has one, its API key in
``Authorization``; a gateway maps the key to the tenant, the simulated provider reads the
header.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol


TENANT_HEADER = "X-Tenant-Id"


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """One request, ready to send: path relative to the target's base URL."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes
    stream: bool


@dataclass(frozen=True, slots=True)
class RequestSpec:
    """What varies per request."""

    tenant: str
    api_key: str | None
    prompt: str
    model: str
    max_tokens: int


class Endpoint(Protocol):
    """Builds the HTTP request for one scheduled request."""

    @property
    def name(self) -> str:
        """The name schedules use for it."""
        ...

    def build(self, spec: RequestSpec) -> HttpRequest:
        """The request for ``spec``."""
        ...


def _headers(spec: RequestSpec) -> dict[str, str]:
    headers = {"Content-Type": "application/json", TENANT_HEADER: spec.tenant}
    if spec.api_key:
        headers["Authorization"] = f"Bearer {spec.api_key}"
    return headers


@dataclass(frozen=True)
class ChatCompletions:
    """``POST /v1/chat/completions``, JSON or (``stream``) SSE with usage in the last chunk."""

    name: str
    stream: bool = False

    def build(self, spec: RequestSpec) -> HttpRequest:
        """One user message, temperature 0."""
        body: dict[str, object] = {
            "model": spec.model,
            "messages": [{"role": "user", "content": spec.prompt}],
            "temperature": 0,
            "max_tokens": spec.max_tokens,
        }
        if self.stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        return HttpRequest(
            "POST", "/v1/chat/completions", _headers(spec), json.dumps(body).encode(), self.stream
        )


@dataclass(frozen=True)
class Embeddings:
    """``POST /v1/embeddings`` of the prompt with ``model`` (an embedding model)."""

    name: str
    model: str = "text-embedding-3-small"

    def build(self, spec: RequestSpec) -> HttpRequest:
        """The prompt as the single input."""
        body = {"model": self.model, "input": spec.prompt}
        return HttpRequest(
            "POST", "/v1/embeddings", _headers(spec), json.dumps(body).encode(), False
        )


ENDPOINTS: Mapping[str, Endpoint] = {
    "chat": ChatCompletions("chat"),
    "chat_stream": ChatCompletions("chat_stream", stream=True),
    "embeddings": Embeddings("embeddings"),
}


def endpoint(name: str) -> Endpoint:
    """The endpoint registered as ``name``, or a ValueError that lists the known ones."""
    try:
        return ENDPOINTS[name]
    except KeyError:
        known = ", ".join(sorted(ENDPOINTS))
        raise ValueError(f"unknown endpoint {name!r}; known endpoints: {known}") from None
