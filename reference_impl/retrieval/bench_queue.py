"""The retrieval benchmark's view of the embedding queue: what is left to drain and to embed."""

from __future__ import annotations

from typing import Any

import psycopg

from .documents import DEFAULT_MAX_ATTEMPTS


def queued_jobs(conn: psycopg.Connection[Any]) -> int:
    """Jobs the embedding worker will still try (fewer than ``DEFAULT_MAX_ATTEMPTS`` attempts)."""
    row = conn.execute(
        "SELECT count(*) FROM embedding_jobs WHERE attempts < %s", (DEFAULT_MAX_ATTEMPTS,)
    ).fetchone()
    return int(row[0]) if row else 0


def unembedded_chunks(conn: psycopg.Connection[Any]) -> int:
    """Chunks without an embedding; -1 if the count could not be read."""
    row = conn.execute("SELECT count(*) FROM chunks WHERE embedding IS NULL").fetchone()
    return int(row[0]) if row else -1
