"""Nearest chunks of one tenant by cosine distance, and the query vectors the copilot asks with.

A search is one transaction: its planner and pgvector settings are ``SET LOCAL`` (through
``set_config(..., true)``), so they cannot leak into the next user of the pooled connection.

- ``ef_search`` is the HNSW candidate list size: recall against latency.
- ``iterative``: pgvector 0.8's ``hnsw.iterative_scan = relaxed_order``. Without it an HNSW scan
  stops after ``ef_search`` candidates, *then* the tenant filter applies, and a tenant owning a
  small share of the rows gets fewer than ``k`` results; with it the scan continues (up to
  ``hnsw.max_scan_tuples``, left at its default) until ``k`` rows pass the filter. Relaxed order
  may return rows slightly out of order, so the rows are re-sorted here.
- ``exact``: no index scan (``enable_indexscan = off``), an exact scan of the tenant's rows; the
  naive profile, and the ground truth for recall.

PostgreSQL still chooses the plan: for a tenant with few rows it reads them through the tenant
index and sorts them, which is exact and cheaper than walking the graph.

Queries are never prepared: each is planned with the tenant's own selectivity and this
transaction's settings, where a cached generic plan would ignore both. Results come back in
binary: decoding a 1536-dimension vector from text costs about 0.5 ms of CPU, from binary
microseconds, and a search returns 40 of them.

The query vectors (``candidate_query``, ``pipeline_query``) are averages of embeddings already
stored, so asking for "chunks like this candidate" never waits for an embedding provider.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from psycopg import AsyncConnection
from psycopg.rows import TupleRow

from .pools import Pool


Embedding = npt.NDArray[np.float32]
_VECTOR_LITERAL = re.compile(r"'\[[^\]]*\]'::vector")  # the query vector, inlined in plans

_SETTINGS = """
SELECT set_config('hnsw.ef_search', %(ef_search)s, true),
       set_config('hnsw.iterative_scan', %(iterative_scan)s, true),
       set_config('enable_indexscan', %(enable_indexscan)s, true)
"""
_SEARCH = """
SELECT id, candidate_id, content, embedding, embedding <=> %(query)s AS distance
FROM chunks
WHERE tenant_id = %(tenant_id)s AND embedding IS NOT NULL
ORDER BY distance
LIMIT %(k)s
"""
_CANDIDATE_MEAN = """
SELECT avg(embedding) FROM chunks
WHERE tenant_id = %(tenant_id)s AND candidate_id = %(candidate_id)s AND embedding IS NOT NULL
"""
_PIPELINE_MEAN = """
SELECT avg(chunks.embedding)
FROM chunks JOIN candidates ON candidates.id = chunks.candidate_id
WHERE candidates.tenant_id = %(tenant_id)s AND candidates.pipeline_id = %(pipeline_id)s
  AND chunks.tenant_id = %(tenant_id)s AND chunks.embedding IS NOT NULL
"""


@dataclass(frozen=True, slots=True)
class Chunk:
    """One search result; ``distance`` is the cosine distance to the query (0 = same direction)."""

    id: int
    candidate_id: int | None
    content: str
    embedding: Embedding
    distance: float


@dataclass(frozen=True, kw_only=True)
class SearchSettings:
    """How to search: result count, HNSW effort, iterative scan, or an exact scan instead."""

    k: int = 40
    ef_search: int = 100
    iterative: bool = True
    exact: bool = False


async def search(
    pool: Pool, *, tenant_id: str, query: npt.NDArray[np.floating[Any]], settings: SearchSettings
) -> list[Chunk]:
    """The ``settings.k`` chunks of ``tenant_id`` nearest to ``query``, nearest first."""
    async with pool.connection() as conn, conn.transaction():
        await _apply(conn, settings)
        cursor = await conn.execute(
            _SEARCH, _search_parameters(tenant_id, query, settings), prepare=False, binary=True
        )
        rows = await cursor.fetchall()
    chunks = [
        Chunk(
            id=id_,
            candidate_id=candidate_id,
            content=content,
            embedding=embedding.to_numpy(),
            distance=float(distance),
        )
        for id_, candidate_id, content, embedding, distance in rows
    ]
    chunks.sort(key=lambda chunk: chunk.distance)  # relaxed_order may be slightly out of order
    return chunks


async def explain(
    pool: Pool, *, tenant_id: str, query: npt.NDArray[np.floating[Any]], settings: SearchSettings
) -> str:
    """The plan PostgreSQL chooses for this search (``EXPLAIN`` text), for tests and diagnosis.

    The query vector, which the plan shows inline, is abbreviated to ``'[...]'::vector``.
    """
    async with pool.connection() as conn, conn.transaction():
        await _apply(conn, settings)
        cursor = await conn.execute(
            "EXPLAIN " + _SEARCH, _search_parameters(tenant_id, query, settings), prepare=False
        )
        plan = "\n".join(line for (line,) in await cursor.fetchall())
    return _VECTOR_LITERAL.sub("'[...]'::vector", plan)


async def candidate_query(pool: Pool, *, tenant_id: str, candidate_id: int) -> Embedding | None:
    """Unit-length mean of the candidate's stored embeddings; None when none is embedded yet."""
    parameters = {"tenant_id": tenant_id, "candidate_id": candidate_id}
    return await _mean(pool, _CANDIDATE_MEAN, parameters)


async def pipeline_query(pool: Pool, *, tenant_id: str, pipeline_id: int) -> Embedding | None:
    """Unit-length mean over the stored embeddings of the pipeline's candidates; None if none."""
    parameters = {"tenant_id": tenant_id, "pipeline_id": pipeline_id}
    return await _mean(pool, _PIPELINE_MEAN, parameters)


async def _apply(conn: AsyncConnection[TupleRow], settings: SearchSettings) -> None:
    """``SET LOCAL`` the search settings in the current transaction."""
    await conn.execute(
        _SETTINGS,
        {
            "ef_search": str(settings.ef_search),
            "iterative_scan": "relaxed_order" if settings.iterative else "off",
            "enable_indexscan": "off" if settings.exact else "on",
        },
    )


def _search_parameters(
    tenant_id: str, query: npt.NDArray[np.floating[Any]], settings: SearchSettings
) -> dict[str, object]:
    if query.ndim != 1:
        raise ValueError(f"the query must be one vector, got shape {query.shape}")
    if settings.k < 1:
        raise ValueError(f"k must be positive, got {settings.k}")
    return {"query": query.astype(np.float32), "tenant_id": tenant_id, "k": settings.k}


async def _mean(pool: Pool, sql: str, parameters: Mapping[str, object]) -> Embedding | None:
    async with pool.connection() as conn, conn.transaction():
        row = await (await conn.execute(sql, parameters, binary=True)).fetchone()
    if row is None or row[0] is None:
        return None
    mean: Embedding = row[0].to_numpy()
    norm = float(np.linalg.norm(mean))
    return mean / np.float32(norm) if norm > 0 else mean
