"""The write path of document chunks: a chunk and its embedding job commit together.

``write_chunk`` upserts the chunk and inserts a row into the ``embedding_jobs`` outbox in
one transaction, so a committed chunk always has its job and a rolled-back write leaves
neither: no job is lost and there is no dual write to a separate queue. The request path
never calls the embedding provider; ``python -m reference_impl.embedding_worker`` does,
off the hot path, and readers use the precomputed vectors only.

The same transaction sends ``NOTIFY`` on ``JOBS_CHANNEL``; Postgres delivers it at commit
(never for a rolled-back write), so an idle worker wakes at once instead of at its next poll.

When the content changes, the chunk keeps its previous embedding until the new one lands.
Retrieval then keeps finding the document, by a vector a single edit away, instead of
losing it for the queue's lag (a NULL embedding is absent from the vector index);
``embedded_sha256 <> content_sha256`` marks such a stale vector for readers that care.
A job is not enqueued when the content is unchanged and already embedded.

Jobs that failed ``max_attempts`` times stay in the table for inspection and are no longer
taken; ``queue_stats`` counts them apart (``dead``) so that they do not keep an autoscaler
busy forever.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Final

from psycopg import AsyncConnection
from psycopg.rows import TupleRow


JOBS_CHANNEL: Final = "meltproof_embedding_jobs"
"""The ``LISTEN``/``NOTIFY`` channel on which a committed write announces its job."""
DEFAULT_MAX_ATTEMPTS: Final = 5
"""Failed attempts after which a job is left for inspection."""

_UPSERT: Final = """
INSERT INTO chunks (id, tenant_id, candidate_id, content, content_sha256)
VALUES (%(id)s, %(tenant_id)s, %(candidate_id)s, %(content)s, %(sha)s)
ON CONFLICT (id) DO UPDATE SET
    candidate_id = EXCLUDED.candidate_id,
    content = EXCLUDED.content,
    content_sha256 = EXCLUDED.content_sha256,
    updated_at = CASE WHEN chunks.content_sha256 = EXCLUDED.content_sha256
                      THEN chunks.updated_at ELSE now() END
WHERE chunks.tenant_id = EXCLUDED.tenant_id
RETURNING embedded_sha256 IS NOT DISTINCT FROM content_sha256
"""
_ENQUEUE: Final = "INSERT INTO embedding_jobs (chunk_id) VALUES (%s)"
_NOTIFY: Final = "SELECT pg_notify(%s, '')"
_STATS: Final = """
SELECT count(*) FILTER (WHERE attempts < %(max)s),
       COALESCE(EXTRACT(EPOCH FROM now() - min(enqueued_at) FILTER (WHERE attempts < %(max)s)),
                0)::float8,
       count(*) FILTER (WHERE attempts >= %(max)s)
FROM embedding_jobs
"""


@dataclass(frozen=True, slots=True)
class QueueStats:
    """The outbox at one moment: what a scaler reads and what lag alerts watch."""

    depth: int
    """Jobs still to do (fewer than ``max_attempts`` failures)."""
    oldest_age_s: float
    """Age of the oldest job still to do; 0 when there is none."""
    dead: int
    """Jobs given up after ``max_attempts`` failures, kept for inspection."""


def content_sha256(content: str) -> bytes:
    """The digest that ties an embedding to the content it was computed from."""
    return hashlib.sha256(content.encode()).digest()


async def write_chunk(
    conn: AsyncConnection[TupleRow],
    *,
    chunk_id: int,
    tenant_id: str,
    candidate_id: int | None,
    content: str,
) -> bool:
    """Upsert a chunk and enqueue its embedding job atomically; True when a job was enqueued.
    A chunk id of another tenant is a ``ValueError``: a write never moves a chunk between
    tenants.

    Runs in ``conn.transaction()``: its own transaction, or a savepoint of the caller's, in
    which case the job commits (and the workers are notified) with the caller's transaction.
    """
    async with conn.transaction():
        cursor = await conn.execute(
            _UPSERT,
            {
                "id": chunk_id,
                "tenant_id": tenant_id,
                "candidate_id": candidate_id,
                "content": content,
                "sha": content_sha256(content),
            },
        )
        row = await cursor.fetchone()
        if row is None:
            raise ValueError(f"chunk {chunk_id} belongs to another tenant than {tenant_id!r}")
        already_embedded = bool(row[0])
        if already_embedded:
            return False
        await conn.execute(_ENQUEUE, (chunk_id,))
        await conn.execute(_NOTIFY, (JOBS_CHANNEL,))
    return True


async def queue_stats(
    conn: AsyncConnection[TupleRow], *, max_attempts: int = DEFAULT_MAX_ATTEMPTS
) -> QueueStats:
    """Depth and age of the jobs still to do, and how many were given up."""
    cursor = await conn.execute(_STATS, {"max": max_attempts})
    row = await cursor.fetchone()
    if row is None:  # an aggregate always returns one row
        raise RuntimeError("queue statistics returned no row")
    depth, oldest_age_s, dead = row
    return QueueStats(depth=int(depth), oldest_age_s=float(oldest_age_s), dead=int(dead))
