"""Per-tenant token budgets per period: a soft warning, a hard downgrade, a ceiling that refuses.

Usage is counted per tenant per period (index ``floor(now / period_s)``, part of the keys, which
expire after the period). Admission and settlement are Lua scripts, so every gateway worker
sees one count. Admission reserves the request's most tokens (prompt plus max output);
settlement replaces the reservation with the usage the provider reported. Concurrent requests
therefore cannot all slip under the ceiling at once:

    Invariant: a request is admitted only while settled + reserved < ceiling, and each request
    settles at most what it reserved, so settled + reserved grows past the ceiling only by the
    reservation just admitted. Settled usage never exceeds the ceiling by more than one
    request's maximum tokens.

A reservation expires after ``reservation_ttl_s``, so a worker that died mid-request does not
hold a tenant's budget forever; the invariant assumes live requests settle before then. When
Redis is unavailable, admission fails open: the request goes through with nothing reserved.
"""

from __future__ import annotations

import enum
import logging
import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction

from .redis_link import RedisLink, RedisUnavailable
from .scripts import Scripts


log = logging.getLogger(__name__)

# KEYS: settled counter, reservation expiries (sorted set), reservation amounts (hash).
# Drops the expired reservations and returns settled and live reserved tokens.
_LIVE_TOTALS_LUA = """
local function live_totals(now_ms)
  local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now_ms)
  for _, reservation in ipairs(expired) do
    redis.call('HDEL', KEYS[3], reservation)
  end
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now_ms)
  local reserved = 0
  for _, amount in ipairs(redis.call('HVALS', KEYS[3])) do
    reserved = reserved + tonumber(amount)
  end
  return tonumber(redis.call('GET', KEYS[1]) or '0'), reserved
end
"""

_USAGE_LUA = (
    _LIVE_TOTALS_LUA
    + """
local settled, reserved = live_totals(tonumber(ARGV[1]))
return {settled, reserved}
"""
)

# ARGV: now_ms, reservation, expiry_ms, key_ttl_ms, full_tokens, downgraded_tokens,
#       warn_tokens, hard_tokens, ceiling_tokens.
# Returns {admitted 0|1, settled, reserved, level 0 ok|1 warn|2 downgrade}.
_ADMIT_LUA = (
    _LIVE_TOTALS_LUA
    + """
local now_ms, reservation = tonumber(ARGV[1]), ARGV[2]
local expiry_ms, key_ttl_ms = tonumber(ARGV[3]), tonumber(ARGV[4])
local full_tokens, downgraded_tokens = tonumber(ARGV[5]), tonumber(ARGV[6])
local warn_tokens, hard_tokens = tonumber(ARGV[7]), tonumber(ARGV[8])
local ceiling_tokens = tonumber(ARGV[9])
local settled, reserved = live_totals(now_ms)
local counted = settled + reserved
if counted >= ceiling_tokens then
  return {0, settled, reserved, 0}
end
local level, amount = 0, full_tokens
if counted >= hard_tokens then
  level, amount = 2, downgraded_tokens
elseif counted >= warn_tokens then
  level = 1
end
redis.call('ZADD', KEYS[2], expiry_ms, reservation)
redis.call('HSET', KEYS[3], reservation, amount)
for _, key in ipairs(KEYS) do
  redis.call('PEXPIRE', key, key_ttl_ms)
end
return {1, settled, reserved, level}
"""
)

# KEYS as above; ARGV: reservation, used_tokens, key_ttl_ms.
_SETTLE_LUA = """
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
if tonumber(ARGV[2]) > 0 then
  redis.call('INCRBY', KEYS[1], ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return 0
"""


def _tokens_at(limit_tokens: int, pct: float) -> int:
    """The first whole token count at or above ``pct`` of the limit (decimal-exact)."""
    return math.ceil(limit_tokens * Fraction(str(pct)))


@dataclass(frozen=True, kw_only=True)
class BudgetPlan:
    """A tenant's token budget per period and the thresholds that act on it."""

    limit_tokens: int
    warn_pct: float = 0.8
    hard_pct: float = 1.0
    ceiling_pct: float = 1.2
    period_s: float = 30 * 86400
    downgrade_max_tokens: int = 256

    def __post_init__(self) -> None:
        if self.limit_tokens <= 0:
            raise ValueError(f"limit_tokens must be > 0, not {self.limit_tokens}")
        if self.warn_pct <= 0:
            raise ValueError(f"warn_pct must be > 0, not {self.warn_pct}")
        if self.hard_pct < self.warn_pct:
            raise ValueError(f"hard_pct must be >= warn_pct, not {self.hard_pct}")
        if self.ceiling_pct < self.hard_pct:
            raise ValueError(f"ceiling_pct must be >= hard_pct, not {self.ceiling_pct}")
        if self.period_s <= 0:
            raise ValueError(f"period_s must be > 0, not {self.period_s}")
        if self.downgrade_max_tokens <= 0:
            raise ValueError(f"downgrade_max_tokens must be > 0, not {self.downgrade_max_tokens}")

    @property
    def warn_tokens(self) -> int:
        """Usage from which requests carry a warning."""
        return _tokens_at(self.limit_tokens, self.warn_pct)

    @property
    def hard_tokens(self) -> int:
        """Usage from which requests are downgraded."""
        return _tokens_at(self.limit_tokens, self.hard_pct)

    @property
    def ceiling_tokens(self) -> int:
        """Usage from which requests are refused."""
        return _tokens_at(self.limit_tokens, self.ceiling_pct)


class BudgetLevel(enum.StrEnum):
    """Where a tenant's usage stood when a request was admitted."""

    OK = "ok"
    WARN = "warn"
    DOWNGRADE = "downgrade"


_LEVELS = (BudgetLevel.OK, BudgetLevel.WARN, BudgetLevel.DOWNGRADE)


class BudgetExhausted(Exception):  # noqa: N818 - reads as a state, like RedisUnavailable
    """The tenant's usage reached its ceiling for this period; becomes a 429."""

    def __init__(
        self, tenant: str, *, used_tokens: int, ceiling_tokens: int, retry_after_s: float
    ) -> None:
        super().__init__(
            f"tenant {tenant!r} used {used_tokens} tokens of a ceiling of {ceiling_tokens}; "
            f"the budget renews in {retry_after_s:.0f} s"
        )
        self.tenant = tenant
        self.used_tokens = used_tokens  # settled plus reserved, as counted against the ceiling
        self.ceiling_tokens = ceiling_tokens
        self.retry_after_s = retry_after_s


@dataclass(slots=True)
class _Ticket:
    """What settling a reservation needs, and whether it has been settled or released."""

    reservation_id: str = ""
    period_index: int = 0
    period_end_s: float = 0.0
    open: bool = False

    def close(self) -> bool:
        """Mark it finished; True only the first time."""
        was_open, self.open = self.open, False
        return was_open


@dataclass(frozen=True)
class Reservation:
    """An admitted request: its budget level, its reservation, and its max output tokens.

    ``used_tokens`` is the settled usage before this request. A reservation for a tenant
    without a budget, or admitted while Redis was unavailable, has level OK and reserves 0.
    """

    tenant: str
    level: BudgetLevel
    reserved_tokens: int
    used_tokens: int
    limit_tokens: int
    max_output_tokens: int
    _ticket: _Ticket = field(default_factory=_Ticket, repr=False, compare=False)


class TokenBudgets:
    """Token budgets per tenant and period, shared through Redis by all workers."""

    def __init__(
        self,
        link: RedisLink,
        *,
        clock: Callable[[], float] = time.time,
        key_prefix: str = "meltproof:budget",
        reservation_ttl_s: float = 120.0,
    ) -> None:
        if reservation_ttl_s <= 0:
            raise ValueError(f"reservation_ttl_s must be > 0, not {reservation_ttl_s}")
        self.key_prefix = key_prefix
        self._link = link
        self._clock = clock
        self._reservation_ttl_ms = round(reservation_ttl_s * 1000)
        self._script = Scripts(link, _ADMIT_LUA, _USAGE_LUA, _SETTLE_LUA)
        self._failing_open = False

    async def admit(
        self, tenant: str, plan: BudgetPlan, *, prompt_tokens: int, max_output_tokens: int
    ) -> Reservation:
        """Reserve the request's most tokens, or ``BudgetExhausted`` at the ceiling."""
        if prompt_tokens < 0 or max_output_tokens < 0:
            raise ValueError("prompt_tokens and max_output_tokens must be >= 0")
        now_s = self._clock()
        period_index = math.floor(now_s / plan.period_s)
        period_end_s = (period_index + 1) * plan.period_s
        ticket = _Ticket(secrets.token_hex(16), period_index, period_end_s, open=True)
        downgraded_output_tokens = min(max_output_tokens, plan.downgrade_max_tokens)
        args: list[int | str] = [
            _ms(now_s),
            ticket.reservation_id,
            _ms(now_s) + self._reservation_ttl_ms,
            self._key_ttl_ms(period_end_s, now_s),
            prompt_tokens + max_output_tokens,
            prompt_tokens + downgraded_output_tokens,
            plan.warn_tokens,
            plan.hard_tokens,
            plan.ceiling_tokens,
        ]
        keys = self._keys(tenant, period_index)
        try:
            admitted, settled, reserved, level_index = await self._link.run_script(
                self._script(_ADMIT_LUA), keys, args
            )
        except RedisUnavailable:
            self._note_outage("admitting requests without a token budget")
            return Reservation(
                tenant=tenant,
                level=BudgetLevel.OK,
                reserved_tokens=0,
                used_tokens=0,
                limit_tokens=plan.limit_tokens,
                max_output_tokens=max_output_tokens,
                _ticket=ticket,
            )
        self._note_recovery()
        if not admitted:
            raise BudgetExhausted(
                tenant,
                used_tokens=int(settled) + int(reserved),
                ceiling_tokens=plan.ceiling_tokens,
                retry_after_s=period_end_s - now_s,
            )
        level = _LEVELS[int(level_index)]
        output_tokens = (
            downgraded_output_tokens if level is BudgetLevel.DOWNGRADE else max_output_tokens
        )
        return Reservation(
            tenant=tenant,
            level=level,
            reserved_tokens=prompt_tokens + output_tokens,
            used_tokens=int(settled),
            limit_tokens=plan.limit_tokens,
            max_output_tokens=output_tokens,
            _ticket=ticket,
        )

    async def settle(self, reservation: Reservation, *, used_tokens: int) -> None:
        """Replace the reservation with the tokens actually used; only the first call counts.

        Usage of a request admitted while Redis was unavailable is counted if Redis is back.
        """
        if used_tokens < 0:
            raise ValueError(f"used_tokens must be >= 0, not {used_tokens}")
        await self._finish(reservation, used_tokens)

    async def release(self, reservation: Reservation) -> None:
        """Drop the reservation of a request that failed before using any tokens."""
        await self._finish(reservation, 0)

    async def usage(self, tenant: str, plan: BudgetPlan) -> tuple[int, int]:
        """(settled, live reserved) tokens of the current period; may raise RedisUnavailable."""
        now_s = self._clock()
        keys = self._keys(tenant, math.floor(now_s / plan.period_s))
        settled, reserved = await self._link.run_script(
            self._script(_USAGE_LUA), keys, [_ms(now_s)]
        )
        return int(settled), int(reserved)

    async def _finish(self, reservation: Reservation, used_tokens: int) -> None:
        ticket = reservation._ticket
        if not ticket.close():
            return
        keys = self._keys(reservation.tenant, ticket.period_index)
        args: list[int | str] = [
            ticket.reservation_id,
            used_tokens,
            self._key_ttl_ms(ticket.period_end_s, self._clock()),
        ]
        try:
            await self._link.run_script(self._script(_SETTLE_LUA), keys, args)
        except RedisUnavailable:
            self._note_outage("token usage is not being counted")
        else:
            self._note_recovery()

    def _keys(self, tenant: str, period_index: int) -> list[str]:
        base = f"{self.key_prefix}:{tenant}:{period_index}"
        return [f"{base}:settled", f"{base}:reserved-until", f"{base}:reserved-tokens"]

    def _key_ttl_ms(self, period_end_s: float, now_s: float) -> int:
        """Keys outlive their period by a reservation's lifetime, for late settlements."""
        return max(1, _ms(period_end_s - now_s) + self._reservation_ttl_ms)

    def _note_outage(self, consequence: str) -> None:
        if not self._failing_open:
            self._failing_open = True
            log.warning("redis unavailable: %s", consequence)

    def _note_recovery(self) -> None:
        if self._failing_open:
            self._failing_open = False
            log.info("redis is back: token budgets are enforced again")


def _ms(seconds: float) -> int:
    return round(seconds * 1000)
