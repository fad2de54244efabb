"""The response cache: complete answers of deterministic requests, in Redis, for a short TTL.

Keys come from ``canonical.cache_key`` (tenant-salted, semantic fields only). Only a
full-quality success is stored (``Answer.cacheable``): an error or a degraded answer served
from the cache would outlive the incident that caused it. Each worker also keeps the answers it
stored or read in memory (``hot_answers``) for the rest of their TTL, so a repeated request is
answered without a round trip. Redis fails open: when it is down, slow or cooling down, a read
that the worker's memory cannot answer is a miss and a write is kept in memory only, and
``errors`` counts it. An entry that cannot be decoded is a miss too.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable

from .answer import Answer
from .hot_answers import MAX_BYTES, HotAnswers
from .redis_link import RedisLink, RedisUnavailable
from .scripts import Scripts
from .singleflight import CacheSlot


log = logging.getLogger(__name__)
# KEYS: the entry. Returns the entry and its PTTL in ms, or nil.
_GET_WITH_TTL = """
local cached = redis.call('get', KEYS[1])
if cached then
  return {cached, redis.call('pttl', KEYS[1])}
end
return false
"""


class ResponseCache:
    """Answers by cache key, with a TTL, in Redis and in this worker's memory; failing open on
    every Redis problem."""

    def __init__(
        self,
        link: RedisLink,
        *,
        ttl_s: float = 120.0,
        key_prefix: str = "meltproof:cache",
        hot_bytes: int = MAX_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl_s <= 0:
            raise ValueError(f"ttl_s must be positive, not {ttl_s}")
        self._link = link
        self._ttl_s = ttl_s
        self._ttl_ms = max(1, round(ttl_s * 1000))
        self._key_prefix = key_prefix
        self._script = Scripts(link, _GET_WITH_TTL)
        self.hot = HotAnswers(max_bytes=hot_bytes, clock=clock)
        self.errors = 0

    def redis_key(self, key: str) -> str:
        """The Redis key that holds the answer for cache key ``key``."""
        return f"{self._key_prefix}:{key}"

    def slot(self, key: str) -> CacheSlot:
        """Where a coalescing flight reads and writes the answer for ``key``."""
        return CacheSlot(
            self.redis_key(key), self._ttl_ms, keep=functools.partial(self.hot.put, key)
        )

    def recent(self, key: str) -> Answer | None:
        """The answer this worker keeps for ``key``: no round trip."""
        return self.hot.get(key)

    async def get(self, key: str) -> Answer | None:
        """The answer kept here or stored in Redis, or None on a miss or when Redis is
        unavailable."""
        kept = self.hot.get(key)
        if kept is not None:
            return kept
        redis_key = self.redis_key(key)
        try:
            reply = await self._link.run_script(self._script(_GET_WITH_TTL), [redis_key], [])
        except RedisUnavailable:
            self.errors += 1
            return None
        if not reply:
            return None
        raw, ttl_ms = reply
        try:
            answer = Answer.from_bytes(raw if isinstance(raw, bytes) else raw.encode())
        except ValueError:
            log.warning("undecodable cache entry %s treated as a miss", redis_key)
            return None
        self.hot.put(key, answer, int(ttl_ms) / 1000)
        return answer

    async def put(self, key: str, answer: Answer) -> bool:
        """Store a cacheable answer here and in Redis; False if it is not cacheable or Redis
        is unavailable."""
        if not answer.cacheable:
            return False
        self.hot.put(key, answer, self._ttl_s)
        redis_key, raw = self.redis_key(key), answer.to_bytes()
        try:
            await self._link.run(lambda client: client.set(redis_key, raw, px=self._ttl_ms))
        except RedisUnavailable:
            self.errors += 1
            return False
        return True
