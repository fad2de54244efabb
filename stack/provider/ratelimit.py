"""Token-bucket rate limits per (API key, model) and per deployment.

Each limit is a bucket whose capacity is the per-minute limit and which
refills continuously at ``limit / 60`` per second. A request is admitted only
if every applicable bucket has room, and then it takes from all of them, so a
rejected request costs nothing. The token cost is OpenAI's estimate: prompt
tokens plus ``n * max_tokens`` (or the model's longest answer); embeddings
cost their input tokens.

The decision carries the headers OpenAI sends. ``x-ratelimit-*`` describe the
most constraining bucket of each kind (the one with the fewest units left); resets
are Go-style durations until that bucket is full again. A rejection adds
``retry-after`` (whole seconds, at least 1) and ``retry-after-ms``: the time
until this very request would fit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from stack.provider.config import KeyLimits, ModelSpec


Kind = Literal["requests", "tokens"]
Scope = Literal["key", "deployment"]
SECONDS_PER_MINUTE = 60.0
MS_PER_S = 1000
MS_PER_MIN = 60_000
MS_PER_HOUR = 3_600_000
EPSILON = 1e-9


def go_duration(seconds: float) -> str:
    """Format like Go's ``time.Duration``, rounded up to the millisecond: 120ms, 1.5s, 6m0s."""
    ms = max(0, math.ceil(seconds * MS_PER_S - 1e-6))
    if ms == 0:
        return "0s"
    if ms < MS_PER_S:
        return f"{ms}ms"
    hours, rest = divmod(ms, MS_PER_HOUR)
    minutes, rest = divmod(rest, MS_PER_MIN)
    secs = f"{rest / MS_PER_S:.3f}".rstrip("0").rstrip(".")
    prefix = (f"{hours}h" if hours else "") + (f"{minutes}m" if hours or minutes else "")
    return f"{prefix}{secs}s"


@dataclass(slots=True)
class TokenBucket:
    """A bucket of ``limit`` units refilled at ``limit`` per minute."""

    limit: int
    level: float
    updated: float

    @property
    def rate(self) -> float:
        """Units per second."""
        return self.limit / SECONDS_PER_MINUTE

    def refill(self, now: float) -> None:
        """Add what accrued since the last update."""
        self.level = min(self.limit, self.level + (now - self.updated) * self.rate)
        self.updated = now

    def wait_s(self, amount: int) -> float:
        """Seconds until ``amount`` fits (until full, if it never can)."""
        missing = min(amount, self.limit) - self.level
        return missing / self.rate if missing > EPSILON else 0.0

    def reset_s(self) -> float:
        """Seconds until the bucket is full."""
        return (self.limit - self.level) / self.rate


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a request was refused."""

    kind: Kind
    scope: Scope
    limit: int
    used: int
    requested: int
    retry_after_s: float


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of an admission check, with the headers to send."""

    headers: Mapping[str, str] = field(default_factory=dict)
    rejection: Rejection | None = None

    @property
    def allowed(self) -> bool:
        """Whether the request may proceed."""
        return self.rejection is None


@dataclass(frozen=True, slots=True)
class _Charge:
    kind: Kind
    scope: Scope
    bucket: TokenBucket
    amount: int


class RateLimiter:
    """All buckets of one provider; buckets are created full on first use."""

    def __init__(self, key_limits: KeyLimits, *, clock: Callable[[], float]) -> None:
        self._key_limits = key_limits
        self._clock = clock
        self._buckets: dict[tuple[str, ...], TokenBucket] = {}

    def admit(self, api_key: str, spec: ModelSpec, *, tokens: int) -> Decision:
        """Admit a request costing one request and ``tokens`` tokens, or refuse it."""
        now = self._clock()
        charges = self._charges(api_key, spec, tokens, now)
        if not charges:
            return Decision()
        for charge in charges:
            charge.bucket.refill(now)
        waits = [(charge.bucket.wait_s(charge.amount), charge) for charge in charges]
        wait, worst = max(waits, key=lambda pair: pair[0])
        oversized = [c for c in charges if c.amount > c.bucket.limit]
        if oversized:
            worst = oversized[0]
        if wait > 0 or oversized:
            rejection = Rejection(
                kind=worst.kind,
                scope=worst.scope,
                limit=worst.bucket.limit,
                used=worst.bucket.limit - math.floor(worst.bucket.level),
                requested=worst.amount,
                retry_after_s=wait,
            )
            headers = _headers(charges)
            headers["retry-after"] = str(max(1, math.ceil(wait)))
            headers["retry-after-ms"] = str(math.ceil(wait * MS_PER_S))
            return Decision(headers, rejection)
        for charge in charges:
            charge.bucket.level -= charge.amount
        return Decision(_headers(charges))

    def _charges(self, api_key: str, spec: ModelSpec, tokens: int, now: float) -> list[_Charge]:
        limits: list[tuple[Scope, Kind, int | None, tuple[str, ...], int]] = [
            ("key", "requests", self._key_limits.rpm, ("k", "r", api_key, spec.name), 1),
            ("key", "tokens", self._key_limits.tpm, ("k", "t", api_key, spec.name), tokens),
            ("deployment", "requests", spec.rpm, ("d", "r", spec.name), 1),
            ("deployment", "tokens", spec.tpm, ("d", "t", spec.name), tokens),
        ]
        charges = []
        for scope, kind, limit, name, amount in limits:
            if limit is None:
                continue
            bucket = self._buckets.get(name)
            if bucket is None:
                bucket = self._buckets[name] = TokenBucket(limit, float(limit), now)
            charges.append(_Charge(kind, scope, bucket, amount))
        return charges


def _headers(charges: list[_Charge]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for kind in ("requests", "tokens"):
        buckets = [c.bucket for c in charges if c.kind == kind]
        if not buckets:
            continue
        tightest = min(buckets, key=lambda b: (b.level, b.limit))
        headers[f"x-ratelimit-limit-{kind}"] = str(tightest.limit)
        headers[f"x-ratelimit-remaining-{kind}"] = str(max(0, math.floor(tightest.level)))
        headers[f"x-ratelimit-reset-{kind}"] = go_duration(tightest.reset_s())
    return headers
