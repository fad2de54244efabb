"""Configuration of the simulated provider: its model deployments and limits."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator


MIB = 1024 * 1024


class ModelSpec(BaseModel):
    """One model deployment: its latency profile, capacity and limits."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    kind: Literal["chat", "embedding"] = "chat"
    ttft_ms: float = Field(default=300.0, ge=0)
    """Median time to first token at zero load."""
    tpot_ms: float = Field(default=12.0, ge=0)
    """Median time per output token after the first."""
    jitter: float = Field(default=0.2, ge=0, le=3)
    """Sigma of the lognormal noise on ttft and on each inter-token gap."""
    slots: int = Field(default=64, ge=1)
    """Requests served concurrently; the rest wait in FIFO order."""
    load_slowdown: float = Field(default=0.5, ge=0)
    """tpot is multiplied by 1 + load_slowdown * busy / slots (batching)."""
    output_tokens_min: int = Field(default=40, ge=1)
    output_tokens_max: int = Field(default=160, ge=1)
    rpm: int | None = Field(default=None, ge=1)
    """Requests per minute of the deployment, shared by all keys."""
    tpm: int | None = Field(default=None, ge=1)
    """Tokens per minute of the deployment, shared by all keys."""
    dimensions: int = Field(default=1536, ge=1, le=16384)
    """Embedding size (embedding models only)."""

    @model_validator(mode="after")
    def _check_lengths(self) -> Self:
        if self.output_tokens_min > self.output_tokens_max:
            raise ValueError("output_tokens_min must be <= output_tokens_max")
        return self


class KeyLimits(BaseModel):
    """Limits per (API key, model), like OpenAI's per-organisation limits."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rpm: int | None = Field(default=None, ge=1)
    tpm: int | None = Field(default=None, ge=1)


DEFAULT_MODELS = (
    ModelSpec(name="gpt-4o", ttft_ms=450, tpot_ms=20, slots=64),
    ModelSpec(name="gpt-4o-mini", ttft_ms=250, tpot_ms=10, slots=128),
    ModelSpec(name="local-llm", ttft_ms=80, tpot_ms=6, slots=16),
    ModelSpec(name="text-embedding-3-small", kind="embedding", dimensions=1536, ttft_ms=40),
    ModelSpec(name="text-embedding-3-large", kind="embedding", dimensions=3072, ttft_ms=60),
)


class ProviderConfig(BaseModel):
    """Everything the provider needs to run; replaceable at runtime."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    models: tuple[ModelSpec, ...] = Field(default=DEFAULT_MODELS, min_length=1)
    key_limits: KeyLimits = KeyLimits()
    seed: int = 0
    max_body_bytes: int = Field(default=4 * MIB, ge=1024)

    @model_validator(mode="after")
    def _check_unique_names(self) -> Self:
        names = [m.name for m in self.models]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"model names must be unique, repeated: {', '.join(duplicates)}")
        return self
