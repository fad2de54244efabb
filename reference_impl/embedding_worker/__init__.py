"""``python -m reference_impl.embedding_worker`` (also ``meltproof worker``): embed queued chunks.

Writing a chunk enqueues a row in the ``embedding_jobs`` outbox in the same transaction
(``retrieval.documents.write_chunk``); this worker drains the outbox in batches, calls the
provider's ``/v1/embeddings`` and stores the vectors, so no request waits for an embedding.

One batch is one transaction: take up to ``batch_size`` jobs in queue order with
``FOR UPDATE OF embedding_jobs SKIP LOCKED`` (several workers never take the same job and
never wait for each other), read each chunk's content and ``content_sha256`` with it, call
the provider, ``UPDATE chunks SET embedding ... WHERE id = ... AND content_sha256 = <the sha
read>``, delete the jobs, commit. Only the job rows are locked, never the chunks, so writers
are not blocked while the provider answers.

Exactly-once effect under at-least-once delivery:

- A job disappears only in the transaction that stores its embedding: if that transaction
  commits, both happen; if the worker dies first (SIGKILL, lost connection, crash), neither
  does. Postgres releases the dead session's row locks when its backend ends, and the next
  worker (or the restarted one) takes the jobs again: nothing is lost.
- Re-running a job is harmless: the worker updates existing chunk rows in place and never
  inserts one, and the provider is deterministic, so a second run writes the same vector.
  Duplicate jobs for one chunk in a batch share one input; a job whose chunk is already
  embedded from its current content is deleted without calling the provider.
- A stale job cannot overwrite newer content: if the chunk changed after the job read it,
  the ``content_sha256`` condition matches no row and the newer content's own job (enqueued
  by its write) stores the right vector. Chunk rows are updated in chunk id order, so two
  workers never deadlock on them.

Provider calls are grouped per tenant and carry ``X-Tenant-Id``, so usage is attributed.
Failures: 400/413/422 (or an answer that does not parse) count as a failed attempt of the
call's jobs; a job with a failed attempt is later embedded alone, so one bad input cannot
keep failing its neighbours, and after ``max_attempts`` it is left in the table and logged
(``UPDATE embedding_jobs SET attempts = 0`` retries it). Other failures (429, 5xx, auth,
timeouts, connection errors) are not the jobs' fault: the worker backs off (exponential,
full jitter, at least the provider's Retry-After) without counting an attempt, so an outage
delays the queue but never dead-letters it. The rest of the batch still commits.

An idle worker ``LISTEN``s on the channel that ``write_chunk`` notifies at commit and wakes at
once; it also polls every ``idle_poll_s``, which picks up the jobs of a killed worker (a
released lock sends no notification) and anything missed while reconnecting. A batch holds
its transaction open during the provider call: ``idle_in_transaction_session_timeout``, if
set, must exceed ``request_timeout_s``.

Metrics (``--metrics-port``, Prometheus text on ``/metrics``): ``meltproof_embedding_queue_depth``,
``..._queue_oldest_age_seconds`` and ``meltproof_embedding_jobs_dead`` (refreshed every
``--stats-interval-s`` from ``queue_stats``), ``meltproof_embedding_jobs_done_total``,
``meltproof_embedding_batches_total{outcome}`` and ``meltproof_embedding_batch_seconds``.
A KEDA ``postgresql`` scaler reads the same depth straight from the database (dead jobs
excluded, so they do not keep workers up), with ``targetQueryValue`` the jobs per worker::

    query: "SELECT count(*) FROM embedding_jobs WHERE attempts < 5"

Modules: ``settings`` (``WorkerSettings``), ``provider`` (planning calls, requesting and
parsing embeddings), ``batch`` (one batch in one transaction), ``connection`` (the worker's
session and the schema check), ``waiting`` (idle and back-off waits that ``stop`` cuts short),
``worker`` (the loop and ``serve``), ``metrics`` (Prometheus metrics and ``/metrics``),
``cli`` (the command line, run by ``__main__``).
"""

from .batch import run_batch
from .cli import worker
from .connection import APPLICATION_NAME, SchemaMismatchError, connect
from .metrics import BATCH_BUCKETS_S, OUTCOMES, WorkerMetrics, refresh_queue_metrics
from .provider import (
    INPUT_ERRORS,
    Call,
    Embedded,
    Job,
    Outcome,
    ProviderUnavailable,
    Rejected,
    Unavailable,
    Vector,
    parse_embeddings,
    plan_calls,
    request_embeddings,
)
from .settings import MAX_INPUTS_PER_CALL, WorkerSettings
from .worker import run_worker, serve


__all__ = [
    "APPLICATION_NAME",
    "BATCH_BUCKETS_S",
    "INPUT_ERRORS",
    "MAX_INPUTS_PER_CALL",
    "OUTCOMES",
    "Call",
    "Embedded",
    "Job",
    "Outcome",
    "ProviderUnavailable",
    "Rejected",
    "SchemaMismatchError",
    "Unavailable",
    "Vector",
    "WorkerMetrics",
    "WorkerSettings",
    "connect",
    "parse_embeddings",
    "plan_calls",
    "refresh_queue_metrics",
    "request_embeddings",
    "run_batch",
    "run_worker",
    "serve",
    "worker",
]
