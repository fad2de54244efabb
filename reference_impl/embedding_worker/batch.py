"""``run_batch``: take, embed, store and delete one batch of jobs in one transaction.

The jobs are locked with ``FOR UPDATE ... SKIP LOCKED`` (never the chunks), a vector is
stored only if the chunk still has the content it was computed from, and a job is deleted
only in the transaction that stores its vector: the package docstring explains why this
gives an exactly-once effect.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final

import aiohttp
from psycopg import AsyncConnection
from psycopg.rows import TupleRow

from .provider import (
    Call,
    Embedded,
    Job,
    ProviderUnavailable,
    Rejected,
    Unavailable,
    Vector,
    plan_calls,
    request_embeddings,
)
from .settings import WorkerSettings


log = logging.getLogger(__name__)

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
