"""The gateway's one way to Redis: a tight timeout per operation, and a cool-down after failures.

Every pattern that keeps shared state in Redis (cache, coalescing, limiter, budgets) calls
``RedisLink.run``. An operation that times out or fails raises ``RedisUnavailable``, and
for ``cooldown_s`` after a failure the link refuses at once instead of making each request
wait out another timeout: a Redis that is down or black-holed costs the hot path nothing.
Each caller decides what failing open means for it.

The client (``connect``) has a bounded pool that makes operations wait for a connection
(within their timeout) rather than fail: a burst on a healthy Redis is not an outage.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import redis.asyncio as redis
from redis.exceptions import RedisError

from .redis_wire import Arg, RedisWire, WireScript


T = TypeVar("T")
Script = Callable[..., Awaitable[Any]]
"""A registered Lua script: ``await script(keys=..., args=..., client=...)``."""
log = logging.getLogger(__name__)
CONNECTIONS = 32
"""Connections per worker process: Redis operations at once, the notifier's subscription
included; further operations wait for one."""


def connect(url: str, *, connect_timeout_s: float) -> redis.Redis:
    """A client of the Redis at ``url`` with a pool of ``CONNECTIONS`` that waits when all
    are busy (redis-py's default pool raises "Too many connections" instead)."""
    pool = redis.BlockingConnectionPool.from_url(
        url,
        max_connections=CONNECTIONS,
        timeout=None,  # the link's timeout bounds the wait
        socket_connect_timeout=connect_timeout_s,
        health_check_interval=0,
    )
    return redis.Redis.from_pool(pool)


class RedisUnavailable(Exception):  # noqa: N818 - reads as a state, like ConnectionRefused
    """Redis did not answer in time, failed, or is cooling down after a failure.

    ``may_have_run``: the operation may have taken effect without an answer; False when the
    link refused it before it reached Redis.
    """

    def __init__(self, message: str, *, may_have_run: bool = True) -> None:
        super().__init__(message)
        self.may_have_run = may_have_run


class RedisLink:
    """A Redis client behind a per-operation timeout and a failure cool-down.

    ``wire``, when given, reaches the same Redis as ``client``: scripts registered with
    ``register_script`` run on it, other commands on ``client``. The wire bounds its replies
    by a timeout of its own, at most the link's.
    """

    def __init__(
        self,
        client: redis.Redis | None,
        *,
        wire: RedisWire | None = None,
        timeout_s: float = 0.05,
        cooldown_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if wire is not None and wire.reply_timeout_s > timeout_s:
            raise ValueError("the wire's reply timeout must not exceed the link's timeout")
        self.client = client
        self.wire = wire
        """The same Redis through one pipelined connection, for the hot path's scripts."""
        self.timeout_s = timeout_s
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._down_until = 0.0
        self._sources: dict[str, None] = {}
        """The scripts to load at start (an ordered set)."""

    @property
    def available(self) -> bool:
        """False when there is no Redis, or while cooling down after a failure."""
        return self.client is not None and self._clock() >= self._down_until

    @property
    def retry_in_s(self) -> float:
        """Seconds until the cool-down ends (0 when the link is not cooling down)."""
        return max(0.0, self._down_until - self._clock())

    def declare_scripts(self, *sources: str) -> None:
        """Scripts that will run on this link: ``warm_up`` loads them."""
        self._sources.update(dict.fromkeys(sources))

    def register_script(self, source: str) -> Script:
        """A Lua script on the wire if there is one, else on the client (which must exist)."""
        self.declare_scripts(source)
        if self.wire is not None:
            return self.wire.register_script(source)
        if self.client is None:
            raise RedisUnavailable("redis is not configured", may_have_run=False)
        return self.client.register_script(source)

    async def warm_up(self, timeout_s: float) -> None:
        """At start, with a patient timeout: connect the client and the wire, and load the
        declared scripts, so that a first request does not spend its per-call budget on
        connecting and on a script's first call (NOSCRIPT, then the source). A Redis that
        does not answer now is logged; the gateway starts anyway."""
        client = self.client
        if client is None:
            return
        try:
            async with asyncio.timeout(timeout_s):
                await client.ping()
                for source in self._sources:
                    await client.script_load(source)
                if self.wire is not None:
                    await self.wire.call("PING", timeout_s=timeout_s)
        except (TimeoutError, RedisError, OSError) as exc:
            log.warning(
                "redis is not answering at start (%r); running without it until it does", exc
            )

    async def run(self, operation: Callable[[redis.Redis], Awaitable[T]]) -> T:
        """``await operation(client)`` within the timeout, or ``RedisUnavailable``; a failure
        starts the cool-down."""
        client = self._usable_client()
        try:
            async with asyncio.timeout(self.timeout_s):
                return await operation(client)
        except (TimeoutError, RedisError, OSError) as exc:
            raise self._failed(exc) from exc

    async def run_script(self, script: Script, keys: Sequence[Arg], args: Sequence[Arg]) -> Any:
        """Run a registered script within the timeout, or ``RedisUnavailable``. A script on
        the wire needs no timer of its own (the wire bounds its replies), and is awaited here
        directly: it is on every cache miss's path."""
        if not isinstance(script, WireScript):
            return await self.run(lambda client: script(keys=keys, args=args, client=client))
        self._usable_client()
        try:
            return await script(keys=keys, args=args)
        except (TimeoutError, RedisError, OSError) as exc:
            raise self._failed(exc) from exc

    def _usable_client(self) -> redis.Redis:
        """The client, or ``RedisUnavailable`` (none, or cooling down): nothing was sent."""
        client = self.client
        if client is None or not self.available:
            raise RedisUnavailable("redis is not configured or is cooling down", may_have_run=False)
        return client

    def _failed(self, exc: BaseException) -> RedisUnavailable:
        """Start the cool-down after ``exc``; the ``RedisUnavailable`` to raise."""
        if self._clock() >= self._down_until:
            log.warning("redis unavailable for %.1f s: %r", self.cooldown_s, exc)
        self._down_until = self._clock() + self.cooldown_s
        return RedisUnavailable(str(exc) or type(exc).__name__)
