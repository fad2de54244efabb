"""The OLTP scenarios of the retrieval benchmark: reads alone, beside a vector load through a
shared or split pool, and beside searches in another process."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import json
import os
import random
import select
import subprocess
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from reference_impl.retrieval import bench_vector_load
from reference_impl.retrieval.bench_oltp import OltpSample, measure_reads
from reference_impl.retrieval.bench_search import Query
from stack.process import die_with_parent

from ...percentile import nearest_rank_or_none
from .figures import OltpRow
from .parameters import RetrievalParameters


START_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class OltpScenario:
    """OLTP reads alone, or beside ``vector_workers`` searching through a shared or split pool;
    with ``searches_elsewhere`` the searches run in another process (a pool of their own)."""

    name: str
    vector_workers: int
    shared_pool: bool
    searches_elsewhere: bool = False


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


def oltp_row(scenario: OltpScenario, sample: OltpSample) -> OltpRow:
    """The row of one scenario from what its measurement saw."""
    latencies_s = sample.latencies_s
    p50_s, p99_s = nearest_rank_or_none(latencies_s, 50), nearest_rank_or_none(latencies_s, 99)
    if p50_s is None or p99_s is None:
        raise RuntimeError("no OLTP read measured")
    return OltpRow(
        scenario=scenario.name,
        shared_pool=scenario.shared_pool,
        vector_workers=scenario.vector_workers,
        searches_elsewhere=scenario.searches_elsewhere,
        reads=len(latencies_s),
        errors=sample.errors,
        p50_s=p50_s,
        p99_s=p99_s,
        searches=sample.searches,
        search_errors=sample.search_errors,
        loop_lag_p99_s=nearest_rank_or_none(sample.loop_lags_s, 99),
    )


def _measure_here(
    dsn: str,
    scenario: OltpScenario,
    queries: Sequence[Query],
    parameters: RetrievalParameters,
    *,
    rng: random.Random,
) -> OltpRow:
    """The reads, with the scenario's searches in this process's event loop (if any here)."""
    sample = asyncio.run(
        measure_reads(
            dsn,
            queries,
            shared_pool=scenario.shared_pool,
            vector_workers=0 if scenario.searches_elsewhere else scenario.vector_workers,
            rate_rps=parameters.oltp_rate_rps,
            warmup_s=parameters.warmup_s,
            duration_s=parameters.oltp_duration_s,
            rng=rng,
        )
    )
    return oltp_row(scenario, sample)


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
        return _measure_here(dsn, scenario, queries, parameters, rng=rng)
    with searches_elsewhere(
        dsn, queries, workers=scenario.vector_workers, seed=rng.randrange(2**32)
    ) as finish:
        row = _measure_here(dsn, scenario, queries, parameters, rng=rng)
        searches, search_errors = finish()
    return dataclasses.replace(row, searches=searches, search_errors=search_errors)


@contextlib.contextmanager
def searches_elsewhere(
    dsn: str, queries: Sequence[Query], *, workers: int, seed: int
) -> Iterator[Callable[[], tuple[int, int]]]:
    """A child process searching with ``workers`` tasks through a vector pool of its own, from
    when this returns until ``finish()``, which returns its searches done and failed."""
    child = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
        bench_vector_load.command(dsn, queries, workers=workers, seed=seed),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        preexec_fn=functools.partial(die_with_parent, os.getpid()),  # noqa: PLW1509
    )
    try:
        if child.stdout is None or not select.select([child.stdout], [], [], START_TIMEOUT_S)[0]:
            raise RuntimeError("the vector load process did not start in time")
        if child.stdout.readline().strip() != bench_vector_load.READY:
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
