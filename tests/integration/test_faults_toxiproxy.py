"""Link faults against the real Toxiproxy: each one's effect, and its heal.

The first two tests pin down how Toxiproxy 2.12 treats connections opened before a toxic
(the findings written in ``faults.link.toxic``).
"""

import http.client
import socket
import statistics
import time
from urllib.parse import urlsplit

import pytest
import redis

from faults import (
    BandwidthFault,
    FaultContext,
    LatencyFault,
    LimitDataFault,
    LinkDownFault,
    ResetPeerFault,
    SlicerFault,
    SlowCloseFault,
    TimeoutFault,
)


@pytest.fixture
def ctx(stack):
    return FaultContext.of_stack(stack)


def _seconds(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def _connections(url: str, count: int) -> list[redis.Redis]:
    clients = [
        redis.Redis.from_url(url, socket_timeout=5, single_connection_client=True)
        for _ in range(count)
    ]
    for client in clients:
        client.ping()  # the connection is open before any toxic
    return clients


def test_a_toxic_acts_on_connections_opened_before_it(stack, ctx):
    clients = _connections(stack.endpoints.redis_proxied, 8)
    fault = LatencyFault(link="redis", latency_ms=100)
    fault.inject(ctx)
    try:
        delays = [_seconds(client.ping) for client in clients]
    finally:
        fault.heal(ctx)
        for client in clients:
            client.close()
    assert min(delays) >= 0.1


def test_toxicity_is_drawn_once_per_connection_not_per_request(stack, ctx):
    clients = _connections(stack.endpoints.redis_proxied, 24)
    fault = LatencyFault(link="redis", latency_ms=50, toxicity=0.5)
    fault.inject(ctx)
    try:
        slowed = [[_seconds(client.ping) >= 0.05 for _ in range(2)] for client in clients]
    finally:
        fault.heal(ctx)
        for client in clients:
            client.close()
    assert all(first == second for first, second in slowed)  # all or nothing per connection
    affected = sum(first for first, _ in slowed)
    assert 0 < affected < len(clients)


def _models_median_s(url: str, count: int = 7) -> float:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    headers = {"Authorization": "Bearer sk-test"}

    def get() -> None:
        connection.request("GET", "/v1/models", headers=headers)
        response = connection.getresponse()
        response.read()
        assert response.status == 200

    try:
        get()
        return statistics.median(_seconds(get) for _ in range(count))
    finally:
        connection.close()


def test_latency_on_the_provider_link_adds_its_delay_and_heals(stack, ctx):
    url = stack.endpoints.provider_proxied
    before = _models_median_s(url)
    fault = LatencyFault(link="provider", latency_ms=200)
    fault.inject(ctx)
    try:
        during = _models_median_s(url)
    finally:
        fault.heal(ctx)
    after = _models_median_s(url)
    assert 0.18 <= during - before <= 0.6
    assert after - before < 0.1
    assert stack.toxiproxy.proxies()["provider"].toxics == ()


def test_link_down_refuses_connections_until_healed(stack, ctx):
    fault = LinkDownFault(link="redis")
    fault.inject(ctx)
    try:
        with (
            redis.Redis.from_url(stack.endpoints.redis_proxied, socket_timeout=2) as client,
            pytest.raises(redis.ConnectionError),
        ):
            client.ping()
    finally:
        fault.heal(ctx)
    with redis.Redis.from_url(stack.endpoints.redis_proxied, socket_timeout=2) as client:
        assert client.ping()


def test_a_zero_timeout_black_holes_the_link(stack, ctx):
    client = redis.Redis.from_url(
        stack.endpoints.redis_proxied, socket_timeout=0.5, single_connection_client=True
    )
    assert client.ping()
    fault = TimeoutFault(link="redis", timeout_ms=0)
    fault.inject(ctx)
    try:
        with pytest.raises(redis.TimeoutError):
            client.ping()  # no answer, and no close either
    finally:
        fault.heal(ctx)
        client.close()
    with redis.Redis.from_url(stack.endpoints.redis_proxied, socket_timeout=2) as fresh:
        assert fresh.ping()


def test_reset_peer_resets_the_connection(stack, ctx):
    (client,) = _connections(stack.endpoints.redis_proxied, 1)
    fault = ResetPeerFault(link="redis")
    fault.inject(ctx)
    try:
        with pytest.raises(redis.ConnectionError):
            client.ping()
    finally:
        fault.heal(ctx)
        client.close()


@pytest.fixture
def big_value(stack):
    """A key of 50 kB, set directly (not through the link)."""
    with redis.Redis.from_url(stack.endpoints.redis, socket_timeout=5) as direct:
        direct.set("faults:big", b"x" * 50_000)
    return "faults:big"


def _get_s(url: str, key: str) -> float:
    with redis.Redis.from_url(url, socket_timeout=10) as client:
        client.ping()
        return _seconds(lambda: client.get(key))


def test_bandwidth_slows_a_large_reply(stack, ctx, big_value):
    before = _get_s(stack.endpoints.redis_proxied, big_value)
    fault = BandwidthFault(link="redis", rate_kbps=50)  # 50 kB at 50 kB/s: about 1 s
    fault.inject(ctx)
    try:
        during = _get_s(stack.endpoints.redis_proxied, big_value)
    finally:
        fault.heal(ctx)
    assert during >= 0.7
    assert during > 5 * before


def test_slicer_delivers_a_reply_in_delayed_pieces(stack, ctx, big_value):
    before = _get_s(stack.endpoints.redis_proxied, big_value)
    fault = SlicerFault(link="redis", average_size_bytes=2000, delay_us=20_000)
    fault.inject(ctx)
    try:
        during = _get_s(stack.endpoints.redis_proxied, big_value)
    finally:
        fault.heal(ctx)
    assert during >= 0.2  # 25 pieces or more, 20 ms apart
    assert during > 5 * before


def test_limit_data_closes_a_connection_after_its_bytes(stack, ctx, big_value):
    (client,) = _connections(stack.endpoints.redis_proxied, 1)
    fault = LimitDataFault(link="redis", bytes=1000)
    fault.inject(ctx)
    try:
        with pytest.raises(redis.ConnectionError):
            client.get(big_value)
    finally:
        fault.heal(ctx)
        client.close()
    with redis.Redis.from_url(stack.endpoints.redis_proxied, socket_timeout=5) as fresh:
        assert len(fresh.get(big_value)) == 50_000


def _quit_until_closed_s(url: str) -> float:
    """Send QUIT on a fresh connection; seconds until the client sees the close."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
        sock.sendall(b"PING\r\n")
        assert sock.recv(64) == b"+PONG\r\n"
        started = time.perf_counter()
        sock.sendall(b"QUIT\r\n")
        while sock.recv(64):
            pass
        return time.perf_counter() - started


def test_slow_close_delays_the_close_of_a_connection(stack, ctx):
    before = _quit_until_closed_s(stack.endpoints.redis_proxied)
    fault = SlowCloseFault(link="redis", delay_ms=400)
    fault.inject(ctx)
    try:
        during = _quit_until_closed_s(stack.endpoints.redis_proxied)
    finally:
        fault.heal(ctx)
    assert during >= 0.4
    assert during - before >= 0.3


def test_healing_a_toxic_that_is_gone_is_fine_and_injecting_twice_replaces_it(stack, ctx):
    first = LatencyFault(link="postgres", latency_ms=10)
    second = LatencyFault(link="postgres", latency_ms=20)
    first.inject(ctx)
    second.inject(ctx)
    (toxic,) = stack.toxiproxy.proxies()["postgres"].toxics
    assert toxic.attributes["latency"] == 20
    second.heal(ctx)
    first.heal(ctx)
    assert stack.toxiproxy.proxies()["postgres"].toxics == ()
