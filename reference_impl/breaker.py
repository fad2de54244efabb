"""A circuit breaker per upstream deployment: trip on a failure rate, probe before closing.

A counter of consecutive failures trips on a handful of unlucky calls at high traffic and
not at all when failures interleave with successes. This breaker trips on the failure
*rate* over a sliding time window, and only once the window holds ``min_calls`` calls.

    CLOSED --(failures / calls >= failure_rate, calls >= min_calls)--> OPEN
    OPEN --(open_s elapsed)--> HALF_OPEN
    HALF_OPEN --(half_open_probes probe successes)--> CLOSED (with a fresh window)
    HALF_OPEN --(one probe failure)--> OPEN

Every admitted call gets an ``Admission`` and reports its outcome on it once. An outcome
counts only in the state it was admitted in: a call admitted while closed that fails after
the breaker opened (or that succeeds while it is half-open) changes nothing.

One breaker belongs to one worker process and its event loop; it is not thread-safe.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from dataclasses import dataclass

from .window import SlidingCount


TransitionCallback = Callable[[str, "BreakerState", "BreakerState"], None]


class BreakerState(enum.StrEnum):
    """Where a breaker is: passing calls, refusing them, or probing the upstream."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, kw_only=True)
class BreakerPolicy:
    """When a breaker trips, how long it stays open, and how it probes before closing."""

    window_s: float = 10.0
    """Length of the sliding window over which the failure rate is measured."""
    buckets: int = 10
    """Time buckets the window is kept in; the window slides one bucket at a time."""
    min_calls: int = 20
    """No tripping while the window holds fewer calls than this."""
    failure_rate: float = 0.5
    """Trip when failures / calls reaches this."""
    open_s: float = 5.0
    """How long to refuse calls before probing."""
    half_open_probes: int = 3
    """Probe calls allowed at once while half-open; this many successes close the breaker."""

    def __post_init__(self) -> None:
        for field in ("window_s", "buckets", "min_calls", "open_s", "half_open_probes"):
            value = getattr(self, field)
            if not value > 0:
                raise ValueError(f"{field} must be positive, got {value!r}")
        if not 0 < self.failure_rate <= 1:
            raise ValueError(f"failure_rate must be in (0, 1], got {self.failure_rate!r}")


class _Outcome(enum.Enum):
    SUCCESS = enum.auto()
    FAILURE = enum.auto()
    ABANDONED = enum.auto()


class Admission:
    """One admitted call. Report its outcome once; later reports are ignored."""

    __slots__ = ("_breaker", "_epoch", "_settled")

    def __init__(self, breaker: CircuitBreaker, *, epoch: int) -> None:
        self._breaker = breaker
        self._epoch = epoch
        self._settled = False

    def succeeded(self) -> None:
        """The upstream answered well."""
        self._settle(_Outcome.SUCCESS)

    def failed(self) -> None:
        """The upstream failed: an error status, a refused connection, a timeout."""
        self._settle(_Outcome.FAILURE)

    def abandoned(self) -> None:
        """The outcome says nothing about the upstream (the client went away, say).

        Records nothing; frees the probe slot when the call was a half-open probe.
        """
        self._settle(_Outcome.ABANDONED)

    def _settle(self, outcome: _Outcome) -> None:
        if not self._settled:
            self._settled = True
            self._breaker._record(self._epoch, outcome)


class CircuitBreaker:
    """The breaker of one upstream deployment; see the module docstring for the states."""

    def __init__(
        self,
        name: str,
        policy: BreakerPolicy,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_transition: TransitionCallback | None = None,
    ) -> None:
        self.name = name
        self.policy = policy
        self._clock = clock
        self._on_transition = on_transition
        self._state = BreakerState.CLOSED
        self._epoch = 0  # one per state entered; an admission counts only in its own
        self._calls = SlidingCount(window_s=policy.window_s, buckets=policy.buckets, clock=clock)
        self._failures = SlidingCount(window_s=policy.window_s, buckets=policy.buckets, clock=clock)
        self._opened_at = 0.0
        self._probes_in_flight = 0
        self._probe_successes = 0

    @property
    def state(self) -> BreakerState:
        """The current state; an open breaker turns half-open once ``open_s`` has passed."""
        if (
            self._state is BreakerState.OPEN
            and self._clock() >= self._opened_at + self.policy.open_s
        ):
            self._enter(BreakerState.HALF_OPEN)
        return self._state

    def admit(self) -> Admission | None:
        """An admission for one call, or None when the call must not be made."""
        state = self.state
        if state is BreakerState.HALF_OPEN:
            if self._probes_in_flight >= self.policy.half_open_probes:
                return None
            self._probes_in_flight += 1
        elif state is BreakerState.OPEN:
            return None
        return Admission(self, epoch=self._epoch)

    def retry_after_s(self) -> float:
        """Seconds until an open breaker turns half-open; 0 when it is not open."""
        if self._state is not BreakerState.OPEN:
            return 0.0
        return max(0.0, self._opened_at + self.policy.open_s - self._clock())

    def _record(self, epoch: int, outcome: _Outcome) -> None:
        if epoch != self._epoch:
            return  # admitted in an earlier state
        if self._state is BreakerState.CLOSED:
            self._record_closed(outcome)
        else:
            self._record_probe(outcome)

    def _record_closed(self, outcome: _Outcome) -> None:
        if outcome is _Outcome.ABANDONED:
            return
        calls = self._calls.add()
        if outcome is _Outcome.FAILURE:
            self._failures.add()
        if (
            calls >= self.policy.min_calls
            and self._failures.total() / calls >= self.policy.failure_rate
        ):
            self._open()

    def _record_probe(self, outcome: _Outcome) -> None:
        if outcome is _Outcome.FAILURE:
            self._open()
            return
        self._probes_in_flight -= 1
        if outcome is _Outcome.SUCCESS:
            self._probe_successes += 1
            if self._probe_successes >= self.policy.half_open_probes:
                self._calls.clear()
                self._failures.clear()
                self._enter(BreakerState.CLOSED)

    def _open(self) -> None:
        self._opened_at = self._clock()
        self._enter(BreakerState.OPEN)

    def _enter(self, state: BreakerState) -> None:
        previous, self._state = self._state, state
        self._epoch += 1
        self._probes_in_flight = 0
        self._probe_successes = 0
        if self._on_transition is not None:
            self._on_transition(self.name, previous, state)


class Breakers:
    """One breaker per deployment name, made on first use with the same policy and clock."""

    def __init__(
        self,
        policy: BreakerPolicy,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_transition: TransitionCallback | None = None,
    ) -> None:
        self.policy = policy
        self._clock = clock
        self._on_transition = on_transition
        self._by_name: dict[str, CircuitBreaker] = {}

    def for_deployment(self, name: str) -> CircuitBreaker:
        """The breaker of deployment ``name``."""
        breaker = self._by_name.get(name)
        if breaker is None:
            breaker = CircuitBreaker(
                name, self.policy, clock=self._clock, on_transition=self._on_transition
            )
            self._by_name[name] = breaker
        return breaker

    def states(self) -> dict[str, BreakerState]:
        """The state of every breaker made so far, by deployment name."""
        return {name: breaker.state for name, breaker in self._by_name.items()}
