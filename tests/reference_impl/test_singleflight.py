"""Coalescing: one call per key within a worker and across workers, and every failure path.

Two ``SingleFlight`` + ``Notifier`` pairs on one ``fakeredis.FakeServer`` are two workers.
Producers wait for the test to release them, so every join happens while the call is open.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

import fakeredis
import fakeredis.aioredis
import pytest
import redis.asyncio as redis

from reference_impl.answer import Answer
from reference_impl.hot_answers import HotAnswers
from reference_impl.notify import Notifier
from reference_impl.redis_link import RedisLink
from reference_impl.singleflight import CacheSlot, Role, SingleFlight, Tap, Ticket


ANSWER = Answer(status=200, body=b'{"choices":[]}', model="gpt-4o-mini")
OTHER = Answer(status=200, body=b'{"other":true}', model="gpt-4o")
KEY = "a" * 64
GUARD_S = 30.0  # only stops a hung test early; no assertion depends on time


class Upstream:
    """A producer that counts calls, emits ``chunks``, then waits to be released."""

    def __init__(
        self, *, chunks: Iterable[bytes] = (), later: Iterable[bytes] = (), answer: Answer = ANSWER
    ) -> None:
        self.calls = 0
        self.completed = 0
        self.chunks, self.later, self.answer = list(chunks), list(later), answer
        self.emitted = asyncio.Event()
        self.release = asyncio.Event()
        self.error: BaseException | None = None

    async def __call__(self, tap: Tap) -> Answer:
        self.calls += 1
        for chunk in self.chunks:
            await tap.emit(chunk)
        self.emitted.set()
        await self.release.wait()
        if self.error is not None:
            raise self.error
        for chunk in self.later:
            await tap.emit(chunk)
        self.completed += 1
        return self.answer


Worker = tuple[SingleFlight, redis.Redis]
StartWorker = Callable[..., Awaitable[Worker]]


@pytest.fixture
def server() -> fakeredis.FakeServer:
    return fakeredis.FakeServer()


@pytest.fixture
async def start_worker(server: fakeredis.FakeServer) -> AsyncIterator[StartWorker]:
    """Start a worker (a notifier and a SingleFlight) on the shared fake Redis."""
    started: list[tuple[SingleFlight, Notifier]] = []

    async def start(**options: Any) -> Worker:
        client = fakeredis.aioredis.FakeRedis(server=server)
        notifier = Notifier(client, reconnect_s=0.05)
        await notifier.start()
        assert notifier.listening
        flight = SingleFlight(RedisLink(client, timeout_s=1.0), notifier, **options)
        started.append((flight, notifier))
        return flight, client

    yield start
    for flight, notifier in started:
        await flight.close()
        await notifier.stop()


async def two_workers(start_worker: StartWorker) -> tuple[Worker, Worker]:
    """Two workers whose locks outlive any test: a follower can only be woken by a publish."""
    return await start_worker(lock_ttl_s=300.0), await start_worker(lock_ttl_s=300.0)


async def join_many(
    flight: SingleFlight, produce: Upstream, count: int, **options: Any
) -> list[Ticket]:
    wait_s = options.pop("wait_s", GUARD_S)
    return list(
        await asyncio.gather(*(flight.join(KEY, produce, wait_s=wait_s) for _ in range(count)))
    )


async def answers(tickets: Iterable[Ticket]) -> list[Answer]:
    async with asyncio.timeout(GUARD_S):
        return list(await asyncio.gather(*(ticket.answer() for ticket in tickets)))


def roles(tickets: Iterable[Ticket]) -> list[Role]:
    return sorted(ticket.role for ticket in tickets)


async def test_identical_joins_in_one_worker_make_one_call(start_worker: StartWorker) -> None:
    flight, _ = await start_worker()
    upstream = Upstream()
    tickets = await join_many(flight, upstream, 100)
    upstream.release.set()
    assert await answers(tickets) == [ANSWER] * 100
    assert upstream.calls == 1
    assert roles(tickets) == [Role.FOLLOWER] * 99 + [Role.LEADER]
    assert flight.in_flight == 0


async def test_identical_joins_across_two_workers_make_one_call(start_worker: StartWorker) -> None:
    (first, _), (second, _) = await two_workers(start_worker)
    upstream = Upstream()
    both = await asyncio.gather(join_many(first, upstream, 50), join_many(second, upstream, 50))
    tickets = [ticket for worker in both for ticket in worker]
    upstream.release.set()
    assert await answers(tickets) == [ANSWER] * 100
    assert upstream.calls == 1
    assert roles(tickets) == [Role.FOLLOWER] * 99 + [Role.LEADER]


async def test_the_leader_leaves_its_result_and_frees_the_lock(start_worker: StartWorker) -> None:
    flight, client = await start_worker(result_ttl_s=10.0)
    upstream = Upstream()
    upstream.release.set()
    [ticket] = await join_many(flight, upstream, 1)
    assert await ticket.answer() == ANSWER
    assert await client.exists(flight.lock_key(KEY)) == 0
    assert 0 < await client.pttl(flight.result_key(KEY)) <= 10_000
    assert (await client.get(flight.result_key(KEY))).endswith(b"\n" + ANSWER.to_bytes())


async def test_a_finished_flight_is_not_joined_again(start_worker: StartWorker) -> None:
    flight, _ = await start_worker()
    upstream = Upstream()
    upstream.release.set()
    for _ in range(2):
        [ticket] = await join_many(flight, upstream, 1)
        assert await ticket.answer() == ANSWER
        assert ticket.role is Role.LEADER
    assert upstream.calls == 2


async def test_stream_chunks_reach_every_follower_in_order(start_worker: StartWorker) -> None:
    flight, _ = await start_worker()
    upstream = Upstream(chunks=[b"a", b"b"], later=[b"c", b"d"])
    tickets = await join_many(flight, upstream, 4)
    readers = [asyncio.create_task(collect(ticket)) for ticket in tickets]
    await upstream.emitted.wait()
    [late] = await join_many(flight, upstream, 1)
    assert late.role is Role.FOLLOWER
    readers.append(asyncio.create_task(collect(late)))
    upstream.release.set()
    async with asyncio.timeout(GUARD_S):
        received = await asyncio.gather(*readers)
    assert received == [[b"a", b"b", b"c", b"d"]] * 5
    assert upstream.calls == 1


async def collect(ticket: Ticket) -> list[bytes]:
    return [chunk async for chunk in ticket.chunks()]


async def test_remote_followers_get_the_answer_without_chunks(start_worker: StartWorker) -> None:
    (first, _), (second, _) = await two_workers(start_worker)
    upstream = Upstream(chunks=[b"a"], later=[b"b"])
    [leader] = await join_many(first, upstream, 1)
    [remote] = await join_many(second, Upstream(answer=OTHER), 1)
    reading = asyncio.create_task(collect(remote))
    upstream.release.set()
    assert await answers([leader, remote]) == [ANSWER, ANSWER]
    assert await reading == []
    assert remote.role is Role.FOLLOWER


async def test_followers_share_an_error_answer(start_worker: StartWorker) -> None:
    (first, _), (second, _) = await two_workers(start_worker)
    overloaded = Answer(status=503, body=b'{"error":{"type":"overloaded"}}')
    upstream, other = Upstream(answer=overloaded), Upstream(answer=OTHER)
    local = await join_many(first, upstream, 3)
    remote = await join_many(second, other, 3)
    upstream.release.set()
    assert await answers([*local, *remote]) == [overloaded] * 6
    assert (upstream.calls, other.calls) == (1, 0)


async def test_a_cancelled_leader_request_does_not_cancel_the_call(
    start_worker: StartWorker,
) -> None:
    flight, _ = await start_worker()
    upstream = Upstream()

    async def request() -> Answer:
        ticket = await flight.join(KEY, upstream, wait_s=GUARD_S)
        return await ticket.answer()

    leader_request = asyncio.create_task(request())
    await upstream.emitted.wait()
    [follower] = await join_many(flight, upstream, 1)
    leader_request.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leader_request
    upstream.release.set()
    assert await answers([follower]) == [ANSWER]
    assert (upstream.calls, upstream.completed) == (1, 1)


async def test_a_producer_error_reaches_local_followers_and_frees_the_lock(
    start_worker: StartWorker,
) -> None:
    (first, client), (second, _) = await two_workers(start_worker)
    failing, other = Upstream(), Upstream(answer=OTHER)
    failing.error = RuntimeError("producer bug")
    local = await join_many(first, failing, 3)
    [remote] = await join_many(second, other, 1)
    assert remote.role is Role.FOLLOWER
    other.release.set()
    failing.release.set()
    for ticket in local:
        with pytest.raises(RuntimeError, match="producer bug"):
            await ticket.answer()
    # Released at once, so the remote follower takes over now, not after the 300 s TTL.
    assert await answers([remote]) == [OTHER]
    assert remote.role is Role.LEADER
    assert (failing.calls, other.calls) == (1, 1)
    assert await client.exists(first.lock_key(KEY)) == 0


async def test_a_crashed_remote_leader_is_taken_over_when_its_lock_expires(
    start_worker: StartWorker,
) -> None:
    flight, client = await start_worker(lock_ttl_s=0.2)
    await client.set(flight.lock_key(KEY), b"crashed-worker", px=200)
    upstream = Upstream()
    upstream.release.set()
    [ticket] = await join_many(flight, upstream, 1)
    assert ticket.role is Role.FOLLOWER
    assert await answers([ticket]) == [ANSWER]
    assert ticket.role is Role.LEADER
    assert upstream.calls == 1
    assert await client.exists(flight.lock_key(KEY)) == 0


async def test_a_stale_result_of_another_flight_is_never_served(
    start_worker: StartWorker,
) -> None:
    flight, client = await start_worker(lock_ttl_s=0.2)
    await client.set(flight.result_key(KEY), b"earlier-flight\n" + OTHER.to_bytes())
    await client.set(flight.lock_key(KEY), b"crashed-worker", px=200)
    upstream = Upstream()
    upstream.release.set()
    [ticket] = await join_many(flight, upstream, 1)
    assert await answers([ticket]) == [ANSWER]
    assert upstream.calls == 1


async def test_wait_s_bounds_how_long_a_follower_waits(start_worker: StartWorker) -> None:
    flight, client = await start_worker()
    await client.set(flight.lock_key(KEY), b"stuck-worker", px=300_000)
    upstream = Upstream()
    upstream.release.set()
    tickets = await join_many(flight, upstream, 3, wait_s=0.2)
    assert await answers(tickets) == [ANSWER] * 3
    assert upstream.calls == 1
    assert tickets[0].role is Role.LEADER
    assert await client.get(flight.lock_key(KEY)) == b"stuck-worker"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.mark.parametrize("redis_configured", [True, False], ids=["unreachable", "absent"])
async def test_without_redis_coalescing_is_local(*, redis_configured: bool) -> None:
    client = (
        redis.Redis(port=closed_port(), socket_connect_timeout=0.2) if redis_configured else None
    )
    notifier = Notifier(client, reconnect_s=0.05, start_timeout_s=0.5)
    await notifier.start()
    flight = SingleFlight(RedisLink(client, timeout_s=0.2), notifier)
    try:
        assert not notifier.listening
        upstream = Upstream()
        tickets = await join_many(flight, upstream, 100)
        upstream.release.set()
        assert await answers(tickets) == [ANSWER] * 100
        assert upstream.calls == 1
        assert roles(tickets) == [Role.FOLLOWER] * 99 + [Role.LEADER]
    finally:
        await flight.close()
        await notifier.stop()
        if client is not None:
            await client.aclose()


async def test_close_cancels_open_flights_and_frees_their_locks(
    start_worker: StartWorker,
) -> None:
    flight, client = await start_worker()
    upstream = Upstream()
    tickets = await join_many(flight, upstream, 2)
    await flight.close()
    for ticket in tickets:
        with pytest.raises(asyncio.CancelledError):
            await ticket.answer()
    assert await client.exists(flight.lock_key(KEY)) == 0
    assert flight.in_flight == 0


class TestNotifier:
    async def test_a_publish_wakes_every_waiter_of_its_topic(
        self, server: fakeredis.FakeServer
    ) -> None:
        notifier, publisher = await listening(server)
        first, second, elsewhere = notifier.waiter("t"), notifier.waiter("t"), notifier.waiter("u")
        await publisher.publish(notifier.channel, "t")
        async with asyncio.timeout(GUARD_S):
            await asyncio.gather(first, second)
        assert not elsewhere.done()
        elsewhere.cancel()
        await asyncio.sleep(0)
        assert notifier.waiting == 0
        await notifier.stop()

    async def test_stop_wakes_all_waiters(self, server: fakeredis.FakeServer) -> None:
        notifier, _ = await listening(server)
        waiter = notifier.waiter("t")
        await notifier.stop()
        assert waiter.done()
        assert not notifier.listening

    async def test_it_reconnects_and_wakes_waiters_that_may_have_missed_a_message(
        self, server: fakeredis.FakeServer
    ) -> None:
        client = fakeredis.aioredis.FakeRedis(server=server)
        subscribe = FailingOnce(client)
        client.pubsub = subscribe  # type: ignore[method-assign]
        notifier = Notifier(client, reconnect_s=0.01)
        waiter = notifier.waiter("t")
        await notifier.start()
        async with asyncio.timeout(GUARD_S):
            await waiter
        assert notifier.listening
        assert subscribe.calls == 2
        await notifier.stop()


async def listening(server: fakeredis.FakeServer) -> tuple[Notifier, redis.Redis]:
    client = fakeredis.aioredis.FakeRedis(server=server)
    notifier = Notifier(client)
    await notifier.start()
    assert notifier.listening
    return notifier, client


class FailingOnce:
    """``client.pubsub`` whose first pub/sub connection fails."""

    def __init__(self, client: redis.Redis) -> None:
        self.calls = 0
        self._pubsub = client.pubsub

    def __call__(self) -> Any:
        self.calls += 1
        if self.calls == 1:
            raise redis.ConnectionError("connection refused")
        return self._pubsub()


CACHE = CacheSlot("meltproof:cache:test", 60_000)


async def test_a_cached_answer_ends_the_flight_as_a_hit(start_worker: StartWorker) -> None:
    flight, client = await start_worker()
    await client.set(CACHE.redis_key, ANSWER.to_bytes())
    upstream = Upstream()
    ticket = await flight.join(KEY, upstream, wait_s=GUARD_S, cache=CACHE)
    assert await answers([ticket]) == [ANSWER]
    assert ticket.role is Role.HIT
    assert upstream.calls == 0


async def test_the_leader_caches_a_cacheable_answer_in_its_finish(
    start_worker: StartWorker,
) -> None:
    flight, client = await start_worker()
    upstream = Upstream()
    upstream.release.set()
    ticket = await flight.join(KEY, upstream, wait_s=GUARD_S, cache=CACHE)
    await answers([ticket])
    assert ticket.role is Role.LEADER
    assert Answer.from_bytes(await client.get(CACHE.redis_key)) == ANSWER
    assert 0 < await client.pttl(CACHE.redis_key) <= CACHE.ttl_ms
    again = await flight.join(KEY, Upstream(), wait_s=GUARD_S, cache=CACHE)
    await answers([again])
    assert again.role is Role.HIT


async def test_an_answer_that_is_not_cacheable_is_shared_but_not_cached(
    start_worker: StartWorker,
) -> None:
    flight, client = await start_worker()
    degraded = Answer(status=200, body=b"{}", degraded=True)
    upstream = Upstream(answer=degraded)
    upstream.release.set()
    await answers([await flight.join(KEY, upstream, wait_s=GUARD_S, cache=CACHE)])
    assert await client.get(CACHE.redis_key) is None


def kept_slot(hot: HotAnswers) -> CacheSlot:
    """The test's cache slot, keeping answers in ``hot`` under ``KEY``."""
    return CacheSlot(CACHE.redis_key, CACHE.ttl_ms, keep=lambda a, ttl_s: hot.put(KEY, a, ttl_s))


async def test_the_leader_keeps_its_cacheable_answer_before_anyone_gets_it(
    start_worker: StartWorker,
) -> None:
    flight, _ = await start_worker()
    hot = HotAnswers()
    upstream = Upstream()
    upstream.release.set()
    ticket = await flight.join(KEY, upstream, wait_s=GUARD_S, cache=kept_slot(hot))
    async with asyncio.timeout(GUARD_S):
        assert await ticket.answer() == ANSWER
        assert hot.get(KEY) == ANSWER  # already there when the answer is given


async def test_a_hit_is_kept_for_what_is_left_of_its_ttl(start_worker: StartWorker) -> None:
    flight, client = await start_worker()
    kept: list[tuple[Answer, float]] = []
    slot = CacheSlot(CACHE.redis_key, CACHE.ttl_ms, keep=lambda a, ttl_s: kept.append((a, ttl_s)))
    await client.set(CACHE.redis_key, ANSWER.to_bytes(), px=4_000)
    ticket = await flight.join(KEY, Upstream(), wait_s=GUARD_S, cache=slot)
    assert await answers([ticket]) == [ANSWER]
    [(answer, ttl_s)] = kept
    assert answer == ANSWER
    assert 3.0 < ttl_s <= 4.0


async def test_an_answer_that_may_not_be_cached_is_not_kept(start_worker: StartWorker) -> None:
    flight, _ = await start_worker()
    hot = HotAnswers()
    upstream = Upstream(answer=Answer(status=200, body=b"{}", degraded=True))
    upstream.release.set()
    await answers([await flight.join(KEY, upstream, wait_s=GUARD_S, cache=kept_slot(hot))])
    assert hot.get(KEY) is None


async def test_without_redis_the_answer_is_kept_all_the_same() -> None:
    flight = SingleFlight(RedisLink(None), None)
    hot = HotAnswers()
    upstream = Upstream()
    upstream.release.set()
    await answers([await flight.join(KEY, upstream, wait_s=GUARD_S, cache=kept_slot(hot))])
    assert hot.get(KEY) == ANSWER


async def test_remote_followers_are_coalesced_not_hits_although_the_answer_is_cached(
    start_worker: StartWorker,
) -> None:
    (one, _), (two, _) = await two_workers(start_worker)
    upstream = Upstream()
    leader = await one.join(KEY, upstream, wait_s=GUARD_S, cache=CACHE)
    follower = await two.join(KEY, upstream, wait_s=GUARD_S, cache=CACHE)
    upstream.release.set()
    assert await answers([leader, follower]) == [ANSWER, ANSWER]
    assert (leader.role, follower.role) == (Role.LEADER, Role.FOLLOWER)
    assert upstream.calls == 1


async def test_a_flight_nobody_follows_publishes_nothing(
    start_worker: StartWorker, server: fakeredis.FakeServer
) -> None:
    flight, _ = await start_worker()
    listener = fakeredis.aioredis.FakeRedis(server=server).pubsub()
    await listener.subscribe("meltproof:flights")
    await listener.get_message(timeout=1.0)  # the subscribe confirmation
    upstream = Upstream()
    upstream.release.set()
    await answers([await flight.join(KEY, upstream, wait_s=GUARD_S)])
    assert await listener.get_message(timeout=0.2) is None
    await listener.aclose()
