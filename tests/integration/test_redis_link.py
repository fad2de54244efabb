"""Redis through its Toxiproxy link: latency and resets injected on the wire; the gateway's
client under a burst."""

import asyncio
import time

import pytest
import redis

from reference_impl.redis_link import CONNECTIONS, RedisLink, RedisUnavailable, connect
from reference_impl.redis_wire import RedisWire
from stack import Toxic, links


def _ping_seconds(client: redis.Redis) -> float:
    started = time.perf_counter()
    assert client.ping()
    return time.perf_counter() - started


@pytest.fixture
def redis_via_proxy(stack):
    with redis.Redis.from_url(stack.endpoints.redis_proxied, socket_timeout=5) as client:
        yield client


def test_ping_through_the_proxy(redis_via_proxy):
    assert redis_via_proxy.ping()


def test_a_latency_toxic_delays_ping_and_removing_it_restores_it(stack, redis_via_proxy):
    baseline = min(_ping_seconds(redis_via_proxy) for _ in range(5))
    assert baseline < 0.05
    stack.toxiproxy.add_toxic(
        links.REDIS, Toxic("slow", "latency", attributes={"latency": 200, "jitter": 0})
    )
    delayed = _ping_seconds(redis_via_proxy)  # an existing connection is slowed too
    assert delayed >= 0.2
    stack.toxiproxy.remove_toxic(links.REDIS, "slow")
    restored = min(_ping_seconds(redis_via_proxy) for _ in range(5))
    assert restored < 0.05


def test_a_reset_peer_toxic_breaks_the_connection(stack, redis_via_proxy):
    assert redis_via_proxy.ping()
    stack.toxiproxy.add_toxic(links.REDIS, Toxic("reset", "reset_peer", attributes={"timeout": 0}))
    with pytest.raises(redis.ConnectionError):
        redis_via_proxy.ping()


def test_a_disabled_link_refuses_connections(stack):
    stack.toxiproxy.set_enabled(links.REDIS, False)
    with (
        redis.Redis.from_url(stack.endpoints.redis_proxied, socket_timeout=2) as client,
        pytest.raises(redis.ConnectionError),
    ):
        client.ping()


async def test_a_burst_larger_than_the_pool_waits_for_connections_instead_of_failing(stack):
    client = connect(stack.endpoints.redis, connect_timeout_s=1.0)
    link = RedisLink(client, timeout_s=5.0)  # the wait is bounded by the link's timeout
    try:
        counts = await asyncio.gather(
            *(link.run(lambda r: r.incr("burst")) for _ in range(20 * CONNECTIONS))
        )
        assert sorted(counts) == list(range(1, 20 * CONNECTIONS + 1))
        assert link.available
    finally:
        await client.aclose()


async def test_a_script_on_the_wire_that_gets_no_reply_makes_redis_unavailable_and_cools_down(
    stack,
):
    """The wire bounds the wait (no timer of the link's own), and the link treats the late
    reply like any Redis failure: ``RedisUnavailable``, then refusal during the cool-down."""
    url = stack.endpoints.redis_proxied
    wire = RedisWire.for_url(url, connect_timeout_s=1, reply_timeout_s=0.1)
    link = RedisLink(connect(url, connect_timeout_s=1), wire=wire, timeout_s=0.1, cooldown_s=30)
    script = link.register_script("return ARGV[1]")
    try:
        assert await link.run_script(script, [], ["up"]) == b"up"
        stack.toxiproxy.add_toxic(links.REDIS, Toxic("drop", "timeout", attributes={"timeout": 0}))
        try:
            with pytest.raises(RedisUnavailable):
                async with asyncio.timeout(1):
                    await link.run_script(script, [], ["dropped"])
        finally:
            stack.toxiproxy.remove_toxic(links.REDIS, "drop")
        assert not link.available
        with pytest.raises(RedisUnavailable) as refused:
            await link.run_script(script, [], ["cooling"])
        assert refused.value.may_have_run is False
    finally:
        await wire.close()
        await link.client.aclose()


def test_a_wire_may_not_wait_longer_than_its_link():
    wire = RedisWire("127.0.0.1", 6379, connect_timeout_s=1, reply_timeout_s=0.5)
    with pytest.raises(ValueError, match="reply timeout"):
        RedisLink(None, wire=wire, timeout_s=0.05)
