"""When to retry an upstream call: deadlines, backoff with full jitter, Retry-After, a budget.

Retries help one request and hurt everyone when the upstream is struggling: backoff
without jitter makes clients retry in lock-step, retries without a deadline outlive the
client that asked, and a retry per failed call doubles or triples the load on a provider
that is already failing. So a retry happens only when all of these agree:

- ``next_delay_s``: attempts are left, and the wait (backoff with full jitter, or the
  provider's Retry-After when longer) still leaves time before the request's ``Deadline``;
- ``RetryBudget.try_spend``: retries stay a small fraction of the calls in a sliding window.

The naive profile keeps the "before" behaviour: no deadline, no jitter, Retry-After ignored.
"""

from __future__ import annotations

import math
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC
from email.utils import parsedate_to_datetime

from .window import SlidingCount


RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
"""Upstream statuses worth another attempt: timeouts, rate limits and server errors."""

_SECONDS = re.compile(r"[ \t]*(-?[0-9]+(?:\.[0-9]+)?)[ \t]*")
"""An ASCII number with HTTP's optional whitespace: space and tab only, as ``float`` refuses
other Unicode whitespace (``0\x1f``) and HTTP has no non-ASCII digits."""
_MAX_DOUBLINGS = 64  # beyond it every cap is reached; 2.0 ** 1024 would overflow
_ROUNDING_SLACK = 1e-9  # 0.29 * 100 is 28.999999999999996, not 29


class Deadline:
    """A per-request time budget that shrinks across attempts; None means no deadline."""

    def __init__(
        self, budget_s: float | None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if budget_s is not None and not budget_s >= 0:
            raise ValueError(f"budget_s must not be negative, got {budget_s!r}")
        self.budget_s = budget_s
        self._clock = clock
        self._expires_at = math.inf if budget_s is None else clock() + budget_s

    def remaining_s(self) -> float:
        """Seconds left, never negative; ``math.inf`` without a deadline."""
        return max(0.0, self._expires_at - self._clock())

    @property
    def expired(self) -> bool:
        """True once no time is left."""
        return self.remaining_s() == 0

    def timeout_s(self, cap_s: float) -> float:
        """The timeout for one attempt: the time left, at most ``cap_s``."""
        return min(self.remaining_s(), cap_s)


@dataclass(frozen=True, kw_only=True)
class Backoff:
    """Exponential backoff, with full jitter unless ``jitter`` is off."""

    base_s: float = 0.05
    """The ceiling of the first retry's wait; it doubles for each retry after."""
    cap_s: float = 1.0
    """The ceiling never grows beyond this."""
    jitter: bool = True
    """Draw the wait uniformly below the ceiling (full jitter) instead of waiting it out."""

    def __post_init__(self) -> None:
        for name in ("base_s", "cap_s"):
            value = getattr(self, name)
            if not value > 0:
                raise ValueError(f"{name} must be positive, got {value!r}")

    def delay_s(self, retry: int, rng: random.Random) -> float:
        """The wait before retry number ``retry`` (1 for the first retry).

        ``uniform(0, min(cap_s, base_s * 2 ** (retry - 1)))`` with jitter, the ceiling
        itself without. Full jitter spreads retries that failed together across the whole
        interval, so they do not arrive together again.
        """
        if retry < 1:
            raise ValueError(f"retry must be at least 1, got {retry!r}")
        ceiling_s = min(self.cap_s, self.base_s * 2.0 ** min(retry - 1, _MAX_DOUBLINGS))
        return rng.uniform(0.0, ceiling_s) if self.jitter else ceiling_s


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """How many attempts a call gets and how long to wait between them."""

    max_attempts: int = 3
    """Attempts in total, the first included; 1 means no retry."""
    backoff: Backoff = field(default_factory=Backoff)
    honour_retry_after: bool = True
    """Wait at least as long as the provider's Retry-After asks."""
    longest_wait_s: float = 30.0
    """No retry rather than a wait this long or longer (a long Retry-After), deadline or not."""

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts!r}")
        if not self.longest_wait_s > 0:
            raise ValueError(f"longest_wait_s must be positive, got {self.longest_wait_s!r}")


def retry_after_s(
    headers: Mapping[str, str], *, now: Callable[[], float] = time.time
) -> float | None:
    """The wait the provider asks for, in seconds, or None when it asks for none we can read.

    ``retry-after-ms`` (milliseconds) wins over ``retry-after`` (delta-seconds or an
    HTTP-date, relative to ``now()``, a Unix time). Header names match in any case.
    A wait in the past is 0.
    """
    by_name = {name.lower(): value for name, value in headers.items()}
    milliseconds = _SECONDS.fullmatch(by_name.get("retry-after-ms") or "")
    if milliseconds is not None:
        return max(0.0, float(milliseconds[1]) / 1000)
    value = by_name.get("retry-after")
    if value is None:
        return None
    seconds = _SECONDS.fullmatch(value)
    if seconds is not None:
        return max(0.0, float(seconds[1]))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000": UTC, the source's zone unknown
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now())


def next_delay_s(
    policy: RetryPolicy,
    *,
    attempt: int,
    retry_after: float | None,
    deadline: Deadline,
    rng: random.Random,
) -> float | None:
    """The wait before the next attempt after attempt ``attempt`` (1-based) failed retryably.

    None means do not retry: the attempts are used up, or the wait would reach the deadline
    (leaving no time for the attempt) or the policy's longest wait. With
    ``honour_retry_after`` the wait is at least ``retry_after``; a Retry-After beyond the
    deadline or the longest wait means no retry, so the caller can fall back at once, or pass
    the provider's answer on, instead of waiting for nothing.
    """
    if attempt >= policy.max_attempts:
        return None
    delay_s = policy.backoff.delay_s(attempt, rng)
    if policy.honour_retry_after and retry_after is not None:
        delay_s = max(delay_s, retry_after)
    if delay_s >= min(deadline.remaining_s(), policy.longest_wait_s):
        return None
    return delay_s


class RetryBudget:
    """A retry budget shared by a worker's calls, so that retries cannot amplify a storm.

    Every call deposits ``ratio`` of a retry and every retry spends one, with a floor of
    ``min_per_s`` retries a second so that low traffic can still retry. A retry is allowed
    iff ``retries + 1 <= ratio * calls + min_per_s * window_s``, counted over the sliding
    window. Invariant: at every granted retry, the retries granted in the window ending then
    are at most ``ratio * calls + min_per_s * window_s`` for the calls in that window.
    The window is kept in ``buckets`` time buckets, so it reaches back more than
    ``window_s - window_s / buckets`` and at most ``window_s``.
    """

    def __init__(
        self,
        *,
        ratio: float = 0.1,
        min_per_s: float = 1.0,
        window_s: float = 10.0,
        buckets: int = 10,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        for name, value in (("ratio", ratio), ("min_per_s", min_per_s)):
            if not value >= 0:
                raise ValueError(f"{name} must not be negative, got {value!r}")
        self._ratio = ratio
        self._floor = min_per_s * window_s
        self._calls = SlidingCount(window_s=window_s, buckets=buckets, clock=clock)
        self._retries = SlidingCount(window_s=window_s, buckets=buckets, clock=clock)

    def record_call(self) -> None:
        """Count one client request (once, however many attempts it makes)."""
        self._calls.add()

    def try_spend(self) -> bool:
        """True, and the retry is counted, when the budget allows one more retry now."""
        allowance = self._ratio * self._calls.total() + self._floor + _ROUNDING_SLACK
        if self._retries.total() + 1 > allowance:
            return False
        self._retries.add()
        return True
