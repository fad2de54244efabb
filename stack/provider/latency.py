"""How long a model takes, and how many requests it serves at once.

``LatencyModel`` is pure: given a spec, the number of output tokens, the load
and a brownout multiplier it samples the time to first token and every
inter-token gap, each with lognormal noise whose median is 1 (so the spec's
``ttft_ms`` and ``tpot_ms`` are medians). Load slows decoding, not prefill:
``tpot * (1 + load_slowdown * load)`` where ``load`` is the share of the
deployment's slots held by *other* requests when this one got its slot.

``Deployment`` is a FIFO of ``slots``: requests beyond it wait in arrival
order, which is how latency rises with load.
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from stack.provider.config import ModelSpec


MS = 1e-3


@dataclass(frozen=True, slots=True)
class Timing:
    """When the tokens of one response come out, relative to its start."""

    ttft_s: float
    gaps_s: tuple[float, ...]

    @property
    def total_s(self) -> float:
        """Time until the last token."""
        return self.ttft_s + sum(self.gaps_s)


class LatencyModel:
    """Samples timings from a seeded random source."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def sample(
        self, spec: ModelSpec, *, tokens: int, load: float = 0.0, multiplier: float = 1.0
    ) -> Timing:
        """Timing of a response of ``tokens`` output tokens (0 for embeddings)."""
        noise = self._rng.lognormvariate
        sigma = spec.jitter
        ttft = spec.ttft_ms * MS * multiplier * noise(0.0, sigma)
        tpot = spec.tpot_ms * MS * multiplier * (1.0 + spec.load_slowdown * load)
        gaps = tuple(tpot * noise(0.0, sigma) for _ in range(tokens - 1))
        return Timing(ttft, gaps)


class Deployment:
    """The serving capacity of one model: ``slots`` requests at a time, FIFO."""

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self.busy = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def queued(self) -> int:
        """Requests waiting for a slot."""
        return len(self._waiters)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[float]:
        """Hold a slot; yields the load (other busy slots / slots) at entry."""
        await self._acquire()
        try:
            yield (self.busy - 1) / self.spec.slots
        finally:
            self._release()

    async def _acquire(self) -> None:
        if self.busy < self.spec.slots and not self._waiters:
            self.busy += 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._release()  # the slot was handed over just as we were cancelled
            elif waiter in self._waiters:
                self._waiters.remove(waiter)
            raise

    def _release(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # hand the slot over; busy is unchanged
                return
        self.busy -= 1
