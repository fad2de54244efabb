"""Schema migrations for the copilot's tables: each file once, in name order, race-free.

The migrations are the ``migrations/*.sql`` files shipped inside this package; a file's name
without ``.sql`` is its version, recorded in ``schema_migrations`` when applied. Several gateway
workers may start at once, so everything runs in one transaction that first takes a
transaction-level advisory lock: the second worker waits, then finds nothing left to apply.
``{dimensions}`` in a file is replaced by the configured embedding size; an existing ``chunks``
table built for another size is refused (``MigrationError``), since mixing sizes cannot work.
"""

from __future__ import annotations

from importlib import resources

import psycopg
from psycopg.rows import TupleRow


# Any constant works as long as every migrating process uses the same one ("meltpg" in ASCII).
_LOCK_KEY = 0x6D656C747067
_MAX_DIMENSIONS = 16_000  # pgvector's limit for the vector type

_CREATE_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    text PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""
_EMBEDDING_SIZE = """
SELECT atttypmod FROM pg_attribute
WHERE attrelid = to_regclass('chunks') AND attname = 'embedding' AND NOT attisdropped
"""


async def embedding_size(conn: psycopg.AsyncConnection[TupleRow]) -> int | None:
    """The size of ``chunks.embedding`` vectors, or None when there is no such column."""
    row = await (await conn.execute(_EMBEDDING_SIZE)).fetchone()
    return None if row is None else int(row[0])


class MigrationError(Exception):
    """The database cannot be migrated as configured (for instance a vector size mismatch)."""


def _migration_files() -> list[tuple[str, str]]:
    """``(version, sql)`` of every packaged migration, in name order."""
    folder = resources.files(__package__ or "reference_impl.retrieval").joinpath("migrations")
    files = sorted(
        (entry for entry in folder.iterdir() if entry.name.endswith(".sql")),
        key=lambda entry: entry.name,
    )
    return [(entry.name.removesuffix(".sql"), entry.read_text(encoding="utf-8")) for entry in files]


async def migrate(dsn: str, *, dimensions: int) -> list[str]:
    """Apply the migrations not applied yet; return their versions (empty when up to date)."""
    if not 0 < dimensions <= _MAX_DIMENSIONS:
        raise MigrationError(f"dimensions must be in 1..{_MAX_DIMENSIONS}, got {dimensions}")
    async with await psycopg.AsyncConnection.connect(dsn) as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        await _check_embedding_size(conn, dimensions)
        await conn.execute(_CREATE_LEDGER)
        cursor = await conn.execute("SELECT version FROM schema_migrations")
        done = {version for (version,) in await cursor.fetchall()}
        applied: list[str] = []
        for version, sql in _migration_files():
            if version in done:
                continue
            await conn.execute(sql.replace("{dimensions}", str(dimensions)))
            await conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
            applied.append(version)
    return applied


async def _check_embedding_size(conn: psycopg.AsyncConnection[TupleRow], dimensions: int) -> None:
    """Raise ``MigrationError`` if ``chunks.embedding`` exists with another vector size."""
    size = await embedding_size(conn)
    if size is not None and size != dimensions:
        raise MigrationError(
            f"chunks.embedding holds vectors of {size} dimensions but {dimensions} are"
            " configured; configure the embedding size the database was built with, or migrate"
            " the data to a new database"
        )
