"""Per-tenant and global concurrency caps: exact within a gateway instance, shared across
instances through Redis.

Every slot is taken in the instance's slot table (``slot_table``), which its worker processes
share, with ``ceil(cap / instances)`` slots per cap. With one instance (``instances: 1``, the
default) the table is the whole story: the caps are exact in every Redis state and a slot costs
no Redis round trip. With several, a slot is then taken in Redis too while Redis answers, where
every instance shares the whole cap; when Redis does not answer, the table alone decides. So
within one instance a cap holds in every Redis state and across every change of state; across
instances it holds while Redis answers, and each instance keeps to its share of it meanwhile.

In Redis the caps are a leased semaphore. Each holder of a slot is a member of a sorted set
(member: a random token, score: the expiry of its lease in ms). One Lua script drops expired
members, counts, and then adds the holder to the tenant's set and to the global set together,
or to neither: a request refused by the global cap holds no tenant slot. A worker that dies
without releasing frees its slots when their leases run out; a live holder renews its lease
every ``lease_s / 3``, through a timer that costs nothing until it is due. A release Redis does
not answer, like an acquire that may have joined without an answer, is kept and sent again
once Redis answers (before the next acquire, and on a timer), unless its lease has run out by
then. Time comes from an injectable clock and is passed to the scripts, so tests decide what
has expired. Idle keys expire on their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Literal, NamedTuple, Self

from .redis_link import RedisLink, RedisUnavailable
from .scripts import Scripts
from .slot_table import SlotTable


Scope = Literal["tenant", "global"]
SlotSource = Literal["redis", "table", "local", "none"]
log = logging.getLogger(__name__)

_WAIT_STEP_S = (0.010, 0.050)  # jittered sleep between attempts while waiting for a slot
KEPT_RELEASES = 1000
"""Releases kept while Redis does not answer; past this the oldest (nearest its lease's end)
is dropped."""
RESEND_AFTER_S = 0.1
"""Shortest pause before kept releases are sent again (else: when the link's cool-down ends)."""
GLOBAL_COLUMN = "global"

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

# KEYS: the sets; ARGV: for each key in turn, how many tokens leave it, then those tokens.
_RELEASE_LUA = """
local at = 1
for _, key in ipairs(KEYS) do
  local count = tonumber(ARGV[at])
  for i = at + 1, at + count do
    redis.call('ZREM', key, ARGV[i])
  end
  at = at + 1 + count
end
return 0
"""


def table_columns(tenants: Iterable[str]) -> list[str]:
    """The slot table's columns for these tenants: the global cap's, then one per tenant."""
    return [GLOBAL_COLUMN, *(_tenant_column(tenant) for tenant in tenants)]


def _tenant_column(tenant: str) -> str:
    return f"tenant:{tenant}"


class OverCapacity(Exception):  # noqa: N818 - reads as a state, like RedisUnavailable
    """Every slot of the tenant's cap or of the global cap is taken; becomes a 429."""

    def __init__(self, scope: Scope, *, retry_after_s: float) -> None:
        super().__init__(f"{scope} concurrency cap reached; retry after {retry_after_s:g} s")
        self.scope: Scope = scope
        self.retry_after_s = retry_after_s


class _Limit(NamedTuple):
    key: str
    """The limit's sorted set in Redis."""
    column: str
    """The limit's column in the slot table."""
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
    """The limiter's sorted sets in Redis, through its Lua scripts; and the releases Redis has
    not had yet, sent again when it answers."""

    def __init__(self, link: RedisLink, *, lease_s: float, clock: Callable[[], float]) -> None:
        self.link = link
        self.lease_s = lease_s
        self._lease_ms = max(1, round(lease_s * 1000))
        self._clock = clock
        self._script = Scripts(link, _ACQUIRE_LUA, _RENEW_LUA, _RELEASE_LUA)
        self._kept: dict[str, tuple[tuple[str, ...], float]] = {}
        """token -> (its sets, when its lease has run out at the latest); oldest first."""
        self._sending = asyncio.Lock()
        self._resend_timer: asyncio.TimerHandle | None = None
        self._resend_task: asyncio.Task[None] | None = None

    @property
    def kept(self) -> int:
        """Releases waiting for Redis to answer."""
        return len(self._kept)

    def _now_ms(self) -> int:
        return round(self._clock() * 1000)

    async def try_acquire(self, limits: Sequence[_Limit], token: str) -> Scope | None:
        """Join every limit's set, or none; None when joined, else the scope that is full.

        Kept releases go first. An attempt that may have joined without an answer (it timed
        out or was cancelled) is kept for release."""
        await self.resend()
        keys = [limit.key for limit in limits]
        args: list[int | str] = [self._now_ms(), self._lease_ms, token]
        args += (limit.cap for limit in limits)
        try:
            full = await self.link.run_script(self._script(_ACQUIRE_LUA), keys, args)
        except RedisUnavailable as exc:
            if exc.may_have_run:
                self.keep(keys, token)
            raise
        except BaseException:
            self.keep(keys, token)
            raise
        return limits[int(full) - 1].scope if int(full) else None

    async def renew(self, keys: Sequence[str], token: str) -> bool:
        """Extend the token's lease in every set; False when it had already been lost."""
        args: list[int | str] = [self._now_ms(), self._lease_ms, token]
        renewed = await self.link.run_script(self._script(_RENEW_LUA), keys, args)
        return bool(renewed)

    async def release(self, keys: Sequence[str], token: str) -> None:
        """Leave every set; kept and sent again later when Redis does not answer."""
        try:
            await self._release({token: tuple(keys)})
        except BaseException:
            self.keep(keys, token)
            raise

    def keep(self, keys: Sequence[str], token: str) -> None:
        """Remember a release Redis has not had; it is sent again once Redis answers."""
        self._kept[token] = (tuple(keys), self._clock() + self.lease_s)
        if len(self._kept) > KEPT_RELEASES:
            del self._kept[next(iter(self._kept))]
        self._schedule_resend()

    async def resend(self) -> None:
        """Send the kept releases whose lease may still run; RedisUnavailable (and they stay
        kept) when Redis does not answer."""
        if not self._kept:
            return
        async with self._sending:
            now = self._clock()
            for token, (_, lease_end) in list(self._kept.items()):
                if lease_end <= now:
                    del self._kept[token]
            batch = {token: keys for token, (keys, _) in self._kept.items()}
            if batch:
                await self._release(batch)
            for token in batch:
                self._kept.pop(token, None)

    async def close(self) -> None:
        """Stop the resend timer, and send what is kept one last time, once the link's
        cool-down is over (best effort: the leases free the rest)."""
        if self._resend_timer is not None:
            self._resend_timer.cancel()
        if self._resend_task is not None:
            self._resend_task.cancel()
            await asyncio.wait([self._resend_task])
        if self._kept:
            await asyncio.sleep(self.link.retry_in_s)
        with contextlib.suppress(RedisUnavailable):
            await self.resend()

    async def holders(self, key: str) -> int:
        """Members of the set whose lease has not expired."""
        now_ms = self._now_ms()
        return await self.link.run(lambda r: r.zcount(key, f"({now_ms}", "+inf"))

    async def _release(self, sets_by_token: dict[str, tuple[str, ...]]) -> None:
        tokens_by_key: dict[str, list[str]] = {}
        for token, sets in sets_by_token.items():
            for key in sets:
                tokens_by_key.setdefault(key, []).append(token)
        args: list[int | str] = []
        for tokens in tokens_by_key.values():
            args += [len(tokens), *tokens]
        keys = list(tokens_by_key)
        await self.link.run_script(self._script(_RELEASE_LUA), keys, args)

    def _schedule_resend(self) -> None:
        if self._resend_timer is not None or self._resend_task is not None:
            return
        delay_s = max(self.link.retry_in_s, RESEND_AFTER_S)
        self._resend_timer = asyncio.get_running_loop().call_later(delay_s, self._start_resend)

    def _start_resend(self) -> None:
        self._resend_timer = None
        self._resend_task = asyncio.get_running_loop().create_task(self._resend_on_time())

    async def _resend_on_time(self) -> None:
        try:
            await self.resend()
        except RedisUnavailable:
            pass
        finally:
            self._resend_task = None
        if self._kept:
            self._schedule_resend()


class _TableSlot(Slot):
    """A slot held in the instance's slot table only: the caps are not shared with other
    instances."""

    scope_used: SlotSource = "table"

    def __init__(self, table: SlotTable, columns: Sequence[str]) -> None:
        super().__init__()
        self._table = table
        self._columns = columns

    async def _give_back(self) -> None:
        self._table.give_back(self._columns)


class _FallbackSlot(_TableSlot):
    """A slot held in the slot table only, taken while Redis did not answer."""

    scope_used: SlotSource = "local"


class _RedisSlot(_TableSlot):
    """A slot held in the table and in Redis, under a lease that a timer renews until release."""

    scope_used: SlotSource = "redis"

    def __init__(
        self,
        table: SlotTable,
        columns: Sequence[str],
        semaphore: _RedisSemaphore,
        keys: Sequence[str],
        token: str,
    ) -> None:
        super().__init__(table, columns)
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
            log.warning(
                "lost the redis lease of a concurrency slot; only this instance's table counts it"
            )

    async def _give_back(self) -> None:
        await super()._give_back()
        if self._renewal_timer is not None:
            self._renewal_timer.cancel()
        with contextlib.suppress(RedisUnavailable):  # kept, and sent again later
            await self._semaphore.release(self._keys, self._token)


class ConcurrencyLimiter:
    """Caps on in-flight requests per tenant and overall: in the instance's slot table, and,
    when shared with other instances, in Redis while it answers."""

    def __init__(
        self,
        link: RedisLink,
        table: SlotTable,
        *,
        global_cap: int | None = None,
        lease_s: float = 30.0,
        wait_s: float = 0.0,
        retry_after_s: float = 1.0,
        instances: int = 1,
        shared: bool | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        key_prefix: str = "meltproof:limit",
    ) -> None:
        """``table``: the instance's slot table, with the ``table_columns`` of every tenant
        that may ask; ``instances``: how many gateway instances share the Redis; ``shared``:
        whether slots are taken in Redis too (by default when ``instances`` > 1)."""
        if global_cap is not None and global_cap < 0:
            raise ValueError(f"global_cap must be >= 0 or None, not {global_cap}")
        if lease_s <= 0:
            raise ValueError(f"lease_s must be > 0, not {lease_s}")
        if wait_s < 0:
            raise ValueError(f"wait_s must be >= 0, not {wait_s}")
        if instances < 1:
            raise ValueError(f"instances must be >= 1, not {instances}")
        self.global_cap = global_cap
        self.wait_s = wait_s
        self.retry_after_s = retry_after_s
        self.instances = instances
        self.shared = instances > 1 if shared is None else shared
        self.key_prefix = key_prefix
        self._table = table
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not secrets
        self._redis = _RedisSemaphore(link, lease_s=lease_s, clock=clock)
        self._table_alone = False

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

    @property
    def kept_releases(self) -> int:
        """Releases waiting for Redis to answer again."""
        return self._redis.kept

    async def resend_releases(self) -> None:
        """Send the releases Redis has not had; RedisUnavailable when it still does not answer
        (they stay kept)."""
        await self._redis.resend()

    async def close(self) -> None:
        """Send the kept releases one last time (best effort), then let go of the table."""
        await self._redis.close()
        self._table.close()

    def _tenant_key(self, tenant: str) -> str:
        return f"{self.key_prefix}:tenant:{tenant}"

    def _limits(self, tenant: str, cap: int | None) -> list[_Limit]:
        limits = []
        if cap is not None:
            limits.append(_Limit(self._tenant_key(tenant), _tenant_column(tenant), cap, "tenant"))
        if self.global_cap is not None:
            key = f"{self.key_prefix}:global"
            limits.append(_Limit(key, GLOBAL_COLUMN, self.global_cap, "global"))
        return limits

    async def _try_acquire(self, limits: list[_Limit]) -> Slot | Scope:
        shares = [(limit.column, math.ceil(limit.cap / self.instances)) for limit in limits]
        full = self._table.try_take(shares)
        if full is not None:
            return limits[full].scope
        columns = [limit.column for limit in limits]
        if not self.shared:
            return _TableSlot(self._table, columns)
        token = secrets.token_hex(16)
        try:
            scope = await self._redis.try_acquire(limits, token)
        except RedisUnavailable:
            self._note_table_alone()
            return _FallbackSlot(self._table, columns)
        except BaseException:
            self._table.give_back(columns)
            raise
        self._note_shared()
        if scope is not None:
            self._table.give_back(columns)
            return scope
        keys = [limit.key for limit in limits]
        return _RedisSlot(self._table, columns, self._redis, keys, token)

    def _note_table_alone(self) -> None:
        if not self._table_alone:
            self._table_alone = True
            log.warning(
                "redis unavailable: concurrency caps held by this instance alone "
                "(its share: 1/%d of each cap)",
                self.instances,
            )

    def _note_shared(self) -> None:
        if self._table_alone:
            self._table_alone = False
            log.info("redis is back: concurrency caps are shared across instances again")
