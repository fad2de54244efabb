"""Cached answers kept in a worker's memory for the rest of their TTL: a hit without Redis.

A cached answer never changes during its TTL (its key names the request exactly and is salted
per tenant), so a worker may keep a copy of the answers it produced or read from the response
cache and serve them without a round trip until the copy expires. A copy expires no later than
the Redis entry it mirrors: it is counted from when the worker learnt the remaining TTL. Only
cacheable answers are kept, never a degraded or error answer.

Memory is bounded: past ``max_bytes`` (bodies, headers and keys, with a fixed overhead per
entry) the least recently used answers are dropped; an answer larger than a quarter of the
bound is not kept at all. Expired copies are dropped when met. One event loop uses it: no locks.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import NamedTuple

from .answer import Answer


MAX_BYTES = 32 * 2**20
"""The default bound of one worker's copies."""
ENTRY_OVERHEAD_BYTES = 700
"""What an entry costs besides its bytes: the objects that hold it (measured with tracemalloc
for a chat completion with one header: about 1 KiB an entry in all)."""


class _Copy(NamedTuple):
    answer: Answer
    expires_at: float
    size: int


class HotAnswers:
    """Answers by cache key, each until its expiry, least recently used out first."""

    def __init__(
        self, *, max_bytes: int = MAX_BYTES, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if max_bytes < 0:
            raise ValueError(f"max_bytes must be >= 0, not {max_bytes}")
        self.max_bytes = max_bytes
        self._clock = clock
        self._copies: OrderedDict[str, _Copy] = OrderedDict()
        self.size_bytes = 0

    def __len__(self) -> int:
        return len(self._copies)

    def get(self, key: str) -> Answer | None:
        """The answer kept for ``key``, or None (never kept, expired or dropped)."""
        copy = self._copies.get(key)
        if copy is None:
            return None
        if copy.expires_at <= self._clock():
            self._drop(key)
            return None
        self._copies.move_to_end(key)
        return copy.answer

    def put(self, key: str, answer: Answer, ttl_s: float) -> None:
        """Keep a cacheable ``answer`` for ``ttl_s`` seconds from now; others are ignored."""
        if not answer.cacheable or ttl_s <= 0:
            return
        size = _size(key, answer)
        if size > self.max_bytes // 4:
            return
        if key in self._copies:
            self._drop(key)
        self._copies[key] = _Copy(answer, self._clock() + ttl_s, size)
        self.size_bytes += size
        while self.size_bytes > self.max_bytes:
            self._drop(next(iter(self._copies)))

    def _drop(self, key: str) -> None:
        self.size_bytes -= self._copies.pop(key).size


def _size(key: str, answer: Answer) -> int:
    headers = sum(len(name) + len(value) for name, value in answer.headers.items())
    return ENTRY_OVERHEAD_BYTES + len(key) + len(answer.body) + headers + len(answer.model)
