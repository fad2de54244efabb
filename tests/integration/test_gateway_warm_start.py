"""A gateway opens its Redis connections and loads its scripts before it serves, so that its
first requests do not spend their per-call Redis budget on connecting and loading scripts
(which would fail them open: no cross-worker coalescing, no shared cache, a cool-down)."""

import asyncio

import redis
from gateway_support import auth, chat, fast_provider, gateway_config, unique_messages

from reference_impl import create_app
from stack import Toxic, links


REDIS_LATENCY_MS = 30
"""Under the per-call budget (50 ms) for one round trip, over it for a script's first call:
EVALSHA answered NOSCRIPT, then EVAL."""


def _cache_entries(url: str) -> int:
    with redis.Redis.from_url(url) as admin:
        return sum(1 for _ in admin.scan_iter("meltproof:cache:*"))


async def test_the_first_request_of_a_fresh_gateway_is_cached_through_a_slow_redis(
    stack, aiohttp_client
):
    fast_provider(stack)
    with redis.Redis.from_url(stack.endpoints.redis) as admin:
        admin.script_flush()
    slow = Toxic("slow", "latency", attributes={"latency": REDIS_LATENCY_MS, "jitter": 0})
    await asyncio.to_thread(stack.toxiproxy.add_toxic, links.REDIS, slow)
    try:
        client = await aiohttp_client(create_app(gateway_config(stack)))
        before = _cache_entries(stack.endpoints.redis)
        response = await client.post(
            "/v1/chat/completions", json=chat(unique_messages()), headers=auth()
        )
        assert response.status == 200
        assert response.headers["x-cache"] == "miss"
        assert _cache_entries(stack.endpoints.redis) == before + 1
    finally:
        await asyncio.to_thread(stack.toxiproxy.remove_toxic, links.REDIS, "slow")
