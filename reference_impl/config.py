"""The gateway's configuration, validated when the gateway starts."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, HttpUrl


class GatewayConfig(BaseModel):
    """Where the provider is and how long to wait for it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider_url: HttpUrl = Field(description="Base URL of the OpenAI-compatible provider.")
    provider_api_key: str = Field("sk-meltproof", min_length=1, description="Sent upstream.")
    upstream_timeout_s: float = Field(30.0, gt=0, description="Whole-call timeout upstream.")
    max_body_bytes: int = Field(1 << 20, gt=0, description="Largest request body accepted.")
