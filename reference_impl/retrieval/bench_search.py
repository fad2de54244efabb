"""The retrieval benchmark's search passes: the copilot's query vectors, searched exactly (the
ground truth) and then at each ``ef_search``, one query at a time on one connection.

The latency of a search is measured by the client around ``search``, decoding of the rows
included; after the passes, ``explain`` tells whether each setting used the HNSW index.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .bench_pools import ONE_CONNECTION, open_pools
from .pools import Pool
from .search import Embedding, SearchSettings, candidate_query, explain, search


K = 40
INDEX_NAME = "chunks_embedding_hnsw"
WARMUP_QUERIES = 50


@dataclass(frozen=True)
class Query:
    """A query vector and the tenant whose chunks it searches."""

    tenant_id: str
    candidate_id: int
    vector: Embedding


@dataclass(frozen=True)
class SearchPass:
    """Every query searched once with ``settings``: the ids found and the latency of each."""

    settings: SearchSettings
    found: list[list[int]]
    latencies_s: list[float]
    uses_index: bool


async def sample_queries(pool: Pool, *, count: int, rng: random.Random) -> list[Query]:
    """``candidate_query`` of up to ``count`` candidates drawn at random (those with chunks)."""
    async with pool.connection() as conn:
        cursor = await conn.execute("SELECT id, tenant_id FROM candidates ORDER BY id")
        candidates = await cursor.fetchall()
    queries = []
    for candidate_id, tenant_id in rng.sample(candidates, min(count, len(candidates))):
        vector = await candidate_query(pool, tenant_id=tenant_id, candidate_id=candidate_id)
        if vector is not None:
            queries.append(Query(tenant_id, candidate_id, vector))
    return queries


async def _timed_pass(
    pool: Pool, queries: Sequence[Query], settings: SearchSettings
) -> tuple[list[list[int]], list[float]]:
    """Every query once, in order: the ids found and the latency of each."""
    found, latencies_s = [], []
    for query in queries:
        started = time.perf_counter()
        chunks = await search(
            pool, tenant_id=query.tenant_id, query=query.vector, settings=settings
        )
        latencies_s.append(time.perf_counter() - started)
        found.append([chunk.id for chunk in chunks])
    return found, latencies_s


async def _uses_index(pool: Pool, query: Query, settings: SearchSettings) -> bool:
    plan = await explain(pool, tenant_id=query.tenant_id, query=query.vector, settings=settings)
    return INDEX_NAME in plan


async def measure_search(
    dsn: str,
    *,
    queries: int,
    ef_searches: Sequence[int],
    rng: random.Random,
    progress: Callable[[str], None],
) -> tuple[list[Query], list[SearchPass]]:
    """Up to ``queries`` queries, and a pass of the exact search, then one per ``ef_search``."""
    pools = await open_pools(dsn, oltp=ONE_CONNECTION, vector=ONE_CONNECTION, shared=True)
    try:
        pool = pools.vector
        sampled = await sample_queries(pool, count=queries, rng=rng)
        if not sampled:
            raise RuntimeError("the corpus has no embedded chunks to build queries from")
        progress(f"exact search of {len(sampled)} queries (the ground truth)")
        exact_settings = SearchSettings(k=K, exact=True)
        timed = [(exact_settings, *await _timed_pass(pool, sampled, exact_settings))]
        settings = [SearchSettings(k=K, ef_search=ef, iterative=True) for ef in ef_searches]
        await _timed_pass(pool, sampled[:WARMUP_QUERIES], settings[-1])  # warm the caches
        for setting in settings:
            timed.append((setting, *await _timed_pass(pool, sampled, setting)))
            progress(f"  ef_search {setting.ef_search} measured")
        passes = [
            SearchPass(setting, found, latencies_s, await _uses_index(pool, sampled[0], setting))
            for setting, found, latencies_s in timed
        ]
    finally:
        await pools.close()
    return sampled, passes
