"""Retrieval for the copilot endpoints: PostgreSQL with pgvector.

- ``migrate``: the schema (``migrations/*.sql``), applied once, safely from many workers.
- ``Pools``: separate OLTP and vector connection pools, opened without waiting for the server.
- ``search``: a tenant's nearest chunks through the HNSW index (iterative scan) or exactly;
  ``candidate_query`` and ``pipeline_query`` build query vectors from stored embeddings only.
- ``mmr``: Maximal Marginal Relevance, to re-rank results for diversity.

Errors: ``MigrationError`` (the database does not fit the configuration); everything else is
psycopg's (``psycopg.Error``, and ``psycopg_pool.PoolTimeout`` when no connection is free).
"""

from .migrate import MigrationError, migrate
from .mmr import mmr
from .pools import Pool, Pools, PoolSettings
from .search import (
    Chunk,
    Embedding,
    SearchSettings,
    candidate_query,
    explain,
    pipeline_query,
    search,
)


__all__ = [
    "Chunk",
    "Embedding",
    "MigrationError",
    "Pool",
    "PoolSettings",
    "Pools",
    "SearchSettings",
    "candidate_query",
    "explain",
    "migrate",
    "mmr",
    "pipeline_query",
    "search",
]
