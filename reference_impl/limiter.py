"""Per-tenant and global concurrency caps shared by every gateway worker: a leased semaphore.

Each holder of a slot is a member of a Redis sorted set (member: a random token, score: the
expiry of its lease in ms). One Lua script drops expired members, counts, and then adds the
holder to the tenant's set and to the global set together, or to neither: a request refused by
the global cap holds no tenant slot. A worker that dies without releasing frees its slots when
their leases run out; a live holder renews its lease every ``lease_s / 3``, through a timer
that costs nothing until it is due. Time comes from an injectable clock and is passed to the
scripts, so tests decide what has expired. Idle keys expire on their own.

When Redis is unavailable the limiter fails over to an in-process limiter with
``ceil(cap / workers)`` slots per tenant and ``ceil(global_cap / workers)`` overall, so that the
workers together still respect the caps.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import secrets
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from typing import Literal, NamedTuple, Self

from .redis_link import RedisLink, RedisUnavailable
from .scripts import Scripts


Scope = Literal["tenant", "global"]
SlotSource = Literal["redis", "local", "none"]
log = logging.getLogger(__name__)

_WAIT_STEP_S = (0.010, 0.050)  # jittered sleep between attempts while waiting for a slot

_OUTLIVE_LUA = """
local function outlive(key, ttl_ms)
  if redis.call('PTTL', key) < ttl_ms then
    redis.call('PEXPIRE', key, ttl_ms)
  end
end
"""

# KEYS: the sets to join; ARGV: now_ms, lease_ms, token, then the cap of each key.
# Returns 0 when the token joined every set, else the (1-based) index of a full one.
_ACQUIRE_LUA = (
    _OUTLIVE_LUA
    + """
local now_ms, lease_ms, token = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now_ms)
  if redis.call('ZCARD', key) >= tonumber(ARGV[3 + i]) then
    return i
  end
end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, now_ms + lease_ms, token)
  outlive(key, lease_ms)
end
return 0
"""
)

# KEYS: the sets the token joined; ARGV: now_ms, lease_ms, token.
# Returns 1 when every lease was extended, 0 when one had already expired or was released.
_RENEW_LUA = (
    _OUTLIVE_LUA
    + """
local now_ms, lease_ms, token = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local renewed = 1
for _, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now_ms)
  if redis.call('ZSCORE', key, token) then
    redis.call('ZADD', key, now_ms + lease_ms, token)
    outlive(key, lease_ms)
  else
    renewed = 0
  end
end
return renewed
"""
)

# KEYS: the sets the token joined; ARGV: token.
_RELEASE_LUA = """
for _, key in ipairs(KEYS) do
  redis.call('ZREM', key, ARGV[1])
end
return 0
"""


class OverCapacity(Exception):  # noqa: N818 - reads as a state, like RedisUnavailable
    """Every slot of the tenant's cap or of the global cap is taken; becomes a 429."""

    def __init__(self, scope: Scope, *, retry_after_s: float) -> None:
        super().__init__(f"{scope} concurrency cap reached; retry after {retry_after_s:g} s")
        self.scope: Scope = scope
        self.retry_after_s = retry_after_s


class _Limit(NamedTuple):
    key: str
    cap: int
    scope: Scope


class Slot:
    """A held slot: ``release`` it, or use ``async with``. This base class holds nothing."""

    scope_used: SlotSource = "none"  # where the slot is held, for metrics

    def __init__(self) -> None:
        self._released = False

    async def release(self) -> None:
        """Give the slot back; calling it again does nothing."""
        if self._released:
            return
        self._released = True
        await self._give_back()

    async def renew(self) -> bool:
        """Extend the slot's lease; False once it is lost. Only Redis slots have a lease."""
        return not self._released

    async def _give_back(self) -> None:
        """Nothing to give back."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.release()


class _RedisSemaphore:
    """The limiter's sorted sets in Redis, through its Lua scripts."""

    def __init__(self, link: RedisLink, *, lease_s: float, clock: Callable[[], float]) -> None:
        self.link = link
        self.lease_s = lease_s
        self._lease_ms = max(1, round(lease_s * 1000))
        self._clock = clock
        self._script = Scripts()

    def _now_ms(self) -> int:
        return round(self._clock() * 1000)

    async def try_acquire(self, limits: Sequence[_Limit], token: str) -> Scope | None:
        """Join every limit's set, or none; None when joined, else the scope that is full."""
        keys = [limit.key for limit in limits]
        args: list[int | str] = [self._now_ms(), self._lease_ms, token]
        args += (limit.cap for limit in limits)
        full = await self.link.run(
            lambda r: self._script(r, _ACQUIRE_LUA)(keys=keys, args=args, client=r)
        )
        return limits[int(full) - 1].scope if int(full) else None

    async def renew(self, keys: Sequence[str], token: str) -> bool:
        """Extend the token's lease in every set; False when it had already been lost."""
        args: list[int | str] = [self._now_ms(), self._lease_ms, token]
        renewed = await self.link.run(
            lambda r: self._script(r, _RENEW_LUA)(keys=keys, args=args, client=r)
        )
        return bool(renewed)

    async def release(self, keys: Sequence[str], token: str) -> None:
        """Leave every set."""
        await self.link.run(
            lambda r: self._script(r, _RELEASE_LUA)(keys=keys, args=[token], client=r)
        )

    async def holders(self, key: str) -> int:
        """Members of the set whose lease has not expired."""
        now_ms = self._now_ms()
        return await self.link.run(lambda r: r.zcount(key, f"({now_ms}", "+inf"))


class _RedisSlot(Slot):
    """A slot held in Redis under a lease that a timer renews until release."""

    scope_used: SlotSource = "redis"

    def __init__(self, semaphore: _RedisSemaphore, keys: Sequence[str], token: str) -> None:
        super().__init__()
        self._semaphore = semaphore
        self._keys = keys
        self._token = token
        self._renewal_timer: asyncio.TimerHandle | None = None
        self._renewal_task: asyncio.Task[None] | None = None
        self._schedule_renewal()

    async def renew(self) -> bool:
        """Extend the lease in Redis; False once released or lost. May raise RedisUnavailable."""
        if self._released:
            return False
        return await self._semaphore.renew(self._keys, self._token)

    def _schedule_renewal(self) -> None:
        self._renewal_timer = asyncio.get_running_loop().call_later(
            self._semaphore.lease_s / 3, self._start_renewal
        )

    def _start_renewal(self) -> None:
        self._renewal_task = asyncio.get_running_loop().create_task(self._renew_on_time())

    async def _renew_on_time(self) -> None:
        try:
            held = await self.renew()
        except RedisUnavailable:
            held = True  # the lease may still run; try again at the next interval
        if self._released:
            return
        if held:
            self._schedule_renewal()
        else:
            log.warning("lost the lease of a concurrency slot; it no longer counts against a cap")

    async def _give_back(self) -> None:
        if self._renewal_timer is not None:
            self._renewal_timer.cancel()
        with contextlib.suppress(RedisUnavailable):  # the lease will expire on its own
            await self._semaphore.release(self._keys, self._token)


class _LocalSemaphore:
    """In-process counts, used while Redis is unavailable."""

    def __init__(self) -> None:
        self._held: Counter[str] = Counter()

    def try_acquire(self, limits: Sequence[_Limit]) -> Scope | None:
        """Take a slot under every limit, or none; None when taken, else the full scope."""
        for limit in limits:
            if self._held[limit.key] >= limit.cap:
                return limit.scope
        self._held.update(limit.key for limit in limits)
        return None

    def release(self, keys: Sequence[str]) -> None:
        """Give back a slot under each key."""
        self._held.subtract(keys)


class _LocalSlot(Slot):
    """A slot held in this process while Redis was unavailable."""

    scope_used: SlotSource = "local"

    def __init__(self, semaphore: _LocalSemaphore, keys: Sequence[str]) -> None:
        super().__init__()
        self._semaphore = semaphore
        self._keys = keys

    async def _give_back(self) -> None:
        self._semaphore.release(self._keys)


class ConcurrencyLimiter:
    """Caps on in-flight requests per tenant and overall, shared through Redis by all workers."""

    def __init__(
        self,
        link: RedisLink,
        *,
        global_cap: int | None = None,
        lease_s: float = 30.0,
        wait_s: float = 0.0,
        retry_after_s: float = 1.0,
        workers: int = 1,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        key_prefix: str = "meltproof:limit",
    ) -> None:
        if global_cap is not None and global_cap < 0:
            raise ValueError(f"global_cap must be >= 0 or None, not {global_cap}")
        if lease_s <= 0:
            raise ValueError(f"lease_s must be > 0, not {lease_s}")
        if wait_s < 0:
            raise ValueError(f"wait_s must be >= 0, not {wait_s}")
        if workers < 1:
            raise ValueError(f"workers must be >= 1, not {workers}")
        self.global_cap = global_cap
        self.wait_s = wait_s
        self.retry_after_s = retry_after_s
        self.workers = workers
        self.key_prefix = key_prefix
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not secrets
        self._redis = _RedisSemaphore(link, lease_s=lease_s, clock=clock)
        self._local = _LocalSemaphore()
        self._on_local = False
        self._forgetting: set[asyncio.Task[None]] = set()

    async def acquire(self, tenant: str, cap: int | None) -> Slot:
        """A slot under the tenant's cap and the global cap, or ``OverCapacity``.

        With no cap at all the slot is a no-op. Over a cap, tries again after short jittered
        sleeps until ``wait_s`` is spent.
        """
        if cap is not None and cap < 0:
            raise ValueError(f"cap must be >= 0 or None, not {cap}")
        limits = self._limits(tenant, cap)
        if not limits:
            return Slot()
        deadline = self._clock() + self.wait_s
        while True:
            outcome = await self._try_acquire(limits)
            if isinstance(outcome, Slot):
                return outcome
            remaining_s = deadline - self._clock()
            if remaining_s <= 0:
                raise OverCapacity(outcome, retry_after_s=self.retry_after_s)
            await self._sleep(min(remaining_s, self._rng.uniform(*_WAIT_STEP_S)))

    async def in_use(self, tenant: str) -> int:
        """Live holders of the tenant's slots in Redis; may raise RedisUnavailable."""
        return await self._redis.holders(self._tenant_key(tenant))

    def _tenant_key(self, tenant: str) -> str:
        return f"{self.key_prefix}:tenant:{tenant}"

    def _limits(self, tenant: str, cap: int | None) -> list[_Limit]:
        limits = []
        if cap is not None:
            limits.append(_Limit(self._tenant_key(tenant), cap, "tenant"))
        if self.global_cap is not None:
            limits.append(_Limit(f"{self.key_prefix}:global", self.global_cap, "global"))
        return limits

    async def _try_acquire(self, limits: list[_Limit]) -> Slot | Scope:
        keys = [limit.key for limit in limits]
        token = secrets.token_hex(16)
        try:
            full = await self._redis.try_acquire(limits, token)
        except RedisUnavailable:
            self._forget(keys, token)
            return self._try_acquire_locally(limits, keys)
        if self._on_local:
            self._on_local = False
            log.info("redis is back: concurrency caps are shared again")
        return full or _RedisSlot(self._redis, keys, token)

    def _forget(self, keys: list[str], token: str) -> None:
        """A timed-out acquire may still have taken slots in Redis: give them back in the
        background (best effort; they would expire with their lease anyway)."""
        task = asyncio.get_running_loop().create_task(self._release_quietly(keys, token))
        self._forgetting.add(task)
        task.add_done_callback(self._forgetting.discard)

    async def _release_quietly(self, keys: list[str], token: str) -> None:
        with contextlib.suppress(RedisUnavailable):
            await self._redis.release(keys, token)

    def _try_acquire_locally(self, limits: list[_Limit], keys: list[str]) -> Slot | Scope:
        if not self._on_local:
            self._on_local = True
            log.warning(
                "redis unavailable: concurrency caps fall back to this worker's share (1/%d)",
                self.workers,
            )
        shares = [limit._replace(cap=math.ceil(limit.cap / self.workers)) for limit in limits]
        return self._local.try_acquire(shares) or _LocalSlot(self._local, keys)
