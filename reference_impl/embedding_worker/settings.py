"""``WorkerSettings``: where the queue and the provider are, and how a worker drains the queue.

Checked when built, so a bad option fails at start-up rather than in the first batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from ..retrieval.documents import DEFAULT_MAX_ATTEMPTS
from ..retry import Backoff


MAX_INPUTS_PER_CALL: Final = 2048
"""OpenAI's limit on inputs per embeddings request, hence the largest batch."""


@dataclass(frozen=True, kw_only=True)
class WorkerSettings:
    """Where the queue and the provider are, and how a worker drains the queue."""

    dsn: str
    provider_url: str
    """The provider's base URL, with or without ``/v1``."""
    provider_api_key: str = "sk-meltproof"
    model: str = "text-embedding-3-small"
    dimensions: int
    """Must equal the size of ``chunks.embedding``; sent to the provider as ``dimensions``."""
    batch_size: int = 64
    idle_poll_s: float = 0.5
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    request_timeout_s: float = 30.0
    backoff: Backoff = field(default_factory=lambda: Backoff(base_s=0.5, cap_s=30.0))
    """Waits after a provider outage or a database error."""

    def __post_init__(self) -> None:
        if not 1 <= self.batch_size <= MAX_INPUTS_PER_CALL:
            raise ValueError(f"batch_size must be in 1..{MAX_INPUTS_PER_CALL}")
        if self.dimensions < 1 or self.max_attempts < 1:
            raise ValueError("dimensions and max_attempts must be at least 1")
        if not (self.idle_poll_s > 0 and self.request_timeout_s > 0):
            raise ValueError("idle_poll_s and request_timeout_s must be positive")

    @property
    def embeddings_url(self) -> str:
        """``<root>/v1/embeddings``, whether or not ``provider_url`` ends in ``/v1``."""
        root = self.provider_url.rstrip("/").removesuffix("/v1")
        return f"{root}/v1/embeddings"
