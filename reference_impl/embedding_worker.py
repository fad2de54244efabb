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
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import logging
import random
import signal
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

import aiohttp
import numpy as np
import psycopg
from aiohttp import web
from numpy.typing import NDArray
from pgvector.psycopg import register_vector_async
from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from psycopg import AsyncConnection, sql
from psycopg.rows import TupleRow

from .retrieval.documents import DEFAULT_MAX_ATTEMPTS, JOBS_CHANNEL, QueueStats, queue_stats
from .retry import Backoff, retry_after_s


log = logging.getLogger(__name__)

MAX_INPUTS_PER_CALL: Final = 2048
"""OpenAI's limit on inputs per embeddings request, hence the largest batch."""
INPUT_ERRORS: Final = frozenset({400, 413, 422})
"""Statuses that blame the input: they count as a failed attempt of the call's jobs."""
APPLICATION_NAME: Final = "meltproof-embedding-worker"
"""How the worker's sessions appear in ``pg_stat_activity``."""
OUTCOMES: Final = ("ok", "provider_unavailable", "error")
BATCH_BUCKETS_S: Final = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

Vector = NDArray[np.float32]

_TAKE: Final = """
SELECT j.id, j.chunk_id, j.attempts, c.tenant_id, c.content, c.content_sha256,
       COALESCE(c.embedded_sha256 = c.content_sha256, false)
FROM embedding_jobs AS j JOIN chunks AS c ON c.id = j.chunk_id
WHERE j.attempts < %(max_attempts)s
ORDER BY j.enqueued_at, j.id
LIMIT %(limit)s
FOR UPDATE OF j SKIP LOCKED
"""
_STORE: Final = """
UPDATE chunks SET embedding = %s, embedded_sha256 = content_sha256
WHERE id = %s AND content_sha256 = %s
"""
_FINISH: Final = "DELETE FROM embedding_jobs WHERE id = ANY(%s)"
_FAIL: Final = (
    "UPDATE embedding_jobs SET attempts = attempts + 1 WHERE id = ANY(%s)"
    " RETURNING id, chunk_id, attempts"
)
_EMBEDDING_SIZE: Final = """
SELECT atttypmod FROM pg_attribute
WHERE attrelid = to_regclass('chunks') AND attname = 'embedding' AND NOT attisdropped
"""


@dataclass(frozen=True, kw_only=True)
class WorkerSettings:
    """Where the queue and the provider are, and how a worker drains the queue."""

    dsn: str
    provider_url: str
    """The provider's base URL, with or without ``/v1``."""
    provider_api_key: str = "sk-meltproof"
    model: str = "text-embedding-3-small"
    dimensions: int
    """Must equal the size of ``chunks.embedding``; sent to the provider as ``dimensions``."""
    batch_size: int = 64
    idle_poll_s: float = 0.5
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    request_timeout_s: float = 30.0
    backoff: Backoff = field(default_factory=lambda: Backoff(base_s=0.5, cap_s=30.0))
    """Waits after a provider outage or a database error."""

    def __post_init__(self) -> None:
        if not 1 <= self.batch_size <= MAX_INPUTS_PER_CALL:
            raise ValueError(f"batch_size must be in 1..{MAX_INPUTS_PER_CALL}")
        if self.dimensions < 1 or self.max_attempts < 1:
            raise ValueError("dimensions and max_attempts must be at least 1")
        if not (self.idle_poll_s > 0 and self.request_timeout_s > 0):
            raise ValueError("idle_poll_s and request_timeout_s must be positive")

    @property
    def embeddings_url(self) -> str:
        """``<root>/v1/embeddings``, whether or not ``provider_url`` ends in ``/v1``."""
        root = self.provider_url.rstrip("/").removesuffix("/v1")
        return f"{root}/v1/embeddings"


class SchemaMismatchError(Exception):
    """The database's ``chunks.embedding`` does not hold vectors of the configured size."""


class ProviderUnavailable(Exception):  # noqa: N818 - reads as a state, like RedisUnavailable
    """The provider could not serve some of a batch; the rest of the batch was committed."""

    def __init__(self, reason: str, *, done: int, retry_after_s: float | None) -> None:
        super().__init__(reason)
        self.done = done
        self.retry_after_s = retry_after_s


@dataclass(frozen=True, slots=True)
class Job:
    """A job as taken, with its chunk as it was at that moment."""

    id: int
    chunk_id: int
    attempts: int
    tenant_id: str
    content: str
    content_sha256: bytes
    embedded: bool
    """The chunk is already embedded from this content (a job run twice, or a duplicate)."""


@dataclass(frozen=True, slots=True)
class Call:
    """One provider request: distinct chunks of one tenant, and the jobs it completes."""

    tenant_id: str
    chunks: tuple[Job, ...]
    """One job per distinct chunk: the input and the sha it is stored under."""
    job_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Embedded:
    """The provider's vectors, one per chunk of the call."""

    vectors: list[Vector]


@dataclass(frozen=True, slots=True)
class Rejected:
    """The input (or the answer to it) is bad: a failed attempt for the call's jobs."""

    reason: str


@dataclass(frozen=True, slots=True)
class Unavailable:
    """The provider failed for reasons of its own: back off, count no attempt."""

    reason: str
    retry_after_s: float | None


Outcome = Embedded | Rejected | Unavailable


def plan_calls(jobs: Sequence[Job]) -> tuple[list[int], list[Call]]:
    """Split a batch into jobs already done and provider calls for the others.

    Jobs of one chunk share an input; a tenant's chunks share a call, except chunks with a
    failed attempt, which get a call each.
    """
    already_done = [job.id for job in jobs if job.embedded]
    by_chunk: dict[int, list[Job]] = {}
    for job in jobs:
        if not job.embedded:
            by_chunk.setdefault(job.chunk_id, []).append(job)
    calls: list[Call] = []
    by_tenant: dict[str, list[list[Job]]] = {}
    for chunk_jobs in by_chunk.values():
        if any(job.attempts > 0 for job in chunk_jobs):
            calls.append(_call([chunk_jobs]))
        else:
            by_tenant.setdefault(chunk_jobs[0].tenant_id, []).append(chunk_jobs)
    calls.extend(_call(groups) for groups in by_tenant.values())
    return already_done, calls


def _call(chunk_groups: list[list[Job]]) -> Call:
    return Call(
        tenant_id=chunk_groups[0][0].tenant_id,
        chunks=tuple(group[0] for group in chunk_groups),
        job_ids=tuple(job.id for group in chunk_groups for job in group),
    )


def parse_embeddings(payload: object, *, count: int, dimensions: int) -> list[Vector]:
    """The ``count`` vectors of an embeddings response, in input order; ValueError if malformed.

    Accepts float lists and base64 little-endian float32; every vector must have
    ``dimensions`` finite values (pgvector rejects NaN and infinities).
    """
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, list) or len(data) != count:
        raise ValueError(f"expected {count} embeddings")
    vectors: list[Vector | None] = [None] * count
    for item in data:
        index = item.get("index") if isinstance(item, dict) else None
        if not isinstance(index, int) or not 0 <= index < count or vectors[index] is not None:
            raise ValueError(f"embedding index missing, out of range or repeated: {index!r}")
        vector = _decode(item.get("embedding"))
        if vector.shape != (dimensions,) or not np.isfinite(vector).all():
            raise ValueError(f"embedding {index} is not {dimensions} finite numbers")
        vectors[index] = vector
    return [vector for vector in vectors if vector is not None]


def _decode(raw: object) -> Vector:
    try:
        if isinstance(raw, str):
            return np.frombuffer(base64.b64decode(raw, validate=True), dtype="<f4").astype(
                np.float32
            )
        if isinstance(raw, list):
            return np.asarray(raw, dtype=np.float32)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"undecodable embedding: {exc}") from exc
    raise ValueError("an embedding is neither a list nor base64")


async def request_embeddings(
    http: aiohttp.ClientSession, settings: WorkerSettings, call: Call
) -> Outcome:
    """Ask the provider for the vectors of one call; never raises for provider trouble."""
    body = {
        "model": settings.model,
        "input": [chunk.content for chunk in call.chunks],
        "dimensions": settings.dimensions,
        "encoding_format": "base64",
    }
    try:
        async with http.post(
            settings.embeddings_url,
            json=body,
            headers={"X-Tenant-Id": call.tenant_id},
            timeout=aiohttp.ClientTimeout(total=settings.request_timeout_s),
        ) as response:
            raw = await response.read()
            status, headers = response.status, response.headers
    except (aiohttp.ClientError, TimeoutError) as exc:
        return Unavailable(f"{type(exc).__name__}: {exc}", None)
    if status in INPUT_ERRORS:
        return Rejected(f"HTTP {status}: {raw[:300].decode(errors='replace')}")
    if status != 200:  # noqa: PLR2004 - the one success status of the API
        return Unavailable(f"HTTP {status}", retry_after_s(headers))
    try:
        vectors = parse_embeddings(
            json.loads(raw), count=len(call.chunks), dimensions=settings.dimensions
        )
    except ValueError as exc:  # json.JSONDecodeError included
        return Rejected(f"malformed answer: {exc}")
    return Embedded(vectors)


async def run_batch(
    conn: AsyncConnection[TupleRow], http: aiohttp.ClientSession, settings: WorkerSettings
) -> int:
    """Take, embed, store and delete one batch of jobs in one transaction; the jobs done.

    Raises ``ProviderUnavailable`` after committing when the provider failed some calls for
    reasons of its own (their jobs stay queued, their attempts unchanged).
    """
    async with conn.transaction():
        cursor = await conn.execute(
            _TAKE, {"max_attempts": settings.max_attempts, "limit": settings.batch_size}
        )
        jobs = [Job(*row) for row in await cursor.fetchall()]
        if not jobs:
            return 0
        done, calls = plan_calls(jobs)
        outcomes = await asyncio.gather(*(request_embeddings(http, settings, c) for c in calls))
        stores: list[tuple[Vector, int, bytes]] = []
        rejected: list[tuple[Call, Rejected]] = []
        unavailable: list[Unavailable] = []
        for call, outcome in zip(calls, outcomes, strict=True):
            if isinstance(outcome, Embedded):
                stores.extend(
                    (vector, chunk.chunk_id, chunk.content_sha256)
                    for chunk, vector in zip(call.chunks, outcome.vectors, strict=True)
                )
                done.extend(call.job_ids)
            elif isinstance(outcome, Rejected):
                rejected.append((call, outcome))
            else:
                unavailable.append(outcome)
        if stores:
            stores.sort(key=lambda store: store[1])  # lock chunk rows in id order
            async with conn.cursor() as cursor:
                await cursor.executemany(_STORE, stores)
        if done:
            await conn.execute(_FINISH, (done,))
        if rejected:
            await _count_failures(conn, rejected, settings.max_attempts)
    if unavailable:
        waits = [u.retry_after_s for u in unavailable if u.retry_after_s is not None]
        raise ProviderUnavailable(
            unavailable[0].reason, done=len(done), retry_after_s=max(waits, default=None)
        )
    return len(done)


async def _count_failures(
    conn: AsyncConnection[TupleRow], rejected: list[tuple[Call, Rejected]], max_attempts: int
) -> None:
    for call, outcome in rejected:
        log.warning("embedding rejected for jobs %s: %s", list(call.job_ids), outcome.reason)
    job_ids = [job_id for call, _ in rejected for job_id in call.job_ids]
    cursor = await conn.execute(_FAIL, (job_ids,))
    for job_id, chunk_id, attempts in await cursor.fetchall():
        if attempts >= max_attempts:
            log.error(
                "giving up on embedding job %d (chunk %d) after %d attempts; it stays in "
                "embedding_jobs, set its attempts to 0 to retry",
                job_id, chunk_id, attempts,
            )  # fmt: skip


async def connect(settings: WorkerSettings) -> AsyncConnection[TupleRow]:
    """An autocommit connection with pgvector's types, listening for new jobs.

    Raises ``SchemaMismatchError`` when ``chunks.embedding`` is missing or of another size.
    """
    conn = await AsyncConnection.connect(
        settings.dsn, autocommit=True, application_name=APPLICATION_NAME
    )
    try:
        await _check_embedding_size(conn, settings.dimensions)
        await register_vector_async(conn)
        await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(JOBS_CHANNEL)))
    except BaseException:
        await conn.close()
        raise
    return conn


async def _check_embedding_size(conn: AsyncConnection[TupleRow], dimensions: int) -> None:
    row = await (await conn.execute(_EMBEDDING_SIZE)).fetchone()
    if row is None or row[0] != dimensions:
        found = "no such column" if row is None else f"vector({row[0]})"
        raise SchemaMismatchError(f"expected chunks.embedding vector({dimensions}), {found}")


class WorkerMetrics:
    """The worker's Prometheus metrics, in a registry of their own (never the global one)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        prefix = "meltproof_embedding_"
        self._depth = Gauge(prefix + "queue_depth", "Jobs to do.", registry=self.registry)
        self._age = Gauge(
            prefix + "queue_oldest_age_seconds", "Age of the oldest job to do.",
            registry=self.registry,
        )  # fmt: skip
        self._dead = Gauge(
            prefix + "jobs_dead", "Jobs given up after max_attempts failures.",
            registry=self.registry,
        )  # fmt: skip
        self._done = Counter(prefix + "jobs_done", "Jobs completed.", registry=self.registry)
        batches = Counter(
            prefix + "batches", "Batches by outcome.", ("outcome",), registry=self.registry
        )
        self._batches = {outcome: batches.labels(outcome) for outcome in OUTCOMES}
        self._seconds = Histogram(
            prefix + "batch_seconds", "Time to take, embed and store one batch.",
            buckets=BATCH_BUCKETS_S, registry=self.registry,
        )  # fmt: skip

    def queue(self, stats: QueueStats) -> None:
        """Record the queue as last measured."""
        self._depth.set(stats.depth)
        self._age.set(stats.oldest_age_s)
        self._dead.set(stats.dead)

    def batch(self, *, outcome: str, done: int, duration_s: float) -> None:
        """Record one batch that took jobs or failed."""
        self._batches[outcome].inc()
        self._done.inc(done)
        self._seconds.observe(duration_s)

    def render(self) -> bytes:
        """The Prometheus text exposition."""
        return generate_latest(self.registry)


async def run_worker(
    settings: WorkerSettings,
    *,
    stop: asyncio.Event,
    on_batch: Callable[[int], None] | None = None,
    metrics: WorkerMetrics | None = None,
    rng: random.Random | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> None:
    """Drain the queue until ``stop`` is set, finishing the batch in hand; reconnects on errors.

    ``on_batch`` gets the jobs done by each batch that did any. Raises ``SchemaMismatchError``.
    """
    rng = rng or random.Random()  # noqa: S311 - jitter, not secrets
    failures = 0
    idle = False
    conn: AsyncConnection[TupleRow] | None = None
    headers = {"Authorization": f"Bearer {settings.provider_api_key}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        try:
            while not stop.is_set():
                done, outcome, retry_after = 0, "ok", None
                started = clock()
                try:
                    if conn is None or conn.closed:
                        conn = await connect(settings)
                    elif idle:
                        await _wait_for_jobs(conn, settings.idle_poll_s, stop)
                        if stop.is_set():
                            break
                    await _forget_notifications(conn)
                    started = clock()
                    done = await run_batch(conn, http, settings)
                except ProviderUnavailable as exc:
                    done, outcome, retry_after = exc.done, "provider_unavailable", exc.retry_after_s
                    log.warning("embedding provider unavailable: %s", exc)
                except psycopg.Error as exc:
                    outcome = "error"
                    log.warning("embedding worker database error: %s", exc)
                    if conn is not None and conn.broken:
                        await conn.close()
                if metrics is not None and (done or outcome != "ok"):
                    metrics.batch(outcome=outcome, done=done, duration_s=clock() - started)
                if done and on_batch is not None:
                    on_batch(done)
                failures = 0 if outcome == "ok" else failures + 1
                idle = done == 0 and outcome == "ok"
                if failures:
                    delay_s = max(settings.backoff.delay_s(failures, rng), retry_after or 0.0)
                    await _sleep_unless_stopped(stop, delay_s)
        finally:
            if conn is not None:
                await conn.close()


async def _forget_notifications(conn: AsyncConnection[TupleRow]) -> None:
    """Drop the notifications received so far: the batch about to run sees their jobs."""
    async for _ in conn.notifies(timeout=0):
        pass


async def _wait_for_jobs(
    conn: AsyncConnection[TupleRow], timeout_s: float, stop: asyncio.Event
) -> None:
    """Return at the first notification of a new job, after ``timeout_s``, or at ``stop``."""
    notified = asyncio.create_task(_next_notification(conn, timeout_s))
    stopped = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait((notified, stopped), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (notified, stopped):
            task.cancel()
        await asyncio.wait((notified, stopped))
    if not notified.cancelled() and (error := notified.exception()) is not None:
        raise error


async def _next_notification(conn: AsyncConnection[TupleRow], timeout_s: float) -> None:
    async for _ in conn.notifies(timeout=timeout_s, stop_after=1):
        break


async def _sleep_unless_stopped(stop: asyncio.Event, delay_s: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=delay_s)


async def refresh_queue_metrics(
    settings: WorkerSettings, metrics: WorkerMetrics, *, stop: asyncio.Event, interval_s: float
) -> None:
    """Measure the queue every ``interval_s`` until ``stop``, on a connection of its own."""
    while not stop.is_set():
        try:
            async with await AsyncConnection.connect(settings.dsn, autocommit=True) as conn:
                while not stop.is_set():
                    metrics.queue(await queue_stats(conn, max_attempts=settings.max_attempts))
                    await _sleep_unless_stopped(stop, interval_s)
        except psycopg.Error as exc:
            log.warning("cannot measure the embedding queue: %s", exc)
            await _sleep_unless_stopped(stop, interval_s)


async def serve(
    settings: WorkerSettings,
    *,
    stop: asyncio.Event,
    concurrency: int = 1,
    metrics_host: str = "127.0.0.1",
    metrics_port: int | None = None,
    stats_interval_s: float = 5.0,
) -> None:
    """Run ``concurrency`` workers (a connection each) and the metrics endpoint until ``stop``."""
    metrics = WorkerMetrics()
    runner: web.AppRunner | None = None
    if metrics_port is not None:

        async def scrape(_: web.Request) -> web.Response:
            return web.Response(
                body=metrics.render(), headers={"Content-Type": CONTENT_TYPE_PLAIN_0_0_4}
            )

        app = web.Application()
        app.router.add_get("/metrics", scrape)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, metrics_host, metrics_port).start()
    try:
        async with asyncio.TaskGroup() as tasks:
            for _ in range(concurrency):
                tasks.create_task(run_worker(settings, stop=stop, metrics=metrics))
            if runner is not None:
                tasks.create_task(
                    refresh_queue_metrics(settings, metrics, stop=stop, interval_s=stats_interval_s)
                )
    finally:
        if runner is not None:
            await runner.cleanup()


def parser(prog: str = "python -m reference_impl.embedding_worker") -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Embed queued document chunks; SIGINT/SIGTERM stop after the current batch.",
    )
    parser.add_argument("--dsn", required=True, help="PostgreSQL connection string")
    parser.add_argument("--provider-url", required=True, help="base URL of the provider")
    parser.add_argument("--provider-api-key", default="sk-meltproof", help="key sent upstream")
    parser.add_argument("--model", default="text-embedding-3-small", help="embedding model")
    parser.add_argument(
        "--dimensions", type=int, required=True, help="embedding size (that of chunks.embedding)"
    )
    parser.add_argument("--batch-size", type=int, default=64, help="jobs per batch (%(default)s)")
    parser.add_argument(
        "--concurrency", type=_positive(int), default=1, help="workers in this process"
    )
    parser.add_argument("--max-attempts", type=int, default=DEFAULT_MAX_ATTEMPTS)
    parser.add_argument("--idle-poll-s", type=float, default=0.5)
    parser.add_argument("--request-timeout-s", type=float, default=30.0)
    parser.add_argument("--metrics-host", default="127.0.0.1")
    parser.add_argument("--metrics-port", type=int, help="serve Prometheus /metrics on this port")
    parser.add_argument(
        "--stats-interval-s", type=_positive(float), default=5.0, help="queue gauge refresh"
    )
    return parser


def _positive(kind: Callable[[str], float]) -> Callable[[str], float]:
    def parse(text: str) -> float:
        value = kind(text)
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its errors
    return parse


def main(
    argv: list[str] | None = None, *, prog: str = "python -m reference_impl.embedding_worker"
) -> int:
    """Parse the command line and drain the queue until SIGINT/SIGTERM."""
    args = parser(prog).parse_args(argv)
    try:
        settings = WorkerSettings(
            dsn=args.dsn,
            provider_url=args.provider_url,
            provider_api_key=args.provider_api_key,
            model=args.model,
            dimensions=args.dimensions,
            batch_size=args.batch_size,
            idle_poll_s=args.idle_poll_s,
            max_attempts=args.max_attempts,
            request_timeout_s=args.request_timeout_s,
        )
    except ValueError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve(
            settings,
            stop=stop,
            concurrency=args.concurrency,
            metrics_host=args.metrics_host,
            metrics_port=args.metrics_port,
            stats_interval_s=args.stats_interval_s,
        )

    mismatch: BaseException | None = None
    try:
        asyncio.run(run())
    except* SchemaMismatchError as group:
        mismatch = group.exceptions[0]
    if mismatch is not None:
        sys.stderr.write(f"error: {mismatch}\n")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
