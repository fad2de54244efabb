"""The hot path's pipelined Redis connection, against the stack's real Redis and its link."""

import asyncio
import uuid

import pytest
import redis
import redis.asyncio
from redis.exceptions import RedisError, ResponseError

from reference_impl.redis_wire import RedisWire
from stack import Toxic, links


ECHO_KEY = "return {KEYS[1], ARGV[1]}"


def _wire(url: str) -> RedisWire:
    wire = RedisWire.for_url(url, connect_timeout_s=1.0, reply_timeout_s=1.0)
    assert wire is not None
    return wire


async def test_concurrent_calls_share_one_connection_and_each_gets_its_own_reply(stack):
    wire = _wire(stack.endpoints.redis)
    script = wire.register_script(ECHO_KEY)
    try:
        connection = await wire.call("CLIENT", "ID")
        replies = await asyncio.gather(*(script(keys=[f"k{i}"], args=[i]) for i in range(300)))
        assert replies == [[f"k{i}".encode(), str(i).encode()] for i in range(300)]
        assert await wire.call("CLIENT", "ID") == connection
    finally:
        await wire.close()


async def test_a_script_redis_has_forgotten_is_loaded_again(stack):
    wire = _wire(stack.endpoints.redis)
    script = wire.register_script(ECHO_KEY + " -- forgotten")
    try:
        assert await script(keys=["a"], args=["1"]) == [b"a", b"1"]
        await wire.call("SCRIPT", "FLUSH")
        assert await script(keys=["b"], args=["2"]) == [b"b", b"2"]
    finally:
        await wire.close()


async def test_an_error_reply_raises_a_redis_error_and_the_connection_goes_on(stack):
    wire = _wire(stack.endpoints.redis)
    try:
        with pytest.raises(ResponseError, match="unknown command"):
            await wire.call("NO-SUCH-COMMAND")
        assert issubclass(ResponseError, RedisError)
        assert await wire.call("PING") == b"PONG"
    finally:
        await wire.close()


async def test_a_request_that_stops_waiting_never_hands_its_reply_to_the_next(stack):
    """A link that drops bytes: the timed-out request's reply never comes, so a connection
    that stayed open would pair the next reply with the wrong request, or with none."""
    wire = _wire(stack.endpoints.redis_proxied)
    key = f"wire:{uuid.uuid4().hex}"
    try:
        await wire.call("SET", key, "before")
        stack.toxiproxy.add_toxic(links.REDIS, Toxic("drop", "timeout", attributes={"timeout": 0}))
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2):
                await wire.call("GET", key)
        stack.toxiproxy.remove_toxic(links.REDIS, "drop")
        await wire.call("SET", key, "after")
        async with asyncio.timeout(2):
            assert await wire.call("GET", key) == b"after"
    finally:
        await wire.close()


async def test_a_reply_later_than_the_reply_timeout_fails_every_waiting_request(stack):
    """The wire's own timer: the oldest request overdue closes the connection, and every
    request waiting on it fails with ``TimeoutError`` at once; the next call reconnects."""
    wire = RedisWire.for_url(
        stack.endpoints.redis_proxied, connect_timeout_s=1, reply_timeout_s=0.2
    )
    assert wire is not None
    key = f"wire:{uuid.uuid4().hex}"
    loop = asyncio.get_running_loop()
    try:
        await wire.call("SET", key, "before")
        stack.toxiproxy.add_toxic(links.REDIS, Toxic("drop", "timeout", attributes={"timeout": 0}))
        started = loop.time()
        failed_at: list[float] = []
        first = asyncio.ensure_future(wire.call("GET", key))
        await asyncio.sleep(0.1)
        second = asyncio.ensure_future(wire.call("GET", key))
        for waiting in (first, second):
            waiting.add_done_callback(lambda _: failed_at.append(loop.time()))
        replies = await asyncio.gather(first, second, return_exceptions=True)
        assert [type(reply) for reply in replies] == [TimeoutError, TimeoutError]
        assert failed_at[0] - started >= 0.2
        assert failed_at[1] - failed_at[0] < 0.05  # not at its own deadline, 0.1 s later
        stack.toxiproxy.remove_toxic(links.REDIS, "drop")
        await wire.call("SET", key, "after")
        assert await wire.call("GET", key) == b"after"
    finally:
        await wire.close()


async def test_a_call_may_wait_longer_than_the_reply_timeout_when_it_says_so(stack):
    """The warm-up's and the connection's own commands are patient; the hot path's are not."""
    wire = RedisWire.for_url(
        stack.endpoints.redis_proxied, connect_timeout_s=1, reply_timeout_s=0.05
    )
    assert wire is not None
    try:
        await wire.call("PING")
        stack.toxiproxy.add_toxic(
            links.REDIS, Toxic("slow", "latency", attributes={"latency": 150})
        )
        assert await wire.call("PING", timeout_s=1) == b"PONG"
        with pytest.raises(TimeoutError):
            await wire.call("PING")
    finally:
        await wire.close()


async def test_a_lost_connection_fails_the_waiting_request_and_the_next_one_reconnects(stack):
    wire = _wire(stack.endpoints.redis)
    admin = redis.asyncio.Redis.from_url(stack.endpoints.redis)
    try:
        own_id = await wire.call("CLIENT", "ID")
        waiting = asyncio.create_task(wire.call("BLPOP", f"wire:{uuid.uuid4().hex}", 5))
        await asyncio.sleep(0.1)
        await admin.client_kill_filter(_id=own_id)
        with pytest.raises(ConnectionError):
            await waiting
        assert await wire.call("PING") == b"PONG"
        assert await wire.call("CLIENT", "ID") != own_id
    finally:
        await wire.close()
        await admin.aclose()


async def test_a_url_with_a_password_and_a_database_authenticates_and_selects(stack):
    password = uuid.uuid4().hex
    key = f"wire:{uuid.uuid4().hex}"
    host_port = stack.endpoints.redis.removeprefix("redis://").split("/")[0]
    admin = redis.Redis.from_url(stack.endpoints.redis)
    admin.config_set("requirepass", password)
    wire = _wire(f"redis://:{password}@{host_port}/3")
    try:
        await wire.call("SET", key, "in three")
        checker = redis.Redis.from_url(f"redis://:{password}@{host_port}/3")
        assert checker.get(key) == b"in three"
        checker.delete(key)
        checker.close()
    finally:
        await wire.close()
        with redis.Redis.from_url(f"redis://:{password}@{host_port}") as authed:
            authed.config_set("requirepass", "")
        admin.close()


def test_only_plain_redis_urls_take_the_wire():
    assert (
        RedisWire.for_url("rediss://127.0.0.1:6380", connect_timeout_s=1, reply_timeout_s=1) is None
    )
    assert (
        RedisWire.for_url("unix:///tmp/redis.sock", connect_timeout_s=1, reply_timeout_s=1) is None
    )
    assert (
        RedisWire.for_url("redis://127.0.0.1:6380/2", connect_timeout_s=1, reply_timeout_s=1)
        is not None
    )
