"""Coalescing of identical in-flight requests: one upstream call, however many ask at once.

The first ``join`` for a key in a worker starts a *flight*: ``produce(tap)`` runs in a task
owned by the flight, not by the request that started it, so a client that disconnects
(its request task cancelled) does not cancel the call the others are waiting for. Later
joins for the same key are local followers of that flight. Every consumer (``Ticket``)
gets every chunk the producer emits, from the first (a late joiner is replayed what it
missed, then follows live), and the producer's final ``Answer``. The flight leaves the
local table when it ends; the next join starts a new one.

Across worker processes the flight coordinates through Redis, without polling:

- The flight takes the lock ``SET lock <token> NX PX lock_ttl`` with a random token. If it
  gets it, it leads: it runs the producer and extends the lock every ``lock_ttl_s / 3``
  (a Lua compare-and-extend: only while the token is still ours). At the end ONE Lua
  script stores ``<token>\\n<answer>`` in the result key for ``result_ttl_s``, deletes the
  lock if it still holds our token, and publishes the key on the notifier's channel if a
  remote follower left its waiting mark (so a flight nobody follows costs no message).
  The finish completes before anyone gets the answer, so a request that arrives after an
  answer was given finds it in the cache (``hit``), never a flight that is still finishing.
- If the lock is held, the flight follows its holder. Each look registers a ``Notifier``
  waiter *first*, then runs one Lua script: the followed holder's result if it is there,
  else the lock if it is free, else the holder's token and the lock's PTTL. Then it waits
  for the wake, at most until that PTTL or the deadline, and looks again. As the waiter
  exists before the look, a leader that finishes in between still wakes it. A result is
  taken only if it carries the token of the holder followed: a result left by an earlier
  flight is never served as the answer to a later one.
- If the lock expires without a result (the leader crashed or stalled), the next look takes
  the lock and leads. When ``wait_s`` (counted from the join that started the flight) is
  used up, the flight stops following and produces directly, uncoalesced: a follower is
  never stranded and never waits longer than ``wait_s`` plus one look.
- The flight's own keys carry the hash tag ``{key}``; the scripts also touch the response
  cache's key, so they assume one Redis (a cluster would need the cache key tagged too).
- Redis unavailable (``RedisUnavailable``, no notifier) means local coalescing only; a
  notifier that is not listening means the flight may still lead (others can follow it)
  but does not follow. Redis never fails a request.

What followers get when the leader fails: the producer is expected to always return an
``Answer`` (the caller turns upstream errors into error or degraded answers after its own
retries and fallbacks), and followers get that same answer. Re-running a failed call once
per follower would recreate the thundering herd that coalescing exists to prevent. If the
producer raises (a bug, or cancellation at shutdown), local followers get the exception,
and the Redis lock is released at once, with a publish, so remote followers take over now
rather than after the lock's TTL.

Remote followers of a stream get no live chunks, only the leader's final ``Answer`` (the
assembled completion), which the caller replays as SSE (``sse.replay_as_sse``); live
fan-out across workers would need a Redis stream per flight. A ticket whose ``chunks()``
ended empty therefore replays ``answer()``.

With a ``CacheSlot``, the cache is read in the same round trip as the lock (a hit ends the
flight: ``Role.HIT``) and written by the finish script, so a flight that starts just after
another one finished finds its answer in the cache, not in a second upstream call. The slot's
``keep`` is told of every cacheable answer the flight found or produced (with what is left of
its TTL), before any consumer gets it: the worker's memory then answers the next request for
the key without a flight (``hot_answers``).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from .answer import Answer
from .notify import Notifier
from .redis_link import RedisLink, RedisUnavailable, Script


log = logging.getLogger(__name__)

# KEYS: lock, result, cache, waiting. ARGV: our token, lock TTL ms, token of the holder
# followed ("" if none), "1" to look in the cache first (only before following: a followed
# flight's answer is the follower's, coalesced, even though it is cached too). A cached answer
# comes with its PTTL.
_ACQUIRE = """
if ARGV[4] == '1' and ARGV[3] == '' then
  local cached = redis.call('get', KEYS[3])
  if cached then
    return {'cached', cached, redis.call('pttl', KEYS[3])}
  end
end
local result = redis.call('get', KEYS[2])
local followed = ARGV[3] .. '\\n'
if result and ARGV[3] ~= '' and string.sub(result, 1, #followed) == followed then
  return {'result', string.sub(result, #followed + 1)}
end
if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {'lock'}
end
redis.call('set', KEYS[4], '1', 'PX', ARGV[2])
return {'held', redis.call('get', KEYS[1]), redis.call('pttl', KEYS[1])}
"""
# KEYS: lock. ARGV: our token, lock TTL ms.
_EXTEND = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
# KEYS: lock, result, cache, waiting. ARGV: our token, answer, result TTL ms, channel, topic,
# cache TTL ms ("0": not cached). Publishes only if a follower said it waits.
_FINISH = """
redis.call('set', KEYS[2], ARGV[1] .. '\\n' .. ARGV[2], 'PX', ARGV[3])
if ARGV[6] ~= '0' then
  redis.call('set', KEYS[3], ARGV[2], 'PX', ARGV[6])
end
if redis.call('get', KEYS[1]) == ARGV[1] then
  redis.call('del', KEYS[1])
end
if redis.call('del', KEYS[4]) == 1 then
  redis.call('publish', ARGV[4], ARGV[5])
end
return 1
"""
# KEYS: lock, waiting. ARGV: our token, channel, topic.
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  redis.call('del', KEYS[1])
end
if redis.call('del', KEYS[2]) == 1 then
  redis.call('publish', ARGV[2], ARGV[3])
end
return 1
"""


class Role(enum.StrEnum):
    """A request's part in a flight, named by its ``x-cache`` value."""

    LEADER = "miss"
    FOLLOWER = "coalesced"
    HIT = "hit"
    """The flight found the answer in the response cache."""


@dataclass(frozen=True, slots=True)
class CacheSlot:
    """Where a flight finds and leaves a cacheable answer: the response cache's Redis key, and
    ``keep(answer, ttl_s)``, told of each cacheable answer found or produced."""

    redis_key: str
    ttl_ms: int
    keep: Callable[[Answer, float], None] | None = None

    def kept(self, answer: Answer, ttl_ms: int) -> None:
        """Pass a cacheable ``answer``, valid for ``ttl_ms`` more, to ``keep``."""
        if self.keep is not None and answer.cacheable:
            self.keep(answer, ttl_ms / 1000)


class Tap(Protocol):
    """What the producer writes a stream into, chunk by chunk."""

    async def emit(self, chunk: bytes) -> None:
        """Pass ``chunk`` to every consumer of the flight."""


Producer = Callable[[Tap], Awaitable[Answer]]
_ScriptArg = str | int | bytes


class _Feed:
    """The chunks of one flight: appended by the producer, read by each consumer at its pace.

    The event that wakes consumers waiting for more exists only while one waits: a flight
    that does not stream makes none."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._closed = False
        self._grew: asyncio.Event | None = None

    async def emit(self, chunk: bytes) -> None:
        if self._closed:
            raise RuntimeError("the flight has ended; its producer can emit no more")
        self._chunks.append(chunk)
        self._signal()

    def close(self) -> None:
        self._closed = True
        self._signal()

    def _signal(self) -> None:
        if self._grew is not None:
            self._grew.set()
            self._grew = None

    async def follow(self) -> AsyncIterator[bytes]:
        position = 0
        while True:
            if position < len(self._chunks):
                yield self._chunks[position]
                position += 1
            elif self._closed:
                return
            else:
                if self._grew is None:
                    self._grew = asyncio.Event()
                await self._grew.wait()


@dataclass(eq=False)
class _Flight:
    feed: _Feed = field(default_factory=_Feed)
    role: Role = Role.FOLLOWER
    decided: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    """Done once the role is known; only the join that started the flight waits for it."""
    cache: CacheSlot | None = None

    def decide(self, role: Role) -> None:
        self.role = role
        self.settle()

    def settle(self) -> None:
        """Release the join that started the flight (if it still waits)."""
        if not self.decided.done():
            self.decided.set_result(None)


@dataclass(frozen=True, slots=True)
class _Held:
    """The lock is someone else's: their token and how long it has left."""

    token: str
    lock_left_s: float


class _Next(enum.Enum):
    LEAD = "lead"
    PRODUCE = "produce"


class Ticket:
    """One request's view of a flight: its role, the live chunks, the final answer."""

    def __init__(self, flight: _Flight, task: asyncio.Task[Answer], *, started: bool) -> None:
        self._flight = flight
        self._task = task
        self._started = started

    @property
    def role(self) -> Role:
        """LEADER if this request started the flight and this worker calls the producer.

        A flight that follows another worker's can still turn leader (the lock expired, or
        ``wait_s`` ran out); the role is final once ``answer()`` returned.
        """
        role = self._flight.role
        return role if self._started or role is Role.HIT else Role.FOLLOWER

    def chunks(self) -> AsyncIterator[bytes]:
        """Every emitted chunk from the first; ends when the producer returns or raises."""
        return self._flight.feed.follow()

    async def answer(self) -> Answer:
        """The producer's final answer (or its exception); cancelling this leaves the flight."""
        return await asyncio.shield(self._task)


class SingleFlight:
    """Joins identical requests into one flight per worker, and one call across workers."""

    def __init__(
        self,
        link: RedisLink,
        notifier: Notifier | None,
        *,
        lock_ttl_s: float = 3.0,
        result_ttl_s: float = 10.0,
        key_prefix: str = "meltproof:flight",
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        if lock_ttl_s <= 0 or result_ttl_s <= 0:
            raise ValueError("lock_ttl_s and result_ttl_s must be positive")
        self._link = link
        self._notifier = notifier
        self._lock_ttl_s = lock_ttl_s
        self._lock_ttl_ms = max(1, round(lock_ttl_s * 1000))
        self._result_ttl_ms = max(1, round(result_ttl_s * 1000))
        self._key_prefix = key_prefix
        self._clock = clock
        self._rng = rng or random.SystemRandom()
        self._flights: dict[str, tuple[_Flight, asyncio.Task[Answer]]] = {}
        self._scripts = None if link.client is None else _Scripts(link.register_script)

    @property
    def in_flight(self) -> int:
        """Flights running in this worker now."""
        return len(self._flights)

    def lock_key(self, key: str) -> str:
        """The Redis key of the cross-worker lock for ``key``."""
        return f"{self._key_prefix}:{{{key}}}:lock"

    def result_key(self, key: str) -> str:
        """The Redis key where the leader leaves ``<token>\\n<answer>`` for remote followers."""
        return f"{self._key_prefix}:{{{key}}}:result"

    def _flight_keys(self, key: str, cache: CacheSlot | None) -> list[str]:
        """The keys of the acquire and finish scripts: lock, result, cache, waiting mark."""
        cache_key = cache.redis_key if cache is not None else ""
        return [self.lock_key(key), self.result_key(key), cache_key, self._waiting_key(key)]

    def _waiting_key(self, key: str) -> str:
        """Set by a remote follower: the leader's finish publishes only when it exists."""
        return f"{self._key_prefix}:{{{key}}}:waiting"

    async def join(
        self, key: str, produce: Producer, *, wait_s: float, cache: CacheSlot | None = None
    ) -> Ticket:
        """Follow the flight for ``key``, or start one that runs ``produce``.

        With ``cache``, every look at Redis reads the cached answer in the same round trip
        (a hit ends the flight, ``Role.HIT``), and the leader's finish stores a cacheable
        answer there: the cache costs no round trip of its own.
        """
        running = self._flights.get(key)
        if running is not None:
            return Ticket(*running, started=False)
        flight = _Flight(cache=cache)
        deadline = self._clock() + wait_s
        task = asyncio.create_task(self._fly(key, flight, produce, deadline=deadline))
        task.add_done_callback(lambda done: self._land(key, flight, done))
        self._flights[key] = (flight, task)
        await flight.decided
        return Ticket(flight, task, started=True)

    async def close(self) -> None:
        """Cancel the flights still running (at shutdown); their consumers get the cancellation."""
        tasks = {task for _, task in self._flights.values()}
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)

    async def _fly(
        self, key: str, flight: _Flight, produce: Producer, *, deadline: float
    ) -> Answer:
        try:
            if self._scripts is None or self._notifier is None or not self._link.available:
                return await self._produce(flight, produce)
            return await self._coordinate(key, flight, produce, deadline=deadline)
        finally:
            self._land(key, flight)

    def _land(self, key: str, flight: _Flight, task: asyncio.Task[Answer] | None = None) -> None:
        """End a flight: out of the table, chunks closed, joins released; log a failure once.

        Runs when ``_fly`` ends and again as the task's done callback, which also covers a
        flight cancelled before it began.
        """
        running = self._flights.get(key)
        if running is not None and running[0] is flight:
            del self._flights[key]
        flight.feed.close()
        flight.settle()
        if task is not None and not task.cancelled() and (error := task.exception()) is not None:
            log.error("the producer of flight %s failed", key[:12], exc_info=error)

    async def _produce(self, flight: _Flight, produce: Producer) -> Answer:
        """Call the producer without the Redis lock (local coalescing only); its answer is kept
        in memory, not stored in Redis."""
        flight.decide(Role.LEADER)
        answer = await produce(flight.feed)
        if flight.cache is not None:
            flight.cache.kept(answer, flight.cache.ttl_ms)
        return answer

    async def _coordinate(
        self, key: str, flight: _Flight, produce: Producer, *, deadline: float
    ) -> Answer:
        token = f"{self._rng.getrandbits(128):032x}"
        followed = ""
        while True:
            step = await self._look(key, flight, token=token, followed=followed, deadline=deadline)
            if isinstance(step, Answer):
                return step
            if step is _Next.LEAD:
                return await self._lead(key, flight, produce, token=token)
            if step is _Next.PRODUCE:
                return await self._produce(flight, produce)
            followed = step

    async def _look(
        self, key: str, flight: _Flight, *, token: str, followed: str, deadline: float
    ) -> Answer | _Next | str:
        """One round: the followed flight's answer, our lock, or a wait; returns what is next.

        A string is the token of the holder followed while waiting. The notifier's waiter
        (None when no wake can come) exists before the look and until the wait ends.
        """
        notifier = self._notifier
        waiter = notifier.waiter(key) if notifier is not None and notifier.listening else None
        try:
            try:
                found = await self._acquire(key, flight, token=token, followed=followed)
            except RedisUnavailable:
                return _Next.PRODUCE
            if not isinstance(found, _Held):
                return found
            remaining_s = deadline - self._clock()
            if waiter is None or remaining_s <= 0:
                return _Next.PRODUCE
            flight.decide(Role.FOLLOWER)
            await asyncio.wait({waiter}, timeout=min(found.lock_left_s, remaining_s))
            return found.token
        finally:
            if waiter is not None:
                waiter.cancel()

    async def _acquire(
        self, key: str, flight: _Flight, *, token: str, followed: str
    ) -> Answer | _Next | _Held:
        scripts = self._require_scripts()
        cache = flight.cache
        keys = self._flight_keys(key, cache)
        args: list[_ScriptArg] = [token, self._lock_ttl_ms, followed, "1" if cache else "0"]
        reply = await self._link.run_script(scripts.acquire, keys, args)
        match reply:
            case [b"cached", bytes(raw), int(ttl_ms)]:
                try:
                    answer = Answer.from_bytes(raw)
                except ValueError:
                    log.warning("undecodable cache entry for flight %s; producing", key[:12])
                    return _Next.PRODUCE
                if cache is not None:
                    cache.kept(answer, ttl_ms)
                flight.decide(Role.HIT)
                return answer
            case [b"result", bytes(raw)]:
                try:
                    return Answer.from_bytes(raw)
                except ValueError:
                    log.warning("undecodable result of flight %s; producing directly", key[:12])
                    return _Next.PRODUCE
            case [b"lock"]:
                return _Next.LEAD
            case [b"held", bytes(holder), int(lock_left_ms)]:
                lock_left_s = lock_left_ms / 1000 if lock_left_ms > 0 else self._lock_ttl_s
                return _Held(holder.decode(), lock_left_s)
        raise RedisUnavailable(f"unexpected reply of the acquire script: {reply!r}")

    async def _lead(self, key: str, flight: _Flight, produce: Producer, *, token: str) -> Answer:
        flight.decide(Role.LEADER)
        keeper = _LockKeeper(lambda: self._extend(key, token=token), self._lock_ttl_s / 3)
        try:
            answer = await produce(flight.feed)
        except BaseException:
            await keeper.stop()
            await self._release(key, token=token)
            raise
        await keeper.stop()
        await self._finish(key, flight, answer, token=token)
        return answer

    async def _extend(self, key: str, *, token: str) -> bool:
        """Extend our lock; False once it is no longer ours (a Redis failure retries later)."""
        scripts = self._require_scripts()
        keys = [self.lock_key(key)]
        args: list[_ScriptArg] = [token, self._lock_ttl_ms]
        try:
            kept = await self._link.run_script(scripts.extend, keys, args)
        except RedisUnavailable:
            return True
        if not kept:
            log.warning("flight %s lost its lock; its answer is still shared", key[:12])
        return bool(kept)

    async def _finish(self, key: str, flight: _Flight, answer: Answer, *, token: str) -> None:
        """Store the answer (and cache it), release the lock, wake remote followers: one
        round trip."""
        scripts, channel = self._require_scripts(), self._channel()
        cache = flight.cache
        keys = self._flight_keys(key, cache)
        cache_ttl_ms = cache.ttl_ms if cache is not None and answer.cacheable else 0
        if cache is not None:
            cache.kept(answer, cache.ttl_ms)
        args: list[_ScriptArg] = [
            token, answer.to_bytes(), self._result_ttl_ms, channel, key, cache_ttl_ms
        ]  # fmt: skip
        try:
            await self._link.run_script(scripts.finish, keys, args)
        except RedisUnavailable:
            log.warning("flight %s could not share its answer; its lock will expire", key[:12])

    async def _release(self, key: str, *, token: str) -> None:
        """Release the lock of a failed producer and wake remote followers to take over."""
        with contextlib.suppress(RedisUnavailable):
            scripts, channel = self._require_scripts(), self._channel()
            keys, args = [self.lock_key(key), self._waiting_key(key)], [token, channel, key]
            await self._link.run_script(scripts.release, keys, args)

    def _require_scripts(self) -> _Scripts:
        if self._scripts is None:
            raise RedisUnavailable("redis is not configured")
        return self._scripts

    def _channel(self) -> str:
        if self._notifier is None:
            raise RedisUnavailable("no notifier channel to publish on")
        return self._notifier.channel


class _Scripts:
    """The Lua scripts of the flight protocol, registered once per client."""

    def __init__(self, register: Callable[[str], Script]) -> None:
        self.acquire = register(_ACQUIRE)
        self.extend = register(_EXTEND)
        self.finish = register(_FINISH)
        self.release = register(_RELEASE)


class _LockKeeper:
    """Extends a leader's lock every ``period_s``; a task exists only while one is due, so
    the many calls shorter than a period cost one timer each."""

    def __init__(self, extend: Callable[[], Awaitable[bool]], period_s: float) -> None:
        self._extend = extend
        self._period_s = period_s
        self._loop = asyncio.get_running_loop()
        self._timer = self._loop.call_later(period_s, self._due)
        self._task: asyncio.Task[None] | None = None

    def _due(self) -> None:
        self._task = self._loop.create_task(self._run())

    async def _run(self) -> None:
        if await self._extend():
            self._timer = self._loop.call_later(self._period_s, self._due)

    async def stop(self) -> None:
        """No more extensions; waits for one in progress."""
        self._timer.cancel()
        if self._task is not None:
            await _stop(self._task)


async def _stop(task: asyncio.Task[None]) -> None:
    """Cancel ``task`` and wait until it is done, without swallowing our own cancellation."""
    task.cancel()
    await asyncio.wait({task})
