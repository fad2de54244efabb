"""The response cache and the Answer it stores: round trips, TTL, and failing open."""

from __future__ import annotations

import socket

import fakeredis.aioredis
import pytest
import redis.asyncio as redis
from fake_clock import FakeClock
from hypothesis import given
from hypothesis import strategies as st

from reference_impl.answer import Answer
from reference_impl.cache import ResponseCache
from reference_impl.redis_link import RedisLink


OK = Answer(
    status=200,
    body=b'{"id":"chatcmpl-1","object":"chat.completion"}',
    headers={"x-ratelimit-remaining-requests": "99"},
    model="gpt-4o-mini",
)


@pytest.fixture
async def fake() -> fakeredis.aioredis.FakeRedis:
    return fakeredis.aioredis.FakeRedis()


@pytest.fixture
def cache(fake: fakeredis.aioredis.FakeRedis) -> ResponseCache:
    return ResponseCache(RedisLink(fake, timeout_s=1.0), ttl_s=30.0)


@given(
    status=st.integers(min_value=100, max_value=599),
    body=st.binary(),
    headers=st.dictionaries(st.text(), st.text(), max_size=3),
    model=st.text(),
    degraded=st.booleans(),
)
def test_an_answer_round_trips_through_bytes(
    status: int, body: bytes, headers: dict[str, str], model: str, *, degraded: bool
) -> None:
    answer = Answer(status=status, body=body, headers=headers, model=model, degraded=degraded)
    assert Answer.from_bytes(answer.to_bytes()) == answer


@pytest.mark.parametrize(
    "raw", [b"", b"no header line", b"{}\nbody", b'{"s":"200","h":{},"m":"","d":false}\n']
)
def test_anything_else_is_not_an_answer(raw: bytes) -> None:
    with pytest.raises(ValueError, match="not a serialised Answer"):
        Answer.from_bytes(raw)


def test_only_full_quality_successes_are_cacheable() -> None:
    assert OK.cacheable
    assert not Answer(status=429, body=b"{}").cacheable
    assert not Answer(status=200, body=b"{}", degraded=True).cacheable


async def test_put_then_get_returns_the_answer(cache: ResponseCache) -> None:
    assert await cache.get("k1") is None
    assert await cache.put("k1", OK)
    assert await cache.get("k1") == OK
    assert await cache.get("k2") is None


async def test_entries_expire_after_the_ttl(
    cache: ResponseCache, fake: fakeredis.aioredis.FakeRedis
) -> None:
    await cache.put("k1", OK)
    pttl = await fake.pttl(cache.redis_key("k1"))
    assert 29_000 < pttl <= 30_000


@pytest.mark.parametrize(
    "answer",
    [Answer(status=500, body=b"{}"), Answer(status=200, body=b"{}", degraded=True)],
    ids=["error", "degraded"],
)
async def test_uncacheable_answers_are_not_stored(
    cache: ResponseCache, fake: fakeredis.aioredis.FakeRedis, answer: Answer
) -> None:
    assert not await cache.put("k1", answer)
    assert await fake.exists(cache.redis_key("k1")) == 0


async def test_an_undecodable_entry_is_a_miss(
    cache: ResponseCache, fake: fakeredis.aioredis.FakeRedis
) -> None:
    await fake.set(cache.redis_key("k1"), b"garbage")
    assert await cache.get("k1") is None


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_an_unavailable_redis_fails_open_and_is_counted() -> None:
    client = redis.Redis(host="127.0.0.1", port=closed_port(), socket_connect_timeout=0.2)
    cache = ResponseCache(RedisLink(client, timeout_s=0.2, cooldown_s=0.0))
    try:
        assert await cache.get("k1") is None
        assert not await cache.put("k1", OK)
    finally:
        await client.aclose()
    assert cache.errors == 2


async def test_an_answer_stored_is_served_from_memory_without_redis(
    cache: ResponseCache, fake: fakeredis.aioredis.FakeRedis
) -> None:
    assert await cache.put("k1", OK)
    await fake.flushall()  # not how entries go; shows the answer came from memory
    assert cache.recent("k1") == OK
    assert await cache.get("k1") == OK


async def test_an_answer_read_from_redis_is_kept_for_what_is_left_of_its_ttl(
    fake: fakeredis.aioredis.FakeRedis,
) -> None:
    clock = FakeClock()
    cache = ResponseCache(RedisLink(fake, timeout_s=1.0), ttl_s=30.0, clock=clock)
    await fake.set(cache.redis_key("k1"), OK.to_bytes(), px=5_000)
    assert cache.recent("k1") is None
    assert await cache.get("k1") == OK
    clock.advance(4.9)
    assert cache.recent("k1") == OK
    clock.advance(0.1)
    assert cache.recent("k1") is None


async def test_without_redis_an_answer_stored_is_still_served_from_memory() -> None:
    client = redis.Redis(host="127.0.0.1", port=closed_port(), socket_connect_timeout=0.2)
    cache = ResponseCache(RedisLink(client, timeout_s=0.2, cooldown_s=0.0))
    try:
        assert not await cache.put("k1", OK)
        assert await cache.get("k1") == OK
    finally:
        await client.aclose()
    assert cache.errors == 1


async def test_an_answer_that_may_not_be_cached_is_not_kept_in_memory(
    cache: ResponseCache,
) -> None:
    assert not await cache.put("k1", Answer(status=200, body=b"{}", degraded=True))
    assert cache.recent("k1") is None


def test_a_ttl_must_be_positive() -> None:
    with pytest.raises(ValueError, match="ttl_s"):
        ResponseCache(RedisLink(None), ttl_s=0)
