"""The queue drain of the retrieval benchmark: unembedded chunks, then the embedding worker
until the queue is empty."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import psycopg

from reference_impl.retrieval.bench_queue import queued_jobs, unembedded_chunks
from stack.corpus import CorpusSpec, generate
from stack.process import ManagedProcess

from ..common import say
from .figures import Drain, drain_rate
from .parameters import NAME, RetrievalParameters


DRAIN_POLL_S = 0.1
DRAIN_TIMEOUT_S = 900.0


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
                samples.append((clock(), queued_jobs(conn)))
                time.sleep(DRAIN_POLL_S)
        finally:
            worker.stop()
        left_unembedded = unembedded_chunks(conn)
    drain = Drain(
        workers=workers,
        jobs=parameters.queue_jobs,
        seconds=samples[-1][0] - started,
        jobs_per_s=drain_rate(samples),
        left_unembedded=left_unembedded,
    )
    rate = "-" if drain.jobs_per_s is None else f"{drain.jobs_per_s:,.0f}"
    say(f"{NAME}:   {rate} jobs/s ({drain.seconds:.1f} s with the worker's start-up)")
    return drain
