"""Retrieved context for a copilot answer, as the patterns say.

``vector_index`` on: an HNSW search of the top ``k`` (40) with iterative scans, so that the
tenant filter cannot leave fewer than ``k`` rows; off (naive): an exact scan of the top 200.
``rerank`` on: MMR over those rows picks ``context_chunks`` diverse ones; off: every row
retrieved goes into the prompts, as in the case study's "before".
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import Any, TypeVar

import numpy as np
import psycopg
import psycopg_pool

from ..retrieval import (
    Chunk,
    Pool,
    SearchSettings,
    candidate_query,
    mmr,
    pipeline_query,
    search,
)
from ..state import Gateway


class RetrievalUnavailable(Exception):  # noqa: N818 - reads as a state, like RedisUnavailable
    """No database is configured, or it did not answer in time."""


T = TypeVar("T")


async def within(gateway: Gateway, read: Awaitable[T], budget_s: float) -> T:
    """``read``'s result, or ``TimeoutError`` once ``budget_s`` has passed. A read still
    running then is cancelled in the background: cancelling a query on a connection whose
    network has stalled waits for psycopg's own cancel timeouts, which the answer must not."""
    task = asyncio.ensure_future(read)
    done, _ = await asyncio.wait({task}, timeout=budget_s)
    if task in done:
        return task.result()
    task.cancel()
    gateway.background.run(_reap(task))
    raise TimeoutError(f"the database did not answer within {budget_s:.1f} s")


async def _reap(task: asyncio.Future[Any]) -> None:
    """Wait for a cancelled read to finish cancelling; its outcome no longer matters."""
    with contextlib.suppress(BaseException):
        await task


DATABASE_ERRORS = (psycopg.Error, psycopg_pool.PoolTimeout, TimeoutError, RetrievalUnavailable)
"""What makes a copilot answer without its data (degraded), never a 5xx."""


async def pipeline_context(gateway: Gateway, *, tenant_id: str, pipeline_id: int) -> list[Chunk]:
    """Chunks near the pipeline's candidates."""
    pool, budget_s = _vector_pool(gateway)

    async def read() -> list[Chunk]:
        query = await pipeline_query(pool, tenant_id=tenant_id, pipeline_id=pipeline_id)
        return await _nearest(gateway, pool, tenant_id, query)

    return await within(gateway, read(), budget_s)


async def candidate_context(gateway: Gateway, *, tenant_id: str, candidate_id: int) -> list[Chunk]:
    """Chunks near the candidate's own."""
    pool, budget_s = _vector_pool(gateway)

    async def read() -> list[Chunk]:
        query = await candidate_query(pool, tenant_id=tenant_id, candidate_id=candidate_id)
        return await _nearest(gateway, pool, tenant_id, query)

    return await within(gateway, read(), budget_s)


def _vector_pool(gateway: Gateway) -> tuple[Pool, float]:
    """The vector pool, and how long a retrieval may take on it (waits and statements)."""
    if gateway.pools is None:
        raise RetrievalUnavailable("no database is configured (retrieval.database_url)")
    return gateway.pools.vector, read_budget_s(gateway, vector=True)


async def _nearest(
    gateway: Gateway, pool: Pool, tenant_id: str, query: np.ndarray | None
) -> list[Chunk]:
    if query is None:
        return []
    vector_index = gateway.config.vector_index
    if vector_index.enabled:
        settings = SearchSettings(
            k=vector_index.k, ef_search=vector_index.ef_search, iterative=True
        )
    else:
        settings = SearchSettings(k=vector_index.naive_k, iterative=False, exact=True)
    chunks = await search(pool, tenant_id=tenant_id, query=query, settings=settings)
    rerank = gateway.config.rerank
    if not rerank.enabled or not chunks:
        return chunks
    vectors = np.stack([chunk.embedding for chunk in chunks])
    order = mmr(query, vectors, k=rerank.context_chunks, lambda_=rerank.lambda_)
    return [chunks[position] for position in order]


def read_budget_s(gateway: Gateway, *, vector: bool) -> float:
    """How long one read may take on a pool: a wait for a connection and two statements.
    The client-side bound matters when the network, not the server, stalls."""
    pools = gateway.config.split_pools
    settings = pools.vector if vector and pools.enabled else pools.oltp
    return settings.timeout_s + 2 * settings.statement_timeout_ms / 1000
