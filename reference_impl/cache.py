"""The response cache: complete answers of deterministic requests, in Redis, for a short TTL.

Keys come from ``canonical.cache_key`` (tenant-salted, semantic fields only). Only a
full-quality success is stored (``Answer.cacheable``): an error or a degraded answer served
from the cache would outlive the incident that caused it. The cache fails open: when Redis
is down, slow or cooling down, a read is a miss and a write is skipped, and ``errors``
counts it. An entry that cannot be decoded is a miss too.
"""

from __future__ import annotations

import logging

from .answer import Answer
from .redis_link import RedisLink, RedisUnavailable
from .singleflight import CacheSlot


log = logging.getLogger(__name__)


class ResponseCache:
    """Answers by cache key, with a TTL, failing open on every Redis problem."""

    def __init__(
        self, link: RedisLink, *, ttl_s: float = 120.0, key_prefix: str = "meltproof:cache"
    ) -> None:
        if ttl_s <= 0:
            raise ValueError(f"ttl_s must be positive, not {ttl_s}")
        self._link = link
        self._ttl_ms = max(1, round(ttl_s * 1000))
        self._key_prefix = key_prefix
        self.errors = 0

    def redis_key(self, key: str) -> str:
        """The Redis key that holds the answer for cache key ``key``."""
        return f"{self._key_prefix}:{key}"

    def slot(self, key: str) -> CacheSlot:
        """Where a coalescing flight reads and writes the answer for ``key``."""
        return CacheSlot(self.redis_key(key), self._ttl_ms)

    async def get(self, key: str) -> Answer | None:
        """The stored answer, or None on a miss or when Redis is unavailable."""
        redis_key = self.redis_key(key)
        try:
            raw = await self._link.run(lambda client: client.get(redis_key))
        except RedisUnavailable:
            self.errors += 1
            return None
        if raw is None:
            return None
        try:
            return Answer.from_bytes(raw if isinstance(raw, bytes) else raw.encode())
        except ValueError:
            log.warning("undecodable cache entry %s treated as a miss", redis_key)
            return None

    async def put(self, key: str, answer: Answer) -> bool:
        """Store a cacheable answer; False if it is not cacheable or Redis is unavailable."""
        if not answer.cacheable:
            return False
        redis_key, raw = self.redis_key(key), answer.to_bytes()
        try:
            await self._link.run(lambda client: client.set(redis_key, raw, px=self._ttl_ms))
        except RedisUnavailable:
            self.errors += 1
            return False
        return True
