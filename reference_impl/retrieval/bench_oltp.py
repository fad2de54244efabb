"""The retrieval benchmark's OLTP reads: the copilot's reads at a fixed rate beside a vector load.

The reads (``load_pipeline``, ``load_candidate``: a few primary-key and index lookups) go
through the OLTP pool while ``vector_workers`` tasks search through the vector pool, split or
shared, in the same event loop, as in a gateway worker. A read's latency counts from its
scheduled start (a late start is part of it); a read that fails counts with the time it took to
fail. The loop's lag (how late a ``LOOP_LAG_INTERVAL_S`` timer fires) is sampled meanwhile.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from ..copilot.data import load_candidate, load_pipeline
from .bench_pools import OLTP_POOL, READ_ERRORS, VECTOR_POOL, open_pools
from .bench_search import Query
from .bench_vector_load import vector_worker
from .pools import Pool


LOOP_LAG_INTERVAL_S = 0.005

Read = Callable[[Pool], Awaitable[object]]


@dataclass(frozen=True)
class OltpSample:
    """What one measurement of the reads saw: the latency of each read, the reads that failed,
    the searches done and failed beside them, and the loop's lags."""

    latencies_s: list[float]
    errors: int
    searches: int
    search_errors: int
    loop_lags_s: list[float]


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


async def _loop_lag(stop: asyncio.Event) -> list[float]:
    """How late a ``LOOP_LAG_INTERVAL_S`` timer fires, until ``stop``."""
    loop = asyncio.get_running_loop()
    lags_s = []
    while not stop.is_set():
        started = loop.time()
        await asyncio.sleep(LOOP_LAG_INTERVAL_S)
        lags_s.append(loop.time() - started - LOOP_LAG_INTERVAL_S)
    return lags_s


async def measure_reads(
    dsn: str,
    queries: Sequence[Query],
    *,
    shared_pool: bool,
    vector_workers: int,
    rate_rps: int,
    warmup_s: float,
    duration_s: float,
    rng: random.Random,
) -> OltpSample:
    """Warm up, then measure the reads while ``vector_workers`` tasks search (none: alone)."""
    pools = await open_pools(dsn, oltp=OLTP_POOL, vector=VECTOR_POOL, shared=shared_pool)
    try:
        warmup = await oltp_reads(pools.oltp, rng=rng, count=int(rate_rps * warmup_s))
        reads = await oltp_reads(pools.oltp, rng=rng, count=int(rate_rps * duration_s))
        stop, stop_lag = asyncio.Event(), asyncio.Event()
        workers = [
            asyncio.create_task(
                vector_worker(pools.vector, queries, stop=stop, rng=random.Random(rng.random()))  # noqa: S311
            )
            for _ in range(vector_workers)
        ]
        try:
            await _fixed_rate(pools.oltp, warmup, rate_rps=rate_rps)
            lag = asyncio.create_task(_loop_lag(stop_lag))
            latencies_s, failed = await _fixed_rate(pools.oltp, reads, rate_rps=rate_rps)
            stop_lag.set()
            lags_s = await lag
        finally:
            stop.set()
            searched = await asyncio.gather(*workers)
    finally:
        await pools.close()
    return OltpSample(
        latencies_s=latencies_s,
        errors=failed,
        searches=sum(done for done, _ in searched),
        search_errors=sum(failed for _, failed in searched),
        loop_lags_s=lags_s,
    )
