"""The pools the retrieval benchmark measures through: the gateway's own, and one connection.

``OLTP_POOL`` and ``VECTOR_POOL`` have the gateway's default sizes and time limits (its
``split_pools`` section); ``ONE_CONNECTION`` measures searches one at a time, with a statement
timeout long enough for an exact scan.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import psycopg
import psycopg_pool

from ..config import PoolConfig, SplitPoolsConfig
from .pools import Pools, PoolSettings


POOL_OPEN_TIMEOUT_S = 30.0
SEARCH_STATEMENT_TIMEOUT_MS = 60_000
"""Of the search measurement's connection: an exact scan must finish, however slow."""
READ_ERRORS = (psycopg.Error, psycopg_pool.PoolTimeout, LookupError)
"""What a failed OLTP read or vector search raises (``LookupError``: the row was not found)."""


def _pool_settings(config: PoolConfig, **changes: Any) -> PoolSettings:
    settings = PoolSettings(
        min_size=config.min_size,
        max_size=config.max_size,
        statement_timeout_ms=config.statement_timeout_ms,
        timeout_s=config.timeout_s,
    )
    return dataclasses.replace(settings, **changes)


GATEWAY_POOLS = SplitPoolsConfig(enabled=True)
"""The gateway's default pool sizes and time limits."""
OLTP_POOL = _pool_settings(GATEWAY_POOLS.oltp)
VECTOR_POOL = _pool_settings(GATEWAY_POOLS.vector)
ONE_CONNECTION = PoolSettings(
    min_size=1, max_size=1, statement_timeout_ms=SEARCH_STATEMENT_TIMEOUT_MS, timeout_s=60.0
)


async def open_pools(dsn: str, *, oltp: PoolSettings, vector: PoolSettings, shared: bool) -> Pools:
    """The pools, once each has its connections (at most ``POOL_OPEN_TIMEOUT_S``)."""
    pools = await Pools.open(dsn, oltp=oltp, vector=vector, shared=shared)
    await pools.oltp.wait(timeout=POOL_OPEN_TIMEOUT_S)
    await pools.vector.wait(timeout=POOL_OPEN_TIMEOUT_S)
    return pools
