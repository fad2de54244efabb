"""``connect``: the worker's database session, checked against the configured vector size.

The session is in autocommit (a batch opens its own transaction), knows pgvector's types,
names itself in ``pg_stat_activity`` and ``LISTEN``s for the notification ``write_chunk``
sends at commit, so an idle worker wakes as soon as a job is queued.
"""

from __future__ import annotations

from typing import Final

from pgvector.psycopg import register_vector_async
from psycopg import AsyncConnection, sql
from psycopg.conninfo import make_conninfo
from psycopg.rows import TupleRow

from ..retrieval.documents import JOBS_CHANNEL
from ..retrieval.migrate import embedding_size
from .settings import WorkerSettings


APPLICATION_NAME: Final = "meltproof-embedding-worker"
"""How the worker's sessions appear in ``pg_stat_activity``."""
NETWORK_LIMITS: Final = {
    "connect_timeout": 5,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 30_000,
}
"""libpq settings that make a stalled network an error within seconds, not a hang until TCP
gives up: a worker holding locked jobs must notice a dead database."""


def limited(dsn: str) -> str:
    """``dsn`` with the ``NETWORK_LIMITS`` added."""
    return make_conninfo(dsn, **NETWORK_LIMITS)


class SchemaMismatchError(Exception):
    """The database's ``chunks.embedding`` does not hold vectors of the configured size."""


async def connect(settings: WorkerSettings) -> AsyncConnection[TupleRow]:
    """An autocommit connection with pgvector's types, listening for new jobs.

    Raises ``SchemaMismatchError`` when ``chunks.embedding`` is missing or of another size.
    """
    conn = await AsyncConnection.connect(
        limited(settings.dsn), autocommit=True, application_name=APPLICATION_NAME
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
    size = await embedding_size(conn)
    if size != dimensions:
        found = "no such column" if size is None else f"vector({size})"
        raise SchemaMismatchError(f"expected chunks.embedding vector({dimensions}), {found}")
