"""The ``tracing`` section of the gateway's config: OpenTelemetry spans over OTLP/HTTP.

Off by default (and in both profiles: tracing is an operator's choice, not a pattern). When
on, every ``/v1/`` request gets a span, parented on the client's W3C ``traceparent`` when
it sends one; a request with a sampled ``traceparent`` is always traced, one without is
traced at ``sample_ratio``.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator
from yarl import URL


TRACES_PATH = "/v1/traces"
"""OTLP/HTTP's path for spans."""


class TracingConfig(BaseModel):
    """Where spans go and which requests make them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    endpoint: HttpUrl | None = Field(
        None,
        description="The OTLP/HTTP (protobuf) receiver: a base URL (http://127.0.0.1:4318) or "
        "the traces URL itself (.../v1/traces). None: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, "
        "OTEL_EXPORTER_OTLP_ENDPOINT, else http://localhost:4318.",
    )
    service_name: str = Field("meltproof-gateway", min_length=1, max_length=128)
    sample_ratio: float = Field(
        1.0,
        ge=0,
        le=1,
        description="Share of requests traced when the client sends no sampled traceparent.",
    )
    export_delay_s: float = Field(
        1.0, gt=0, le=60, description="How long finished spans wait to be sent in a batch."
    )
    export_timeout_s: float = Field(5.0, gt=0, le=60, description="Longest export request.")
    max_queued_spans: int = Field(
        8192, gt=0, description="Spans kept while the receiver is slow; more are dropped."
    )

    @field_validator("endpoint", mode="after")
    @classmethod
    def _traces_url(cls, url: HttpUrl | None) -> HttpUrl | None:
        """A base URL means the traces path under it; a URL with a path is taken as it is."""
        if url is None:
            return None
        given = URL(str(url))
        if given.path in {"", "/"}:
            return HttpUrl(str(given.with_path(TRACES_PATH)))
        return url
