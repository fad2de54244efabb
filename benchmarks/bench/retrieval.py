"""Retrieval: recall and latency of the copilot's vector search, OLTP latency under vector load,
and the drain rate of the embedding queue.

One run starts a PostgreSQL with pgvector of its own and, for the queue, the simulated provider
(one embedding model of the corpus's size, answering in about ``EMBEDDING_TTFT_MS``), both on
loopback ports and stopped after. Two databases: ``retrieval_corpus`` holds the synthetic corpus
(``stack.corpus``: 100,000 clustered chunks, ``--quick`` 20,000, of 4 equal tenants),
``retrieval_queue`` the chunks the embedding worker drains.

1. Search. The query vectors are the copilot's: ``candidate_query`` of a few hundred candidates
   drawn at random. Each is searched the way the copilot searches (its tenant only, k = 40,
   iterative scan) once exactly (``SearchSettings(exact=True)``, the ground truth) and then at
   each ``ef_search``, one query at a time on one connection; the latency is measured by the
   client around ``search``, decoding of the rows included. Recall@40 is the share of the exact
   top 40 that the search returned, averaged over the queries. The plan column says whether
   PostgreSQL used the HNSW index: with a tenant filter it may prefer an exact scan of the
   tenant's rows. Target: recall >= 0.95 with p99 <= 10 ms at some ``ef_search``.
2. OLTP under vector load. The copilot's OLTP reads (``load_pipeline``, ``load_candidate``: a
   few primary-key and index lookups) at a fixed rate through the OLTP pool, first alone, then
   while ``vector_workers`` tasks search in a loop (``VECTOR_LOAD``) through one shared pool,
   then through split pools; the pools have the gateway's default sizes and time limits. A
   read's latency counts from its scheduled start (a late start is part of it); a read that
   fails counts with the time it took to fail. The reads and the searches share one process
   and one event loop, as in a gateway worker; the loop's lag (how late a 5 ms timer fires)
   is reported, and a last scenario runs the searches in another process (a pool of their
   own), to tell the client's share of the delay from the database's. Target: with split
   pools (in one process), OLTP p99 <= 1.2 x alone.
3. Queue drain. ``queue_jobs`` chunks are loaded without embeddings, one job each, then the
   embedding worker (``python -m reference_impl.embedding_worker``) drains them with 1, then 2
   concurrent workers; the rate counts from the first job done to the empty queue, so the
   worker's start-up is left out. Reported only.

The verdict passes when targets 1 and 2 are met. The embedding size is 1536 unless
``MELTPROOF_BENCH_RETRIEVAL_DIMENSIONS`` (or ``--dimensions`` of
``python -m benchmarks.bench.retrieval``) says otherwise. Everything shares the machine's cores.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import functools
import json
import os
import random
import select
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import psycopg_pool
from psycopg.conninfo import make_conninfo

from reference_impl.config import PoolConfig, SplitPoolsConfig
from reference_impl.copilot.data import load_candidate, load_pipeline
from reference_impl.retrieval import (
    Embedding,
    Pool,
    Pools,
    PoolSettings,
    SearchSettings,
    candidate_query,
    explain,
    search,
)
from reference_impl.retrieval.documents import DEFAULT_MAX_ATTEMPTS
from stack.config import StackConfig
from stack.corpus import CorpusSpec, CorpusSummary, generate
from stack.ports import ephemeral_port
from stack.postgres import PostgresServer
from stack.postgres_install import find_postgres
from stack.process import ManagedProcess, die_with_parent
from stack.provider.config import ModelSpec, ProviderConfig
from stack.python_service import PythonService
from stack.service import Service

from ..percentile import nearest_rank_or_none
from .common import Benchmark, BenchOptions, BenchReport, format_table, ms, say
from .gateway_overhead import Check


NAME = "retrieval"
MODULE = f"benchmarks.bench.{NAME}"
DIMENSIONS_ENV = "MELTPROOF_BENCH_RETRIEVAL_DIMENSIONS"
DEFAULT_DIMENSIONS = 1536
K = 40
RECALL_TARGET = 0.95
SEARCH_P99_LIMIT_S = 0.010
OLTP_P99_FACTOR = 1.2
VECTOR_LOAD = SearchSettings(k=K, ef_search=400, iterative=True)
"""What each vector worker of the OLTP scenarios searches with, in a loop."""
EMBEDDING_MODEL = "text-embedding-3-small"
"""The embedding worker's default model, served by the provider at the corpus's size."""
EMBEDDING_TTFT_MS = 5.0
CORPUS_DATABASE = "retrieval_corpus"
QUEUE_DATABASE = "retrieval_queue"
INDEX_MEMORY_MB = 2048
"""``maintenance_work_mem`` of the index build: the whole graph of 100,000 x 1536 fits."""
INDEX_NAME = "chunks_embedding_hnsw"
START_TIMEOUT_S = 60.0
POOL_OPEN_TIMEOUT_S = 30.0
SEARCH_STATEMENT_TIMEOUT_MS = 60_000
"""Of the search measurement's connection: an exact scan must finish, however slow."""
LOOP_LAG_INTERVAL_S = 0.005
DRAIN_POLL_S = 0.1
DRAIN_TIMEOUT_S = 900.0
WARMUP_QUERIES = 50
READY = b"ready"
"""The line the vector load child prints once it searches."""
READ_ERRORS = (psycopg.Error, psycopg_pool.PoolTimeout, LookupError)
"""What a failed OLTP read or vector search raises (``LookupError``: the row was not found)."""


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


# --- pure figures ---------------------------------------------------------------------------


def recall_at_k(found: Sequence[int], exact: Sequence[int]) -> float:
    """The share of the exact results (ids) that ``found`` has; 1.0 when there are none."""
    if not exact:
        return 1.0
    return len(set(found) & set(exact)) / len(set(exact))


def drain_rate(samples: Sequence[tuple[float, int]]) -> float | None:
    """Jobs per second from ``(time_s, depth)`` polls: from the first poll that shows progress
    to the first that shows an empty queue. None if the queue never emptied or no interval
    separates the two."""
    if not samples:
        return None
    initial = samples[0][1]
    started = next(((t, d) for t, d in samples if d < initial), None)
    emptied = next((t for t, d in samples if d == 0), None)
    if started is None or emptied is None or emptied <= started[0]:
        return None
    return started[1] / (emptied - started[0])


@dataclass(frozen=True)
class SearchRow:
    """One search setting over every query: its plan, recall@k and latency."""

    setting: str
    ef_search: int | None
    """None for the exact search."""
    uses_index: bool
    queries: int
    recall_mean: float
    recall_min: float
    p50_s: float
    p99_s: float

    def meets_target(self) -> bool:
        """Recall@k at least ``RECALL_TARGET`` with p99 at most ``SEARCH_P99_LIMIT_S``."""
        return self.recall_mean >= RECALL_TARGET and self.p99_s <= SEARCH_P99_LIMIT_S


def best_setting(rows: Sequence[SearchRow]) -> SearchRow | None:
    """The index setting meeting the target with the highest recall (then the lowest p99)."""
    meeting = [row for row in rows if row.ef_search is not None and row.meets_target()]
    return max(meeting, key=lambda row: (row.recall_mean, -row.p99_s), default=None)


@dataclass(frozen=True)
class OltpRow:
    """The OLTP reads of one scenario, and the vector load that ran beside them."""

    scenario: str
    shared_pool: bool
    vector_workers: int
    searches_elsewhere: bool
    reads: int
    errors: int
    p50_s: float
    p99_s: float
    searches: int
    search_errors: int
    loop_lag_p99_s: float | None


@dataclass(frozen=True)
class Drain:
    """One drain of the queue by ``workers`` concurrent workers."""

    workers: int
    jobs: int
    seconds: float
    jobs_per_s: float | None
    left_unembedded: int


def search_check(rows: Sequence[SearchRow]) -> Check:
    """Target 1: some ``ef_search`` reaches the recall within the p99 limit."""
    name = f"recall@{K} >= {RECALL_TARGET:g} at p99 <= {ms(SEARCH_P99_LIMIT_S)} ms"
    best = best_setting(rows)
    if best is None:
        return Check(name, False, "no ef_search meets both")
    detail = f"ef_search {best.ef_search}: recall {best.recall_mean:.3f}, p99 {ms(best.p99_s)} ms"
    return Check(name, True, detail)


def oltp_check(rows: Sequence[OltpRow]) -> Check:
    """Target 2: with split pools, the OLTP p99 stays within the factor of its unloaded p99."""
    name = f"split pools: OLTP p99 <= {OLTP_P99_FACTOR:g} x unloaded"
    alone = next((r for r in rows if r.vector_workers == 0), None)
    split = next(
        (r for r in rows if r.vector_workers and not (r.shared_pool or r.searches_elsewhere)), None
    )
    if alone is None or split is None:
        return Check(name, None, "not measured")
    ratio = split.p99_s / alone.p99_s
    detail = f"{ms(split.p99_s)} ms vs {ms(alone.p99_s)} ms ({ratio:.2f}x)"
    return Check(name, split.errors == 0 and ratio <= OLTP_P99_FACTOR, detail)


# --- measurements ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    """A query vector and the tenant whose chunks it searches."""

    tenant_id: str
    candidate_id: int
    vector: Embedding


def _pool_settings(config: PoolConfig, **changes: Any) -> PoolSettings:
    settings = PoolSettings(
        min_size=config.min_size,
        max_size=config.max_size,
        statement_timeout_ms=config.statement_timeout_ms,
        timeout_s=config.timeout_s,
    )
    return dataclasses.replace(settings, **changes)


GATEWAY_POOLS = SplitPoolsConfig(enabled=True)
"""The gateway's default pool sizes and time limits."""
OLTP_POOL = _pool_settings(GATEWAY_POOLS.oltp)
VECTOR_POOL = _pool_settings(GATEWAY_POOLS.vector)
ONE_CONNECTION = PoolSettings(
    min_size=1, max_size=1, statement_timeout_ms=SEARCH_STATEMENT_TIMEOUT_MS, timeout_s=60.0
)


async def _open(dsn: str, *, oltp: PoolSettings, vector: PoolSettings, shared: bool) -> Pools:
    pools = await Pools.open(dsn, oltp=oltp, vector=vector, shared=shared)
    await pools.oltp.wait(timeout=POOL_OPEN_TIMEOUT_S)
    await pools.vector.wait(timeout=POOL_OPEN_TIMEOUT_S)
    return pools


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
    dsn: str, parameters: RetrievalParameters, *, rng: random.Random
) -> tuple[list[Query], list[SearchRow]]:
    """The queries, and a row for the exact search and for each ``ef_search``."""
    pools = await _open(dsn, oltp=ONE_CONNECTION, vector=ONE_CONNECTION, shared=True)
    try:
        pool = pools.vector
        queries = await sample_queries(pool, count=parameters.queries, rng=rng)
        if not queries:
            raise RuntimeError("the corpus has no embedded chunks to build queries from")
        say(f"{NAME}: exact search of {len(queries)} queries (the ground truth)")
        exact_settings = SearchSettings(k=K, exact=True)
        exact, exact_latencies_s = await _timed_pass(pool, queries, exact_settings)
        settings = [
            SearchSettings(k=K, ef_search=ef, iterative=True) for ef in parameters.ef_searches
        ]
        await _timed_pass(pool, queries[:WARMUP_QUERIES], settings[-1])  # warm the caches
        passes = [(exact_settings, exact, exact_latencies_s)]
        for setting in settings:
            passes.append((setting, *await _timed_pass(pool, queries, setting)))
            say(f"{NAME}:   ef_search {setting.ef_search} measured")
        rows = [
            search_row(
                setting,
                found=found,
                exact=exact,
                latencies_s=latencies_s,
                uses_index=await _uses_index(pool, queries[0], setting),
            )
            for setting, found, latencies_s in passes
        ]
    finally:
        await pools.close()
    return queries, rows


def search_row(
    settings: SearchSettings,
    *,
    found: Sequence[Sequence[int]],
    exact: Sequence[Sequence[int]],
    latencies_s: Sequence[float],
    uses_index: bool,
) -> SearchRow:
    """The row of one setting from the ids it found per query, the exact ids and latencies."""
    recalls = [recall_at_k(f, e) for f, e in zip(found, exact, strict=True)]
    p50_s, p99_s = nearest_rank_or_none(latencies_s, 50), nearest_rank_or_none(latencies_s, 99)
    if p50_s is None or p99_s is None:
        raise ValueError("no search latency measured")
    return SearchRow(
        setting="exact" if settings.exact else f"ef_search {settings.ef_search}",
        ef_search=None if settings.exact else settings.ef_search,
        uses_index=uses_index,
        queries=len(found),
        recall_mean=sum(recalls) / len(recalls),
        recall_min=min(recalls),
        p50_s=p50_s,
        p99_s=p99_s,
    )


@dataclass(frozen=True)
class OltpScenario:
    """OLTP reads alone, or beside ``vector_workers`` searching through a shared or split pool;
    with ``searches_elsewhere`` the searches run in another process (a pool of their own)."""

    name: str
    vector_workers: int
    shared_pool: bool
    searches_elsewhere: bool = False


Read = Callable[[Pool], Awaitable[object]]


async def oltp_reads(pool: Pool, *, rng: random.Random, count: int) -> list[Read]:
    """``count`` copilot reads, half pipelines with their candidates, half candidates with
    their pipeline, of random rows of their own tenant."""
    async with pool.connection() as conn:
        pipelines = await (await conn.execute("SELECT id, tenant_id FROM pipelines")).fetchall()
        candidates = await (await conn.execute("SELECT id, tenant_id FROM candidates")).fetchall()

    def pipeline_read(pipeline_id: int, tenant_id: str) -> Read:
        return lambda p: _found(load_pipeline(p, tenant_id=tenant_id, pipeline_id=pipeline_id))

    def candidate_read(candidate_id: int, tenant_id: str) -> Read:
        return lambda p: _found(load_candidate(p, tenant_id=tenant_id, candidate_id=candidate_id))

    return [
        pipeline_read(*rng.choice(pipelines)) if i % 2 else candidate_read(*rng.choice(candidates))
        for i in range(count)
    ]


async def _found(read: Awaitable[object | None]) -> object:
    row = await read
    if row is None:
        raise LookupError("a row of the corpus was not found")
    return row


async def _fixed_rate(
    pool: Pool, reads: Sequence[Read], *, rate_rps: float
) -> tuple[list[float], int]:
    """Start ``reads`` at ``rate_rps`` on schedule: the latency of each from its scheduled start
    (a failed read with the time it took to fail), and how many failed."""
    loop = asyncio.get_running_loop()
    start = loop.time()

    async def one(read: Read, due: float) -> tuple[float, bool]:
        try:
            await read(pool)
        except READ_ERRORS:
            return loop.time() - due, False
        return loop.time() - due, True

    tasks = []
    for index, read in enumerate(reads):
        due = start + index / rate_rps
        await asyncio.sleep(max(due - loop.time(), 0))
        tasks.append(asyncio.create_task(one(read, due)))
    outcomes = await asyncio.gather(*tasks)
    return [latency_s for latency_s, _ in outcomes], sum(not ok for _, ok in outcomes)


async def _vector_worker(
    pool: Pool, queries: Sequence[Query], *, stop: asyncio.Event, rng: random.Random
) -> tuple[int, int]:
    """Search ``VECTOR_LOAD`` for random queries until ``stop``: searches done and failed."""
    done = failed = 0
    while not stop.is_set():
        query = rng.choice(queries)
        try:
            await search(pool, tenant_id=query.tenant_id, query=query.vector, settings=VECTOR_LOAD)
        except READ_ERRORS:
            failed += 1
        else:
            done += 1
    return done, failed


async def _loop_lag(stop: asyncio.Event) -> list[float]:
    """How late a ``LOOP_LAG_INTERVAL_S`` timer fires, until ``stop``."""
    loop = asyncio.get_running_loop()
    lags_s = []
    while not stop.is_set():
        started = loop.time()
        await asyncio.sleep(LOOP_LAG_INTERVAL_S)
        lags_s.append(loop.time() - started - LOOP_LAG_INTERVAL_S)
    return lags_s


async def run_scenario(
    dsn: str,
    scenario: OltpScenario,
    queries: Sequence[Query],
    parameters: RetrievalParameters,
    *,
    rng: random.Random,
) -> OltpRow:
    """Warm up, then measure the OLTP reads while the scenario's vector load runs."""
    pools = await _open(dsn, oltp=OLTP_POOL, vector=VECTOR_POOL, shared=scenario.shared_pool)
    try:
        rate = parameters.oltp_rate_rps
        warmup = await oltp_reads(pools.oltp, rng=rng, count=int(rate * parameters.warmup_s))
        reads = await oltp_reads(pools.oltp, rng=rng, count=int(rate * parameters.oltp_duration_s))
        stop, stop_lag = asyncio.Event(), asyncio.Event()
        workers = [
            asyncio.create_task(
                _vector_worker(pools.vector, queries, stop=stop, rng=random.Random(rng.random()))  # noqa: S311
            )
            for _ in range(0 if scenario.searches_elsewhere else scenario.vector_workers)
        ]
        try:
            await _fixed_rate(pools.oltp, warmup, rate_rps=rate)
            lag = asyncio.create_task(_loop_lag(stop_lag))
            latencies_s, failed = await _fixed_rate(pools.oltp, reads, rate_rps=rate)
            stop_lag.set()
            lags_s = await lag
        finally:
            stop.set()
            searched = await asyncio.gather(*workers)
    finally:
        await pools.close()
    p50_s, p99_s = nearest_rank_or_none(latencies_s, 50), nearest_rank_or_none(latencies_s, 99)
    if p50_s is None or p99_s is None:
        raise RuntimeError("no OLTP read measured")
    return OltpRow(
        scenario=scenario.name,
        shared_pool=scenario.shared_pool,
        vector_workers=scenario.vector_workers,
        searches_elsewhere=scenario.searches_elsewhere,
        reads=len(latencies_s),
        errors=failed,
        p50_s=p50_s,
        p99_s=p99_s,
        searches=sum(done for done, _ in searched),
        search_errors=sum(failed for _, failed in searched),
        loop_lag_p99_s=nearest_rank_or_none(lags_s, 99),
    )


def scenarios(parameters: RetrievalParameters) -> list[OltpScenario]:
    """Alone, beside the vector load through one shared pool, then through split pools."""
    workers = parameters.vector_workers
    return [
        OltpScenario("alone", 0, shared_pool=False),
        OltpScenario("shared pool", workers, shared_pool=True),
        OltpScenario("split pools", workers, shared_pool=False),
        OltpScenario(
            "searches in another process", workers, shared_pool=False, searches_elsewhere=True
        ),
    ]


def measure_oltp(
    dsn: str,
    scenario: OltpScenario,
    queries: Sequence[Query],
    parameters: RetrievalParameters,
    *,
    rng: random.Random,
) -> OltpRow:
    """One scenario, with its searches in another process if it says so."""
    if not scenario.searches_elsewhere:
        return asyncio.run(run_scenario(dsn, scenario, queries, parameters, rng=rng))
    with searches_elsewhere(
        dsn, queries, workers=scenario.vector_workers, seed=rng.randrange(2**32)
    ) as finish:
        row = asyncio.run(run_scenario(dsn, scenario, queries, parameters, rng=rng))
        searches, search_errors = finish()
    return dataclasses.replace(row, searches=searches, search_errors=search_errors)


@contextlib.contextmanager
def searches_elsewhere(
    dsn: str, queries: Sequence[Query], *, workers: int, seed: int
) -> Iterator[Callable[[], tuple[int, int]]]:
    """A child process searching with ``workers`` tasks through a vector pool of its own, from
    when this returns until ``finish()``, which returns its searches done and failed."""
    load = {
        "dsn": dsn,
        "candidates": [[q.tenant_id, q.candidate_id] for q in queries],
        "workers": workers,
        "seed": seed,
    }
    child = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, "-m", MODULE, "--vector-load", json.dumps(load)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        preexec_fn=functools.partial(die_with_parent, os.getpid()),  # noqa: PLW1509
    )
    try:
        if child.stdout is None or not select.select([child.stdout], [], [], START_TIMEOUT_S)[0]:
            raise RuntimeError("the vector load process did not start in time")
        if child.stdout.readline().strip() != READY:
            raise RuntimeError(f"the vector load process failed (exit code {child.wait()})")

        def finish() -> tuple[int, int]:
            out, _ = child.communicate(timeout=START_TIMEOUT_S)  # closing stdin stops it
            done = json.loads(out)
            return int(done["searches"]), int(done["errors"])

        yield finish
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


async def vector_load(load: Mapping[str, Any]) -> dict[str, int]:
    """The child of ``searches_elsewhere``: search until stdin closes, then the counts."""
    pools = await _open(load["dsn"], oltp=VECTOR_POOL, vector=VECTOR_POOL, shared=True)
    try:
        queries = []
        for tenant_id, candidate_id in load["candidates"]:
            vector = await candidate_query(
                pools.vector, tenant_id=tenant_id, candidate_id=candidate_id
            )
            if vector is not None:
                queries.append(Query(tenant_id, candidate_id, vector))
        rng = random.Random(load["seed"])  # noqa: S311 - sampling, not secrets
        stop = asyncio.Event()
        workers = [
            asyncio.create_task(
                _vector_worker(pools.vector, queries, stop=stop, rng=random.Random(rng.random()))  # noqa: S311
            )
            for _ in range(load["workers"])
        ]
        sys.stdout.buffer.write(READY + b"\n")
        sys.stdout.flush()
        await asyncio.to_thread(sys.stdin.buffer.read)
        stop.set()
        searched = await asyncio.gather(*workers)
    finally:
        await pools.close()
    return {"searches": sum(d for d, _ in searched), "errors": sum(f for _, f in searched)}


def _queued(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute(
        "SELECT count(*) FROM embedding_jobs WHERE attempts < %s", (DEFAULT_MAX_ATTEMPTS,)
    ).fetchone()
    return int(row[0]) if row else 0


def measure_drain(
    dsn: str,
    provider_url: str,
    *,
    workers: int,
    parameters: RetrievalParameters,
    log_dir: Path,
    clock: Callable[[], float] = time.monotonic,
) -> Drain:
    """Load ``queue_jobs`` unembedded chunks, then time the worker until the queue is empty."""
    spec = CorpusSpec(
        chunks=parameters.queue_jobs, dimensions=parameters.dimensions, embedded=False,
        seed=parameters.seed,
    )  # fmt: skip
    generate(dsn, spec, progress=lambda m: say(f"{NAME}: queue: {m}"))
    worker = ManagedProcess(
        f"embedding_worker_{workers}",
        [
            sys.executable, "-m", "reference_impl.embedding_worker", "--dsn", dsn,
            "--provider-url", provider_url, "--dimensions", str(parameters.dimensions),
            "--concurrency", str(workers),
        ],
        log_path=log_dir / f"embedding_worker_{workers}.log",
    )  # fmt: skip
    samples: list[tuple[float, int]] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        say(f"{NAME}: draining {parameters.queue_jobs:,} jobs with {workers} worker(s)")
        started = clock()
        worker.spawn()
        try:
            while not samples or samples[-1][1] > 0:
                if worker.exit_code() is not None:
                    raise RuntimeError(f"the embedding worker exited:\n{worker.log_tail()}")
                if clock() - started > DRAIN_TIMEOUT_S:
                    raise RuntimeError(f"the queue did not drain in {DRAIN_TIMEOUT_S:g} s")
                samples.append((clock(), _queued(conn)))
                time.sleep(DRAIN_POLL_S)
        finally:
            worker.stop()
        row = conn.execute("SELECT count(*) FROM chunks WHERE embedding IS NULL").fetchone()
    drain = Drain(
        workers=workers,
        jobs=parameters.queue_jobs,
        seconds=samples[-1][0] - started,
        jobs_per_s=drain_rate(samples),
        left_unembedded=int(row[0]) if row else -1,
    )
    rate = "-" if drain.jobs_per_s is None else f"{drain.jobs_per_s:,.0f}"
    say(f"{NAME}:   {rate} jobs/s ({drain.seconds:.1f} s with the worker's start-up)")
    return drain


def _start(running: ExitStack, service: Service) -> None:
    """Start ``service``, stopped when ``running`` closes."""
    running.callback(service.stop)
    service.launch()
    service.wait_ready(time.monotonic() + START_TIMEOUT_S)


def _create_database(url: str, name: str) -> str:
    """A new database next to ``url``'s; its DSN."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"'.encode())
    return make_conninfo(url, dbname=name)


@dataclass(frozen=True)
class Outcome:
    """Everything one run measured."""

    corpus: CorpusSummary
    server: Mapping[str, str]
    search: Sequence[SearchRow]
    oltp: Sequence[OltpRow]
    drains: Sequence[Drain]


def run(options: BenchOptions) -> BenchReport:
    """Load the corpus, measure search, OLTP and the queue; stop every server after."""
    parameters = RetrievalParameters.for_run(quick=options.quick, dimensions=dimensions_from_env())
    config = StackConfig.from_env(options.log_dir)
    rng = random.Random(parameters.seed)  # noqa: S311 - sampling, not secrets
    options.log_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="meltproof-retrieval-") as scratch, ExitStack() as deps:
        postgres = PostgresServer(
            find_postgres(config.postgres_bindir), port=ephemeral_port(), log_dir=options.log_dir
        )
        _start(deps, postgres)
        corpus_dsn = _create_database(postgres.url, CORPUS_DATABASE)
        queue_dsn = _create_database(postgres.url, QUEUE_DATABASE)
        server = _server_settings(corpus_dsn)
        say(
            f"{NAME}: loading {parameters.chunks:,} chunks of {parameters.dimensions} dimensions"
            f" ({server['server_version']}, pgvector {server['pgvector']})"
        )
        corpus = generate(
            corpus_dsn,
            CorpusSpec(chunks=parameters.chunks, dimensions=parameters.dimensions),
            progress=lambda m: say(f"{NAME}: corpus: {m}"),
            maintenance_work_mem_mb=INDEX_MEMORY_MB,
        )
        say(f"{NAME}: loaded in {corpus.seconds:.1f} s, HNSW index {corpus.index_seconds:.1f} s")
        queries, search_rows = asyncio.run(measure_search(corpus_dsn, parameters, rng=rng))
        oltp_rows = []
        for scenario in scenarios(parameters):
            say(f"{NAME}: OLTP {parameters.oltp_rate_rps}/s, {scenario.name}")
            row = measure_oltp(corpus_dsn, scenario, queries, parameters, rng=rng)
            say(
                f"{NAME}:   p50 {ms(row.p50_s)} ms, p99 {ms(row.p99_s)} ms, errors {row.errors},"
                f" searches {row.searches:,}"
            )
            oltp_rows.append(row)
        provider_config = Path(scratch) / "provider.json"
        provider_config.write_text(_provider_config(parameters.dimensions).model_dump_json())
        provider = PythonService(
            "provider", "stack.provider", port=ephemeral_port(), log_dir=options.log_dir,
            args=["--config", str(provider_config)],
        )  # fmt: skip
        _start(deps, provider)
        drains = [
            measure_drain(
                queue_dsn,
                provider.url,
                workers=workers,
                parameters=parameters,
                log_dir=options.log_dir,
            )
            for workers in parameters.worker_counts
        ]
    return report(parameters, Outcome(corpus, server, search_rows, oltp_rows, drains))


def _provider_config(dimensions: int) -> ProviderConfig:
    model = ModelSpec(
        name=EMBEDDING_MODEL, kind="embedding", dimensions=dimensions, ttft_ms=EMBEDDING_TTFT_MS,
        jitter=0.05, slots=1024, load_slowdown=0,
    )  # fmt: skip
    return ProviderConfig(models=(model,))


def _server_settings(dsn: str) -> dict[str, str]:
    """The server's version and the settings that shape the figures."""
    names = ("server_version", "shared_buffers", "work_mem", "max_parallel_workers_per_gather")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        values = [conn.execute("SELECT current_setting(%s)", (name,)).fetchone() for name in names]
        version = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        values.append(version.fetchone())
    return {
        name: str(value[0]) if value else "unknown"
        for name, value in zip((*names, "pgvector"), values, strict=True)
    }


# --- the report -----------------------------------------------------------------------------

SEARCH_HEADERS = ["search", "plan", "queries", f"recall@{K}", "min recall", "p50 ms", "p99 ms"]
OLTP_HEADERS = [
    "scenario", "vector workers", "reads", "errors", "p50 ms", "p99 ms", "p99 / alone",
    "searches", "search errors", "loop lag p99 ms",
]  # fmt: skip
DRAIN_HEADERS = ["workers", "jobs", "jobs/s", "seconds (with start-up)", "left unembedded"]


def _search_row(row: SearchRow) -> list[str]:
    mark = " *" if row.ef_search is not None and row.meets_target() else ""
    return [
        row.setting + mark,
        "HNSW index" if row.uses_index else "exact scan",
        f"{row.queries:,}",
        f"{row.recall_mean:.3f}",
        f"{row.recall_min:.3f}",
        ms(row.p50_s),
        ms(row.p99_s),
    ]


def _oltp_row(row: OltpRow, alone_p99_s: float | None) -> list[str]:
    return [
        row.scenario,
        str(row.vector_workers),
        f"{row.reads:,}",
        f"{row.errors:,}",
        ms(row.p50_s),
        ms(row.p99_s),
        f"{row.p99_s / alone_p99_s:.2f}x" if alone_p99_s else "-",
        f"{row.searches:,}",
        f"{row.search_errors:,}",
        ms(row.loop_lag_p99_s),
    ]


def _drain_row(drain: Drain) -> list[str]:
    return [
        str(drain.workers),
        f"{drain.jobs:,}",
        "-" if drain.jobs_per_s is None else f"{drain.jobs_per_s:,.0f}",
        f"{drain.seconds:.1f}",
        f"{drain.left_unembedded:,}",
    ]


def report(parameters: RetrievalParameters, outcome: Outcome) -> BenchReport:
    """The tables, the figures and the verdict; it passes when targets 1 and 2 are met."""
    checks = [search_check(outcome.search), oltp_check(outcome.oltp)]
    alone = next((r for r in outcome.oltp if r.vector_workers == 0), None)
    alone_p99_s = alone.p99_s if alone else None
    rates = ", ".join(
        f"{d.workers} worker(s) {'-' if d.jobs_per_s is None else f'{d.jobs_per_s:,.0f}'}"
        for d in outcome.drains
    )
    met = sum(c.passed is True for c in checks)
    verdict = (
        f"{met} of {len(checks)} targets met ({parameters.chunks:,} chunks,"
        f" {parameters.dimensions} dimensions); queue drain jobs/s: {rates}"
    )
    corpus = outcome.corpus
    tables = [
        format_table(
            SEARCH_HEADERS,
            [_search_row(row) for row in outcome.search],
            title=f"Search: {parameters.chunks:,} chunks x {parameters.dimensions} dimensions,"
            f" {len(corpus.tenants)} tenants, tenant-filtered, k = {K}, iterative scan; one"
            " connection, one query at a time, client-side latency (* meets the target)",
        ),
        format_table(
            OLTP_HEADERS,
            [_oltp_row(row, alone_p99_s) for row in outcome.oltp],
            title=f"OLTP reads at {parameters.oltp_rate_rps}/s for {parameters.oltp_duration_s:g}"
            f" s beside vector searches (ef_search {VECTOR_LOAD.ef_search}, k {VECTOR_LOAD.k});"
            f" pools: OLTP {OLTP_POOL.max_size}, vector {VECTOR_POOL.max_size}, shared"
            f" {OLTP_POOL.max_size}",
        ),
        format_table(
            DRAIN_HEADERS,
            [_drain_row(d) for d in outcome.drains],
            title=f"Embedding queue drain ({parameters.dimensions} dimensions, provider answering"
            f" in ~{EMBEDDING_TTFT_MS:g} ms)",
        ),
        (
            f"Corpus: loaded in {corpus.seconds:.1f} s, of which the HNSW index"
            f" {corpus.index_seconds:.1f} s; server: {dict(outcome.server)}"
        ),
        "Targets\n" + "\n".join(c.line() for c in checks),
    ]
    return BenchReport(
        parameters=_parameters(parameters, outcome.server),
        figures={
            "corpus": dataclasses.asdict(corpus),
            "search": [dataclasses.asdict(row) for row in outcome.search],
            "best_ef_search": (best.ef_search if (best := best_setting(outcome.search)) else None),
            "oltp": [
                dataclasses.asdict(row)
                | {"p99_over_alone": row.p99_s / alone_p99_s if alone_p99_s else None}
                for row in outcome.oltp
            ],
            "drain": [dataclasses.asdict(d) for d in outcome.drains],
            "checks": [dataclasses.asdict(c) for c in checks],
        },
        verdict=verdict,
        passed=all(c.passed is True for c in checks),
        tables=tables,
    )


def _parameters(parameters: RetrievalParameters, server: Mapping[str, str]) -> dict[str, Any]:
    return dataclasses.asdict(parameters) | {
        "k": K,
        "corpus": dataclasses.asdict(
            CorpusSpec(chunks=parameters.chunks, dimensions=parameters.dimensions)
        ),
        "index_memory_mb": INDEX_MEMORY_MB,
        "server": dict(server),
        "search": "candidate_query of random candidates; search() per query on one connection,"
        " sequentially; latency measured by the client, decoding included",
        "vector_load": dataclasses.asdict(VECTOR_LOAD),
        "pools": {
            "oltp": dataclasses.asdict(OLTP_POOL),
            "vector": dataclasses.asdict(VECTOR_POOL),
        },
        "oltp_reads": "load_pipeline and load_candidate in turn, random rows, regular arrivals;"
        " latency from the scheduled start",
        "embedding_model": _provider_config(parameters.dimensions).models[0].model_dump(),
        "machine": f"{os.cpu_count()} cores shared by PostgreSQL, the benchmark, the provider"
        " and the worker",
    }


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.bench.retrieval [--dimensions N] [--quick] [--out DIR]``: this
    benchmark alone, at another embedding size (``--vector-load JSON``: the searching child)."""
    from .__main__ import main as bench_main  # noqa: PLC0415 - the registry imports this module

    parser = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=main.__doc__)
    parser.add_argument("--dimensions", type=int, default=DEFAULT_DIMENSIONS)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--out", help="where to write (default: that of python -m benchmarks.bench)"
    )
    parser.add_argument("--vector-load", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.vector_load:
        counts = asyncio.run(vector_load(json.loads(args.vector_load)))
        sys.stdout.write(json.dumps(counts) + "\n")
        return 0
    os.environ[DIMENSIONS_ENV] = str(args.dimensions)
    rest = [*(["--quick"] if args.quick else []), *(["--out", args.out] if args.out else [])]
    return bench_main([NAME, *rest])


BENCHMARK = Benchmark(
    NAME,
    "recall and latency of the vector search, OLTP p99 under vector load, queue drain rate",
    run,
)

if __name__ == "__main__":
    sys.exit(main())
