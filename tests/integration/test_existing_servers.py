"""DATABASE_URL, REDIS_URL and TOXIPROXY_URL: the stack uses servers that already run."""

import time

import psycopg
import pytest
import redis

from stack import StackConfig, links, start_stack
from stack.ports import ephemeral_port
from stack.toxiproxy import ToxiproxyServer, find_toxiproxy


@pytest.fixture
def own_toxiproxy(tmp_path):
    config = StackConfig.from_env(tmp_path)
    server = ToxiproxyServer(
        find_toxiproxy(config.cache_dir, configured=config.toxiproxy_server),
        port=ephemeral_port(),
        log_dir=tmp_path,
    )
    server.launch()
    try:
        server.wait_ready(time.monotonic() + 10)
        yield server
    finally:
        server.stop()


def test_existing_servers_are_used_through_new_links_and_left_running(
    stack, own_toxiproxy, tmp_path
):
    config = StackConfig.from_env(
        tmp_path / "run",
        database_url=stack.endpoints.postgres,
        redis_url=stack.endpoints.redis,
        toxiproxy_url=own_toxiproxy.url,
    )
    with start_stack(config) as second:
        sources = {name: info.source for name, info in second.services.items()}
        assert sources["postgres"] == "existing server (DATABASE_URL)"
        assert sources["redis"] == "existing server (REDIS_URL)"
        assert sources["toxiproxy"] == "existing server (TOXIPROXY_URL)"
        assert set(own_toxiproxy.client.proxies()) == set(links.LINKS)
        with redis.Redis.from_url(second.endpoints.redis_proxied) as client:
            assert client.ping()
        with psycopg.connect(second.endpoints.postgres_proxied) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    assert own_toxiproxy.client.proxies() == {}  # our links are removed at stop
    with redis.Redis.from_url(stack.endpoints.redis) as client:
        assert client.ping()  # the existing server was not stopped
