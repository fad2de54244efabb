"""The stack on the container backend: the same links and records, ports on loopback only,
process faults on containers, and no container left once it stops."""

import json
import urllib.request
from collections.abc import Iterator
from contextlib import closing

import docker
import psycopg
import pytest
import redis
from containers_support import require_container_backend

from faults import FaultContext, FreezeFault, KillRestartFault
from stack import Stack, StackConfig, links, start_stack
from stack.containers.images import IMAGES
from stack.containers.labels import STACK


pytestmark = pytest.mark.containers


@pytest.fixture
def stack(meltproof_container_stack: Stack) -> Iterator[Stack]:
    """The session's container stack, its links reset and Redis emptied after the test."""
    yield meltproof_container_stack
    meltproof_container_stack.toxiproxy.reset()
    with redis.Redis.from_url(meltproof_container_stack.endpoints.redis, socket_timeout=5) as r:
        r.flushall()


@pytest.fixture
def ctx(stack: Stack) -> Iterator[FaultContext]:
    """The stack's faults context; every container runs again after the test."""
    context = FaultContext.of_stack(stack)
    yield context
    for process in context.processes.values():
        process.thaw()
        if not process.running():
            process.start(60)


@pytest.fixture(scope="module")
def engine() -> Iterator[docker.DockerClient]:
    require_container_backend()
    with closing(docker.from_env()) as client:
        yield client


def _containers(engine: docker.DockerClient, stack_id: str) -> list:
    return engine.containers.list(all=True, filters={"label": f"{STACK}={stack_id}"})


def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)


def test_stack_json_records_the_backend_and_each_service_s_image(stack):
    recorded = json.loads((stack.run_dir / "stack.json").read_text())
    assert recorded["backend"] == "containers"
    assert recorded["stack_id"] == stack.stack_id
    assert set(recorded["images"]) == {"postgres", "redis", "toxiproxy"}
    for service, image in recorded["images"].items():
        assert image["name"] == IMAGES[service]
        assert image["id"].startswith("sha256:")
        assert f"image {IMAGES[service]}" in recorded["services"][service]["source"]
    assert recorded["services"]["postgres"]["version"].startswith("PostgreSQL ")
    assert ", pgvector 0." in recorded["services"]["postgres"]["version"]
    assert recorded["services"]["redis"]["version"].startswith("Redis 7.")
    assert set(recorded["links"]) == set(links.LINKS)


def test_ports_are_published_on_loopback_only(stack, engine):
    containers = {c.labels["meltproof.service"]: c for c in _containers(engine, stack.stack_id)}
    assert set(containers) == {"postgres", "redis", "toxiproxy"}
    for service in ("postgres", "redis"):
        bindings = containers[service].attrs["HostConfig"]["PortBindings"]
        assert [b["HostIp"] for binding in bindings.values() for b in binding] == ["127.0.0.1"]
    assert containers["toxiproxy"].attrs["HostConfig"]["NetworkMode"] == "host"
    for proxy in stack.toxiproxy.proxies().values():
        assert proxy.listen.startswith("127.0.0.1:")


def test_every_link_reaches_its_service(stack):
    with _redis(stack.endpoints.redis_proxied) as client:
        assert client.ping()
    with psycopg.connect(stack.endpoints.postgres_proxied, connect_timeout=5) as conn:
        distance = conn.execute("SELECT '[1,2]'::vector <-> '[1,3]'::vector").fetchone()
    assert distance == (1.0,)
    url = f"{stack.endpoints.provider_proxied}/healthz"
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback
        assert response.status == 200


def test_a_frozen_redis_container_answers_nothing_until_thawed(stack, ctx):
    fault = FreezeFault(service="redis")
    with _redis(stack.endpoints.redis) as client:
        client.set("faults:kept", "1")
        fault.inject(ctx)
        try:
            with pytest.raises(redis.TimeoutError):
                client.ping()
        finally:
            fault.heal(ctx)
    with _redis(stack.endpoints.redis_proxied) as client:
        assert client.get("faults:kept") == b"1"


def test_a_killed_redis_container_comes_back_empty_on_its_port(stack, ctx):
    fault = KillRestartFault(service="redis")
    with _redis(stack.endpoints.redis) as client:
        client.set("faults:before-kill", "1")
    fault.inject(ctx)
    try:
        assert not ctx.processes["redis"].running()
        with _redis(stack.endpoints.redis) as client, pytest.raises(redis.ConnectionError):
            client.ping()
    finally:
        fault.heal(ctx)
    with _redis(stack.endpoints.redis_proxied) as client:
        assert client.ping()
        assert client.get("faults:before-kill") is None


def test_a_killed_postgres_container_comes_back_with_its_data(stack, ctx):
    with psycopg.connect(stack.endpoints.postgres, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS kept (n int)")
        conn.execute("INSERT INTO kept VALUES (1)")
        conn.execute("CHECKPOINT")
    fault = KillRestartFault(service="postgres")
    fault.inject(ctx)
    try:
        assert not ctx.processes["postgres"].running()
    finally:
        fault.heal(ctx)
    with psycopg.connect(stack.endpoints.postgres_proxied, connect_timeout=5) as conn:
        assert conn.execute("SELECT count(*) FROM kept").fetchone() == (1,)
        conn.execute("DROP TABLE kept")
        conn.commit()


def test_a_stopped_stack_leaves_no_container(tmp_path, engine):
    config = StackConfig.from_env(tmp_path, start_gateway=False, backend="containers")
    stack = start_stack(config)
    try:
        assert stack.stack_id is not None
        assert len(_containers(engine, stack.stack_id)) == 3
    finally:
        stack.stop()
    assert _containers(engine, stack.stack_id) == []
    for service in ("postgres", "redis", "toxiproxy"):
        assert (tmp_path / "logs" / f"{service}.log").is_file()
