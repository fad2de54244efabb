"""The gateway's one way to Redis: a tight timeout per operation, and a cool-down after failures.

Every pattern that keeps shared state in Redis (cache, coalescing, limiter, budgets) calls
``RedisLink.run``. An operation that times out or fails raises ``RedisUnavailable``, and
for ``cooldown_s`` after a failure the link refuses at once instead of making each request
wait out another timeout: a Redis that is down or black-holed costs the hot path nothing.
Each caller decides what failing open means for it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import redis.asyncio as redis
from redis.exceptions import RedisError


T = TypeVar("T")
log = logging.getLogger(__name__)


class RedisUnavailable(Exception):  # noqa: N818 - reads as a state, like ConnectionRefused
    """Redis did not answer in time, failed, or is cooling down after a failure."""


class RedisLink:
    """A Redis client behind a per-operation timeout and a failure cool-down."""

    def __init__(
        self,
        client: redis.Redis | None,
        *,
        timeout_s: float = 0.05,
        cooldown_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.timeout_s = timeout_s
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._down_until = 0.0

    @property
    def available(self) -> bool:
        """False when there is no Redis, or while cooling down after a failure."""
        return self.client is not None and self._clock() >= self._down_until

    async def run(self, operation: Callable[[redis.Redis], Awaitable[T]]) -> T:
        """``await operation(client)`` within the timeout, or ``RedisUnavailable``."""
        client = self.client
        if client is None or not self.available:
            raise RedisUnavailable("redis is not configured or is cooling down")
        try:
            async with asyncio.timeout(self.timeout_s):
                return await operation(client)
        except (TimeoutError, RedisError, OSError) as exc:
            if self._clock() >= self._down_until:
                log.warning("redis unavailable for %.1f s: %r", self.cooldown_s, exc)
            self._down_until = self._clock() + self.cooldown_s
            raise RedisUnavailable(str(exc) or type(exc).__name__) from exc
