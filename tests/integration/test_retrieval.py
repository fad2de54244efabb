"""Retrieval on PostgreSQL + pgvector: migrations, pools, HNSW search, iterative scan, recall.

The module loads one small corpus (8,000 chunks of 384 dimensions) into a database of its own.
Its tenants own 49 %, 29 %, 20 % and 2 % of the chunks: big enough that PostgreSQL chooses the
HNSW index for the larger tenants, and skewed so that the tenant filter matters.
"""

import asyncio

import numpy as np
import psycopg
import pytest
from psycopg_pool import PoolTimeout
from retrieval_support import scratch_database

from reference_impl.retrieval import (
    MigrationError,
    Pools,
    PoolSettings,
    SearchSettings,
    candidate_query,
    explain,
    migrate,
    pipeline_query,
    search,
)
from stack import links
from stack.corpus import CorpusSpec, generate


SPEC = CorpusSpec(
    tenants=4,
    pipelines_per_tenant=5,
    candidates_per_pipeline=10,
    chunks=8_000,
    dimensions=384,
    tenant_weights=(49, 29, 20, 2),
    seed=7,
)
LARGE, FIFTH, TINY = "tenant-000", "tenant-002", "tenant-003"
CANDIDATES_PER_TENANT = SPEC.pipelines_per_tenant * SPEC.candidates_per_pipeline
HNSW = "chunks_embedding_hnsw"


def candidates_of(tenant: str) -> range:
    number = int(tenant.removeprefix("tenant-"))
    return range(number * CANDIDATES_PER_TENANT + 1, (number + 1) * CANDIDATES_PER_TENANT + 1)


@pytest.fixture(scope="module")
def corpus(meltproof_stack):
    with scratch_database(meltproof_stack) as database:
        generate(database.dsn, SPEC)
        yield database


@pytest.fixture
async def pool(corpus):
    pools = await Pools.open(corpus.dsn, oltp=PoolSettings(), vector=PoolSettings())
    yield pools.vector
    await pools.close()


@pytest.fixture
def empty_database(stack):
    with scratch_database(stack) as database:
        yield database


# --- migrations ------------------------------------------------------------------------------


async def test_migrating_again_applies_nothing(corpus):
    assert await migrate(corpus.dsn, dimensions=SPEC.dimensions) == []


async def test_concurrent_migrations_apply_each_file_once(empty_database):
    first, second = await asyncio.gather(
        migrate(empty_database.dsn, dimensions=8), migrate(empty_database.dsn, dimensions=8)
    )
    assert sorted([first, second]) == [[], ["001_schema"]]
    with psycopg.connect(empty_database.dsn) as conn:
        rows = conn.execute("SELECT version FROM schema_migrations").fetchall()
    assert rows == [("001_schema",)]


async def test_a_different_vector_size_is_refused_naming_both(corpus):
    with pytest.raises(MigrationError, match=r"384 dimensions but 768"):
        await migrate(corpus.dsn, dimensions=768)


# --- pools -----------------------------------------------------------------------------------


async def test_connections_have_the_statement_timeout_vectors_and_no_autocommit(corpus):
    settings = PoolSettings(statement_timeout_ms=1234)
    pools = await Pools.open(corpus.dsn, oltp=settings, vector=PoolSettings())
    try:
        async with pools.oltp.connection() as conn:
            timeout = await (await conn.execute("SHOW statement_timeout")).fetchone()
            vector = await (await conn.execute("SELECT '[1,2,3]'::vector")).fetchone()
            autocommit = conn.autocommit
    finally:
        await pools.close()
    assert timeout == ("1234ms",)
    assert vector is not None
    assert vector[0].to_numpy().tolist() == [1.0, 2.0, 3.0]
    assert autocommit is False
    assert pools.oltp is not pools.vector


async def test_the_shared_profile_uses_one_pool(corpus):
    pools = await Pools.open(corpus.dsn, oltp=PoolSettings(), vector=PoolSettings(), shared=True)
    await pools.close()
    assert pools.oltp is pools.vector


async def test_pools_open_with_postgres_down_and_recover_when_it_returns(stack, corpus):
    stack.toxiproxy.set_enabled(links.POSTGRES, False)
    settings = PoolSettings(timeout_s=0.5)
    pools = await Pools.open(corpus.proxied_dsn, oltp=settings, vector=settings)
    try:
        with pytest.raises(PoolTimeout):
            async with pools.vector.connection():
                pass
        stack.toxiproxy.set_enabled(links.POSTGRES, True)
        async with pools.vector.connection(timeout=10) as conn:
            assert await (await conn.execute("SELECT 1")).fetchone() == (1,)
    finally:
        await pools.close()


# --- search ----------------------------------------------------------------------------------


async def a_query(pool, tenant: str) -> np.ndarray:
    query = await candidate_query(pool, tenant_id=tenant, candidate_id=candidates_of(tenant)[0])
    assert query is not None
    return query


async def test_a_search_uses_the_hnsw_index_and_an_exact_search_does_not(pool):
    query = await a_query(pool, FIFTH)
    approximate = await explain(pool, tenant_id=FIFTH, query=query, settings=SearchSettings())
    exact = await explain(pool, tenant_id=FIFTH, query=query, settings=SearchSettings(exact=True))
    assert f"Index Scan using {HNSW}" in approximate
    assert "'[...]'::vector" in approximate  # the query vector is abbreviated
    assert HNSW not in exact


async def test_iterative_scan_returns_k_rows_where_a_plain_hnsw_scan_falls_short(pool):
    # A plain HNSW scan stops after ef_search candidates and only then applies the tenant
    # filter: a tenant owning a fifth of the rows keeps about a fifth of them.
    query = await a_query(pool, FIFTH)
    plain = SearchSettings(k=40, ef_search=40, iterative=False)
    iterative = SearchSettings(k=40, ef_search=40, iterative=True)
    assert HNSW in await explain(pool, tenant_id=FIFTH, query=query, settings=plain)
    short = await search(pool, tenant_id=FIFTH, query=query, settings=plain)
    full = await search(pool, tenant_id=FIFTH, query=query, settings=iterative)
    assert len(short) < 40
    assert len(full) == 40
    assert all(chunk.candidate_id in candidates_of(FIFTH) for chunk in full)
    distances = [chunk.distance for chunk in full]
    assert distances == sorted(distances)


async def test_a_tiny_tenant_is_scanned_exactly_and_gets_k_rows(pool):
    # 2 % of the rows: the planner reads the tenant's rows through its btree index and sorts
    # them, which is exact, even with a plain scan at a low ef_search.
    query = await a_query(pool, TINY)
    plain = SearchSettings(k=40, ef_search=10, iterative=False)
    plan = await explain(pool, tenant_id=TINY, query=query, settings=plain)
    found = await search(pool, tenant_id=TINY, query=query, settings=plain)
    exact = await search(pool, tenant_id=TINY, query=query, settings=SearchSettings(exact=True))
    assert HNSW not in plan
    assert "chunks_tenant" in plan
    assert [chunk.id for chunk in found] == [chunk.id for chunk in exact]
    assert len(found) == 40


async def test_hnsw_results_overlap_the_exact_ones(pool):
    overlaps = []
    for tenant in (LARGE, FIFTH):
        for candidate in candidates_of(tenant)[:3]:
            query = await candidate_query(pool, tenant_id=tenant, candidate_id=candidate)
            assert query is not None
            approximate = await search(
                pool, tenant_id=tenant, query=query, settings=SearchSettings(ef_search=100)
            )
            exact = await search(
                pool, tenant_id=tenant, query=query, settings=SearchSettings(exact=True)
            )
            assert len(approximate) == len(exact) == 40
            overlap = {c.id for c in approximate} & {c.id for c in exact}
            overlaps.append(len(overlap) / len(exact))
    assert min(overlaps) >= 0.9, overlaps


async def test_results_carry_their_embedding_and_its_cosine_distance(pool):
    query = await a_query(pool, LARGE)
    found = await search(pool, tenant_id=LARGE, query=query, settings=SearchSettings(k=5))
    for chunk in found:
        assert chunk.embedding.dtype == np.float32
        assert chunk.embedding.shape == (SPEC.dimensions,)
        cosine = float(query @ chunk.embedding) / float(np.linalg.norm(chunk.embedding))
        assert chunk.distance == pytest.approx(1 - cosine, abs=1e-4)
        assert chunk.content.startswith(f"Candidate {chunk.candidate_id},")


async def test_candidate_and_pipeline_queries_are_unit_vectors_near_their_data(pool):
    candidate = candidates_of(LARGE)[0]
    by_candidate = await candidate_query(pool, tenant_id=LARGE, candidate_id=candidate)
    by_pipeline = await pipeline_query(pool, tenant_id=LARGE, pipeline_id=1)
    rng = np.random.default_rng(0)
    unrelated = rng.standard_normal(SPEC.dimensions).astype(np.float32)
    nearest = SearchSettings(k=1, exact=True)
    distances = {}
    for name, query in (("candidate", by_candidate), ("pipeline", by_pipeline)):
        assert query is not None
        assert query.shape == (SPEC.dimensions,)
        assert float(np.linalg.norm(query)) == pytest.approx(1.0, abs=1e-4)
        (hit,) = await search(pool, tenant_id=LARGE, query=query, settings=nearest)
        distances[name] = hit.distance
    (unrelated_hit,) = await search(pool, tenant_id=LARGE, query=unrelated, settings=nearest)
    # Chunks cluster around topics: a candidate's mean is close to its own chunks, a
    # pipeline's mean (several topics) less so, a random direction is far from everything.
    assert distances["candidate"] < 0.2
    assert distances["candidate"] < distances["pipeline"] < unrelated_hit.distance


async def test_query_vectors_stay_inside_the_tenant(pool):
    others = candidates_of(LARGE)[0]
    assert await candidate_query(pool, tenant_id=FIFTH, candidate_id=others) is None
    assert await pipeline_query(pool, tenant_id=FIFTH, pipeline_id=1) is None
    assert await candidate_query(pool, tenant_id=LARGE, candidate_id=10**9) is None
