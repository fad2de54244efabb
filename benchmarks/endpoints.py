"""What a scheduled request looks like on the wire, per endpoint: an explicit registry.

``chat`` and ``chat_stream`` are OpenAI chat completions (JSON and SSE), ``embeddings`` is
``/v1/embeddings``. Requests are deterministic (temperature 0) unless the workload gives
them another temperature, so that a gateway may cache them. The tenant goes in
``X-Tenant-Id`` and, when it has one, its API key in ``Authorization``; a gateway maps the key
to the tenant, the simulated provider reads the header.

``copilot_summarize`` and ``copilot_outreach`` are the gateway's copilot clicks: each names a
pipeline or a candidate of the corpus that ``stack.corpus.generate`` loads, and the gateway
retrieves its rows and context from PostgreSQL and fans out to several LLM calls. The
request's entity (``prompt_id % entities``) picks the row within the tenant's share of the
corpus, so that prompt popularity becomes pipeline and candidate popularity.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import KW_ONLY, dataclass
from typing import ClassVar, Protocol


TENANT_HEADER = "X-Tenant-Id"
PROMPT_VERSION_HEADER = "x-prompt-version"


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
    max_tokens: int | None
    """None sends no ``max_tokens``."""
    _: KW_ONLY
    tenant_index: int = 0
    """The tenant's position in the workload's tenants (the corpus numbers its rows so)."""
    entity: int = 0
    """The entity the prompt is about: ``prompt_id % entities`` of the workload's catalogue."""
    temperature: float | None = 0
    """None sends no ``temperature``."""
    prompt_version: str | None = None
    """Sent as ``x-prompt-version`` when given."""
    content: object = None
    """Recorded ``messages`` (chat) or ``input`` (embeddings) to send instead of the prompt."""
    embedding_model: str | None = None
    """The embeddings model to ask for; None: the endpoint's own."""


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
    if spec.prompt_version is not None:
        headers[PROMPT_VERSION_HEADER] = spec.prompt_version
    return headers


@dataclass(frozen=True)
class ChatCompletions:
    """``POST /v1/chat/completions``, JSON or (``stream``) SSE with usage in the last chunk."""

    name: str
    stream: bool = False

    def build(self, spec: RequestSpec) -> HttpRequest:
        """One user message (or the recorded messages), with the spec's temperature."""
        messages = spec.content or [{"role": "user", "content": spec.prompt}]
        body: dict[str, object] = {"model": spec.model, "messages": messages}
        if spec.temperature is not None:
            body["temperature"] = spec.temperature
        if spec.max_tokens is not None:
            body["max_tokens"] = spec.max_tokens
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
        """The prompt (or the recorded input) as the input."""
        body = {"model": spec.embedding_model or self.model, "input": spec.content or spec.prompt}
        return HttpRequest(
            "POST", "/v1/embeddings", _headers(spec), json.dumps(body).encode(), False
        )


@dataclass(frozen=True)
class CopilotCorpus:
    """The shape of the copilot corpus the copilot endpoints address.

    The scenario runner must load the corpus with exactly these numbers and the workload's
    tenant names in the workload's order::

        stack.corpus.CorpusSpec(
            tenants=len(tenants),
            tenant_names=tenants,
            pipelines_per_tenant=corpus.pipelines_per_tenant,
            candidates_per_pipeline=corpus.candidates_per_pipeline,
        )

    so that tenant ``t`` owns pipelines ``t * pipelines_per_tenant + 1 ...`` and, in each
    pipeline ``p``, candidates ``(p - 1) * candidates_per_pipeline + 1 ...``.
    """

    pipelines_per_tenant: int = 10
    candidates_per_pipeline: int = 4

    def __post_init__(self) -> None:
        if self.pipelines_per_tenant < 1 or self.candidates_per_pipeline < 1:
            raise ValueError(
                "pipelines_per_tenant and candidates_per_pipeline must be at least 1, got"
                f" {self.pipelines_per_tenant} and {self.candidates_per_pipeline}"
            )

    def pipeline_id(self, tenant_index: int, entity: int) -> int:
        """The pipeline of tenant ``tenant_index`` that ``entity`` is about."""
        return tenant_index * self.pipelines_per_tenant + entity % self.pipelines_per_tenant + 1

    def candidate_id(self, tenant_index: int, entity: int) -> int:
        """The candidate ``entity`` is: one of the pipeline ``pipeline_id`` gives for it.

        Entities modulo the tenant's candidate count map one to one onto its candidates.
        """
        slot = entity // self.pipelines_per_tenant % self.candidates_per_pipeline
        pipeline_id = self.pipeline_id(tenant_index, entity)
        return (pipeline_id - 1) * self.candidates_per_pipeline + slot + 1


DEFAULT_COPILOT_CORPUS = CopilotCorpus()


@dataclass(frozen=True)
class _CopilotClick:
    """A copilot click about the entity's row of the corpus; the row's id is the body.

    The answer has no ``usage``: its tokens stay 0 in the table (the provider counts them).
    A 200 whose body says ``"degraded": true`` (or with ``x-degraded``) is recorded degraded.
    """

    name: str
    corpus: CopilotCorpus = DEFAULT_COPILOT_CORPUS
    path: ClassVar[str]
    id_field: ClassVar[str]

    def row_id(self, spec: RequestSpec) -> int:
        """The id of the row this click is about."""
        raise NotImplementedError

    def build(self, spec: RequestSpec) -> HttpRequest:
        """``{id_field: row_id}`` to ``path``."""
        body = {self.id_field: self.row_id(spec)}
        return HttpRequest("POST", self.path, _headers(spec), json.dumps(body).encode(), False)


@dataclass(frozen=True)
class CopilotSummarize(_CopilotClick):
    """``POST /v1/copilot/summarize`` of the entity's pipeline: one LLM call per candidate."""

    path: ClassVar[str] = "/v1/copilot/summarize"
    id_field: ClassVar[str] = "pipeline_id"

    def row_id(self, spec: RequestSpec) -> int:
        """The entity's pipeline."""
        return self.corpus.pipeline_id(spec.tenant_index, spec.entity)


@dataclass(frozen=True)
class CopilotOutreach(_CopilotClick):
    """``POST /v1/copilot/outreach`` to the entity's candidate: three LLM calls."""

    path: ClassVar[str] = "/v1/copilot/outreach"
    id_field: ClassVar[str] = "candidate_id"

    def row_id(self, spec: RequestSpec) -> int:
        """The entity's candidate."""
        return self.corpus.candidate_id(spec.tenant_index, spec.entity)


ENDPOINTS: Mapping[str, Endpoint] = {
    "chat": ChatCompletions("chat"),
    "chat_stream": ChatCompletions("chat_stream", stream=True),
    "embeddings": Embeddings("embeddings"),
    "copilot_summarize": CopilotSummarize("copilot_summarize"),
    "copilot_outreach": CopilotOutreach("copilot_outreach"),
}


def endpoint(name: str) -> Endpoint:
    """The endpoint registered as ``name``, or a ValueError that lists the known ones."""
    try:
        return ENDPOINTS[name]
    except KeyError:
        known = ", ".join(sorted(ENDPOINTS))
        raise ValueError(f"unknown endpoint {name!r}; known endpoints: {known}") from None
