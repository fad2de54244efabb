"""Retrieval: recall and latency of the copilot's vector search, OLTP latency under vector load,
and the drain rate of the embedding queue.

One run starts a PostgreSQL with pgvector of its own and, for the queue, the simulated provider
(one embedding model of the corpus's size, answering in about ``EMBEDDING_TTFT_MS``), both on
loopback ports and stopped after. Two databases: ``retrieval_corpus`` holds the synthetic corpus
(``stack.corpus``: 100,000 clustered chunks, ``--quick`` 20,000, of 4 equal tenants),
``retrieval_queue`` the chunks the embedding worker drains. What measures the gateway's
retrieval code lives beside it, in ``reference_impl.retrieval.bench_*``; this package starts the
servers, loads the data, and turns the measurements into the report.

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

from ..common import Benchmark
from .driver import run
from .parameters import NAME


BENCHMARK = Benchmark(
    NAME,
    "recall and latency of the vector search, OLTP p99 under vector load, queue drain rate",
    run,
)
