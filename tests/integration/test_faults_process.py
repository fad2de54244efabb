"""Process faults on the stack's own Redis and PostgreSQL: down, then answering again."""

import asyncio
import time
import uuid

import psycopg
import pytest
import redis
from psycopg import sql

from faults import FaultContext, FaultEvent, FreezeFault, KillRestartFault, run_timeline


@pytest.fixture
def ctx(stack):
    """The stack's faults context; every process runs again after the test, even a failed one."""
    context = FaultContext.of_stack(stack)
    if set(context.processes) != {"redis", "postgres"}:
        pytest.skip("process faults need the stack's own Redis and PostgreSQL")
    yield context
    for process in context.processes.values():
        process.thaw()
        if not process.running():
            process.start(60)


def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)


def test_a_frozen_redis_answers_nothing_until_thawed(stack, ctx):
    fault = FreezeFault(service="redis")
    with _redis(stack.endpoints.redis) as client:
        assert client.ping()
        fault.inject(ctx)
        try:
            with pytest.raises(redis.TimeoutError):
                client.ping()
        finally:
            fault.heal(ctx)
    with _redis(stack.endpoints.redis) as client:
        assert client.ping()


def test_a_killed_redis_is_down_then_answers_again_empty(stack, ctx):
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
    assert ctx.processes["redis"].running()
    with _redis(stack.endpoints.redis_proxied) as client:
        assert client.ping()
        assert client.get("faults:before-kill") is None  # no persistence: that is the fault


def test_a_frozen_postgres_accepts_no_connection_until_thawed(stack, ctx):
    fault = FreezeFault(service="postgres")
    fault.inject(ctx)
    try:
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(stack.endpoints.postgres, connect_timeout=2)
    finally:
        fault.heal(ctx)
    with psycopg.connect(stack.endpoints.postgres, connect_timeout=5) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_a_killed_postgres_is_down_then_back_with_its_data(stack, ctx):
    table = sql.Identifier(f"faults_probe_{uuid.uuid4().hex[:8]}")
    with psycopg.connect(stack.endpoints.postgres, autocommit=True) as conn:
        conn.execute("SET synchronous_commit TO on")  # committed for sure before the kill
        conn.execute(sql.SQL("CREATE TABLE {} (x int)").format(table))
        conn.execute(sql.SQL("INSERT INTO {} VALUES (42)").format(table))
    held = psycopg.connect(stack.endpoints.postgres, autocommit=True)  # a pooled connection
    fault = KillRestartFault(service="postgres")
    fault.inject(ctx)
    try:
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(stack.endpoints.postgres, connect_timeout=2)
        with pytest.raises(psycopg.OperationalError):
            held.execute("SELECT 1")
    finally:
        held.close()
        fault.heal(ctx)
    with psycopg.connect(stack.endpoints.postgres_proxied, autocommit=True) as conn:
        assert conn.execute(sql.SQL("SELECT x FROM {}").format(table)).fetchone() == (42,)
        conn.execute(sql.SQL("DROP TABLE {}").format(table))


def test_a_server_restarted_by_a_timeline_outlives_the_timeline_s_threads(stack, ctx):
    """The restart runs in a worker thread of the timeline's event loop, which ends with the
    loop; the server must not die with it (the parent-death signal follows the thread)."""
    events = [
        FaultEvent.model_validate(
            {"at_s": 0, "for_s": 0.2, "fault": {"kind": "kill_restart", "service": "redis"}}
        )
    ]
    (record,) = asyncio.run(run_timeline(events, ctx, time_zero=time.time(), duration_s=1))
    assert record.error is None
    time.sleep(0.5)  # a child killed with its spawning thread would be gone by now
    assert ctx.processes["redis"].running()
    with _redis(stack.endpoints.redis) as client:
        assert client.ping()
