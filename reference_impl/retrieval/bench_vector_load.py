"""The retrieval benchmark's vector load: tasks searching for random queries in a loop.

The OLTP measurement runs these tasks beside its reads, in its own event loop, or in another
process: ``python -m reference_impl.retrieval.bench_vector_load --load JSON`` (see
``command``) prints ``READY`` once it searches, searches until its stdin closes, then prints
its searches done and failed as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from .bench_pools import READ_ERRORS, VECTOR_POOL, open_pools
from .bench_search import K, Query
from .pools import Pool
from .search import SearchSettings, candidate_query, search


MODULE = "reference_impl.retrieval.bench_vector_load"
VECTOR_LOAD = SearchSettings(k=K, ef_search=400, iterative=True)
"""What each vector worker searches with, in a loop."""
READY = b"ready"
"""The line the vector load process prints once it searches."""


async def vector_worker(
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


def command(dsn: str, queries: Sequence[Query], *, workers: int, seed: int) -> list[str]:
    """The command line of a process searching with ``workers`` tasks for ``queries``."""
    load = {
        "dsn": dsn,
        "candidates": [[q.tenant_id, q.candidate_id] for q in queries],
        "workers": workers,
        "seed": seed,
    }
    return [sys.executable, "-m", MODULE, "--load", json.dumps(load)]


async def vector_load(load: Mapping[str, Any]) -> dict[str, int]:
    """The process of ``command``: search until stdin closes, then the counts."""
    pools = await open_pools(load["dsn"], oltp=VECTOR_POOL, vector=VECTOR_POOL, shared=True)
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
                vector_worker(pools.vector, queries, stop=stop, rng=random.Random(rng.random()))  # noqa: S311
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


def main(argv: list[str] | None = None) -> int:
    """``python -m reference_impl.retrieval.bench_vector_load --load JSON``."""
    parser = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=__doc__)
    parser.add_argument("--load", required=True, help="what to search, as JSON (see command)")
    args = parser.parse_args(argv)
    counts = asyncio.run(vector_load(json.loads(args.load)))
    sys.stdout.write(json.dumps(counts) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
