"""Two connection pools, so that vector searches cannot starve the OLTP queries.

A nearest-neighbour search holds its connection far longer than a primary-key lookup; with one
pool, a burst of searches takes every connection and the cheap queries queue behind them. The
``oltp`` and ``vector`` pools are sized and time-limited separately. ``shared=True`` builds one
pool used for both (the naive profile, kept to show the difference).

Every connection has its ``statement_timeout`` set at connect time, pgvector's types
registered, and autocommit off. The pools open without waiting: the gateway starts and answers
degraded while PostgreSQL is down, connections are made in the background, and a request that
gets no connection within ``timeout_s`` gets ``psycopg_pool.PoolTimeout``.

A connection is checked on checkout without a round trip: one ``poll`` of its socket (about
1 µs) tells whether the server or the network closed it while it sat idle. A closed one is
replaced, and the pool then checks its other idle connections (a round trip each, only
then), since a cut link or a restarted server closed them all: after an outage the next
request gets a working connection rather than one broken connection per request. (The
round-trip check of ``AsyncConnectionPool.check_connection`` costs a round trip on every
checkout, and after two failed checks in a row psycopg_pool waits out the pool timeout.)
"""

from __future__ import annotations

import select
from dataclasses import dataclass

import psycopg
from pgvector.psycopg import register_vector_async
from psycopg import AsyncConnection
from psycopg.pq import ConnStatus
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool


Pool = AsyncConnectionPool[AsyncConnection[TupleRow]]
CLOSE_TIMEOUT_S = 1.0
"""How long closing a pool waits for its workers: one stuck connecting to a database that
does not answer is abandoned, so a gateway stops in time."""


@dataclass(frozen=True, kw_only=True)
class PoolSettings:
    """Size and time limits of one pool."""

    min_size: int = 1
    max_size: int = 10
    statement_timeout_ms: int = 2000
    timeout_s: float = 2.0  # waiting for a free connection
    connect_timeout_s: int = 5  # one connection attempt (libpq takes whole seconds, >= 2)


@dataclass(frozen=True, kw_only=True)
class Pools:
    """The OLTP and the vector pool; the same object when shared."""

    oltp: Pool
    vector: Pool

    @classmethod
    async def open(
        cls, dsn: str, *, oltp: PoolSettings, vector: PoolSettings, shared: bool = False
    ) -> Pools:
        """Open the pools without waiting for a connection (``shared``: one pool, ``oltp``'s)."""
        oltp_pool = await _open_pool(dsn, oltp, name="oltp" if not shared else "shared")
        if shared:
            return cls(oltp=oltp_pool, vector=oltp_pool)
        return cls(oltp=oltp_pool, vector=await _open_pool(dsn, vector, name="vector"))

    async def close(self) -> None:
        """Close both pools (once when shared)."""
        await self.oltp.close(timeout=CLOSE_TIMEOUT_S)
        if self.vector is not self.oltp:
            await self.vector.close(timeout=CLOSE_TIMEOUT_S)


def _closed_by_peer(conn: AsyncConnection[TupleRow]) -> bool:
    """Whether an idle connection was closed by the server or the network, at the cost of
    one ``poll``: its socket is readable (an idle connection is sent nothing else worth
    waiting for), and reading it finds the end of the stream or an error."""
    pgconn = conn.pgconn
    if pgconn.status != ConnStatus.OK:
        return True
    readable = select.poll()
    readable.register(pgconn.socket, select.POLLIN)
    if not readable.poll(0):
        return False
    try:
        pgconn.consume_input()
    except psycopg.OperationalError:
        return True
    return pgconn.status != ConnStatus.OK


async def _open_pool(dsn: str, settings: PoolSettings, *, name: str) -> Pool:
    async def check(conn: AsyncConnection[TupleRow]) -> None:
        """On checkout: a closed connection is replaced, and since its neighbours went the
        same way (a cut link, a restarted server) the pool checks its other idle ones."""
        if not _closed_by_peer(conn):
            return
        await conn.close()
        await pool.check()
        raise psycopg.OperationalError("the pooled connection was closed by the server or network")

    pool: Pool = AsyncConnectionPool(
        dsn,
        name=name,
        min_size=settings.min_size,
        max_size=settings.max_size,
        timeout=settings.timeout_s,
        kwargs={
            "options": f"-c statement_timeout={settings.statement_timeout_ms}",
            "connect_timeout": settings.connect_timeout_s,
            "autocommit": False,
        },
        configure=register_vector_async,
        check=check,
        open=False,
    )
    await pool.open(wait=False)
    return pool
