"""The retrieval benchmark's sizes, rates and targets, and the embedding model it serves."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from stack.provider.config import ModelSpec, ProviderConfig


NAME = "retrieval"
MODULE = f"benchmarks.bench.{NAME}"
DIMENSIONS_ENV = "MELTPROOF_BENCH_RETRIEVAL_DIMENSIONS"
DEFAULT_DIMENSIONS = 1536
RECALL_TARGET = 0.95
SEARCH_P99_LIMIT_S = 0.010
OLTP_P99_FACTOR = 1.2
EMBEDDING_MODEL = "text-embedding-3-small"
"""The embedding worker's default model, served by the provider at the corpus's size."""
EMBEDDING_TTFT_MS = 5.0
INDEX_MEMORY_MB = 2048
"""``maintenance_work_mem`` of the index build: the whole graph of 100,000 x 1536 fits."""


@dataclass(frozen=True)
class RetrievalParameters:
    """Sizes, rates and durations of one run."""

    chunks: int
    dimensions: int
    queries: int
    ef_searches: tuple[int, ...]
    oltp_rate_rps: int
    oltp_duration_s: float
    warmup_s: float
    vector_workers: int
    queue_jobs: int
    worker_counts: tuple[int, ...] = (1, 2)
    seed: int = 0

    @classmethod
    def for_run(cls, *, quick: bool, dimensions: int) -> RetrievalParameters:
        """100,000 chunks, 300 queries, 15 s per OLTP scenario, 5,000 jobs; ``quick``: 20,000,
        100 queries, 5 s, 1,000 jobs."""
        ef_searches = (40, 64, 100, 200, 400)
        if quick:
            return cls(20_000, dimensions, 100, ef_searches, 200, 5.0, 1.0, 8, 1_000)
        return cls(100_000, dimensions, 300, ef_searches, 200, 15.0, 3.0, 8, 5_000)


def dimensions_from_env(environ: Mapping[str, str] = os.environ) -> int:
    """The embedding size to benchmark: ``DIMENSIONS_ENV`` if set, else 1536."""
    text = environ.get(DIMENSIONS_ENV, "").strip()
    if not text:
        return DEFAULT_DIMENSIONS
    if not text.isdigit() or not 0 < int(text) <= 16_000:  # noqa: PLR2004 - pgvector's limit
        raise RuntimeError(f"{DIMENSIONS_ENV} must be a size in 1..16000, got {text!r}")
    return int(text)


def provider_config(dimensions: int) -> ProviderConfig:
    """The simulated provider's config: ``EMBEDDING_MODEL`` at ``dimensions``."""
    model = ModelSpec(
        name=EMBEDDING_MODEL, kind="embedding", dimensions=dimensions, ttft_ms=EMBEDDING_TTFT_MS,
        jitter=0.05, slots=1024, load_slowdown=0,
    )  # fmt: skip
    return ProviderConfig(models=(model,))
