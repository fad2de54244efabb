"""Two connection pools, so that vector searches cannot starve the OLTP queries.

A nearest-neighbour search holds its connection far longer than a primary-key lookup; with one
pool, a burst of searches takes every connection and the cheap queries queue behind them. The
``oltp`` and ``vector`` pools are sized and time-limited separately. ``shared=True`` builds one
pool used for both (the naive profile, kept to show the difference).

Every connection has its ``statement_timeout`` set at connect time, pgvector's types
registered, and autocommit off. The pools open without waiting: the gateway starts and answers
degraded while PostgreSQL is down, connections are made in the background, and a request that
gets no connection within ``timeout_s`` gets ``psycopg_pool.PoolTimeout``.
"""

from __future__ import annotations

from dataclasses import dataclass

from pgvector.psycopg import register_vector_async
from psycopg import AsyncConnection
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool


Pool = AsyncConnectionPool[AsyncConnection[TupleRow]]


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
        await self.oltp.close()
        if self.vector is not self.oltp:
            await self.vector.close()


async def _open_pool(dsn: str, settings: PoolSettings, *, name: str) -> Pool:
    pool = AsyncConnectionPool(
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
        open=False,
    )
    await pool.open(wait=False)
    return pool
