"""The embedding outbox and its worker against real PostgreSQL (pgvector) and the provider.

The module works in a database of its own, created and dropped here. A test trigger logs
every write of ``chunks.embedding``, so "every job done exactly once" is checked on the
table itself: each chunk written once, with the provider's vector for its current content.
"""

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import numpy as np
import psycopg
import pytest
from pgvector.psycopg import register_vector_async
from psycopg import sql

from reference_impl.embedding_worker import (
    APPLICATION_NAME,
    ProviderUnavailable,
    SchemaMismatchError,
    WorkerMetrics,
    WorkerSettings,
    refresh_queue_metrics,
    run_batch,
    run_worker,
)
from reference_impl.retrieval.documents import (
    JOBS_CHANNEL,
    QueueStats,
    content_sha256,
    queue_stats,
    write_chunk,
)
from reference_impl.retrieval.migrate import migrate
from stack import Stack
from stack.ports import ephemeral_port


pytestmark = pytest.mark.integration

MODEL = "text-embedding-3-small"
DIMENSIONS = 64
TENANTS = ("acme", "globex")
REPO = Path(__file__).resolve().parents[2]
WAIT_S = 20.0

EMBEDDING_LOG = """
CREATE TABLE embedding_log (chunk_id bigint NOT NULL, sha bytea, matches boolean NOT NULL);
CREATE FUNCTION log_embedding() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO embedding_log
    VALUES (NEW.id, NEW.embedded_sha256, NEW.embedded_sha256 = NEW.content_sha256);
    RETURN NEW;
END $$;
CREATE TRIGGER log_embedding AFTER UPDATE OF embedding ON chunks
    FOR EACH ROW EXECUTE FUNCTION log_embedding();
"""


@pytest.fixture(scope="module")
def database(meltproof_stack: Stack) -> Iterator[str]:
    """A fresh, migrated database for this module, dropped at the end."""
    admin = meltproof_stack.endpoints.postgres
    name = f"w_{uuid.uuid4().hex}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    dsn = psycopg.conninfo.make_conninfo(admin, dbname=name)
    try:
        asyncio.run(migrate(dsn, dimensions=DIMENSIONS))
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(EMBEDDING_LOG)
            for tenant in TENANTS:
                conn.execute("INSERT INTO tenants VALUES (%s, %s)", (tenant, tenant.title()))
        yield dsn
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture
def dsn(database: str, stack: Stack) -> str:
    """The module's database, emptied; the provider is reset after the test (``stack``)."""
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("TRUNCATE chunks, embedding_jobs, embedding_log")
    return database


@pytest.fixture
async def conn(dsn: str) -> AsyncIterator[psycopg.AsyncConnection]:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as connection:
        await register_vector_async(connection)
        yield connection


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(headers={"Authorization": "Bearer sk-test"}) as session:
        yield session


def settings(stack: Stack, dsn: str, **changes) -> WorkerSettings:
    fields = {"dimensions": DIMENSIONS, "batch_size": 64, "idle_poll_s": 0.05} | changes
    return WorkerSettings(dsn=dsn, provider_url=stack.endpoints.provider, **fields)


def content(chunk_id: int, version: str = "v1") -> str:
    return f"Candidate note {chunk_id} ({version}): led the migration of a billing platform."


async def write_chunks(conn, chunk_ids, *, version: str = "v1") -> None:
    for chunk_id in chunk_ids:
        tenant = TENANTS[chunk_id % len(TENANTS)]
        await write_chunk(
            conn,
            chunk_id=chunk_id,
            tenant_id=tenant,
            candidate_id=None,
            content=content(chunk_id, version),
        )


async def provider_vectors(stack: Stack, texts: list[str]) -> tuple[list[np.ndarray], int]:
    """What the provider answers for ``texts`` (float format), and their prompt tokens."""
    body = {"model": MODEL, "input": texts, "dimensions": DIMENSIONS}
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{stack.endpoints.provider}/v1/embeddings",
            json=body,
            headers={"Authorization": "Bearer sk-test", "X-Tenant-Id": "reference"},
        ) as response,
    ):
        assert response.status == 200
        payload = await response.json()
    vectors = [np.asarray(item["embedding"], dtype=np.float32) for item in payload["data"]]
    return vectors, payload["usage"]["prompt_tokens"]


async def count(conn, table: str) -> int:
    cursor = await conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
    return (await cursor.fetchone())[0]


async def embed_writes(conn) -> dict[int, int]:
    """How many times each chunk's embedding was written."""
    cursor = await conn.execute("SELECT chunk_id, count(*) FROM embedding_log GROUP BY chunk_id")
    return dict(await cursor.fetchall())


async def assert_each_chunk_embedded_once(stack: Stack, conn, chunk_ids) -> int:
    """Every chunk holds the provider's vector for its content, written exactly once, and
    the queue is empty; returns the prompt tokens of all the contents."""
    cursor = await conn.execute(
        "SELECT id, content, content_sha256, embedded_sha256, embedding FROM chunks ORDER BY id"
    )
    rows = await cursor.fetchall()
    assert [row[0] for row in rows] == sorted(chunk_ids)
    expected, prompt_tokens = await provider_vectors(stack, [row[1] for row in rows])
    for (chunk_id, text, sha, embedded_sha, embedding), vector in zip(rows, expected, strict=True):
        assert sha == content_sha256(text)
        assert embedded_sha == sha, f"chunk {chunk_id} is not embedded from its content"
        assert np.array_equal(embedding.to_numpy(), vector), f"chunk {chunk_id}: another vector"
    assert await count(conn, "embedding_jobs") == 0
    assert await embed_writes(conn) == dict.fromkeys(chunk_ids, 1)
    cursor = await conn.execute("SELECT count(*) FROM embedding_log WHERE NOT matches")
    assert (await cursor.fetchone())[0] == 0
    return prompt_tokens


async def wait_until_drained(conn, *, timeout_s: float = WAIT_S) -> None:
    async with asyncio.timeout(timeout_s):
        while (await queue_stats(conn)).depth:  # noqa: ASYNC110 - polling the database
            await asyncio.sleep(0.05)


async def drain(worker_settings: WorkerSettings, conn, *, workers: int = 1) -> list[int]:
    """Run ``workers`` workers until the queue is empty; the jobs each one did."""
    stop = asyncio.Event()
    done = [0] * workers

    def counter(index: int):
        def on_batch(jobs: int) -> None:
            done[index] += jobs

        return on_batch

    tasks = [
        asyncio.create_task(run_worker(worker_settings, stop=stop, on_batch=counter(i)))
        for i in range(workers)
    ]
    try:
        await wait_until_drained(conn)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    return done


def model_stats(stack: Stack) -> dict:
    return stack.provider.stats()["models"].get(MODEL, {"requests": 0, "in_flight": 0})


async def test_a_chunk_and_its_job_commit_or_roll_back_together(conn, dsn):
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as listener:
        await listener.execute(sql.SQL("LISTEN {}").format(sql.Identifier(JOBS_CHANNEL)))
        async with conn.transaction():
            await write_chunks(conn, [1])
            assert await count(conn, "embedding_jobs") == 1
            raise psycopg.Rollback
        assert (await count(conn, "chunks"), await count(conn, "embedding_jobs")) == (0, 0)
        assert [n async for n in listener.notifies(timeout=0.2)] == []

        async with conn.transaction():  # the caller's transaction: the job commits with it
            enqueued = await write_chunk(
                conn, chunk_id=1, tenant_id="acme", candidate_id=None, content=content(1)
            )
            assert [n async for n in listener.notifies(timeout=0.2)] == []
        notes = [n async for n in listener.notifies(timeout=WAIT_S, stop_after=1)]
    assert enqueued
    assert (await count(conn, "chunks"), await count(conn, "embedding_jobs")) == (1, 1)
    assert [n.channel for n in notes] == [JOBS_CHANNEL]


async def test_a_write_never_moves_a_chunk_to_another_tenant(conn):
    await write_chunk(conn, chunk_id=11, tenant_id="acme", candidate_id=None, content=content(11))
    with pytest.raises(ValueError, match="another tenant"):
        await write_chunk(conn, chunk_id=11, tenant_id="globex", candidate_id=None, content="x")
    row = await (
        await conn.execute("SELECT tenant_id, content FROM chunks WHERE id = 11")
    ).fetchone()
    assert row == ("acme", content(11))


async def test_a_job_is_enqueued_unless_the_content_is_already_embedded(stack, dsn, conn, http):
    write = {"chunk_id": 7, "tenant_id": "acme", "candidate_id": None}
    assert await write_chunk(conn, **write, content=content(7))
    assert await write_chunk(conn, **write, content=content(7))  # not embedded yet
    assert await run_batch(conn, http, settings(stack, dsn)) == 2
    assert model_stats(stack)["requests"] == 1  # the duplicate jobs shared one input
    cursor = await conn.execute("SELECT embedding FROM chunks")
    (first_vector,) = await cursor.fetchone()

    assert not await write_chunk(conn, **write, content=content(7))
    assert await count(conn, "embedding_jobs") == 0

    assert await write_chunk(conn, **write, content=content(7, "v2"))
    cursor = await conn.execute(
        "SELECT embedding, embedded_sha256 = content_sha256 FROM chunks WHERE id = 7"
    )
    kept_vector, current = await cursor.fetchone()
    assert np.array_equal(kept_vector.to_numpy(), first_vector.to_numpy())  # kept meanwhile
    assert not current


async def test_one_worker_drains_the_queue_per_tenant(stack, dsn, conn):
    chunk_ids = range(1, 301)
    await write_chunks(conn, chunk_ids)
    assert sum(await drain(settings(stack, dsn), conn)) == 300
    tenants = stack.provider.stats()["tenants"]
    await assert_each_chunk_embedded_once(stack, conn, chunk_ids)
    assert set(TENANTS) <= set(tenants)
    batches = -(-300 // 64)
    assert tenants["acme"]["requests"] == tenants["globex"]["requests"] == batches


async def test_two_workers_share_the_queue_without_doing_a_job_twice(stack, dsn, conn):
    chunk_ids = range(1, 601)
    await write_chunks(conn, chunk_ids)
    done = await drain(settings(stack, dsn, batch_size=20), conn, workers=2)
    sent_tokens = model_stats(stack)["prompt_tokens"]
    assert sum(done) == 600
    assert min(done) > 0, f"one worker did nothing: {done}"
    all_tokens = await assert_each_chunk_embedded_once(stack, conn, chunk_ids)
    assert sent_tokens == all_tokens  # every content went to the provider exactly once


async def test_an_idle_worker_wakes_at_a_write_and_at_stop_not_at_its_next_poll(stack, dsn, conn):
    batches: asyncio.Queue[int] = asyncio.Queue()
    stop = asyncio.Event()
    worker_settings = settings(stack, dsn, idle_poll_s=3600)
    worker = asyncio.create_task(
        run_worker(worker_settings, stop=stop, on_batch=batches.put_nowait)
    )
    try:
        async with asyncio.timeout(WAIT_S):
            await write_chunks(conn, [1])
            assert await batches.get() == 1
            await asyncio.sleep(0.2)  # idle now, listening
            await write_chunks(conn, [2])
            assert await batches.get() == 1
    finally:
        stop.set()
        async with asyncio.timeout(WAIT_S):
            await worker
    await assert_each_chunk_embedded_once(stack, conn, [1, 2])


async def test_a_worker_reconnects_when_its_session_is_killed(stack, dsn, conn):
    batches: asyncio.Queue[int] = asyncio.Queue()
    stop = asyncio.Event()
    worker_settings = settings(stack, dsn, idle_poll_s=3600)
    worker = asyncio.create_task(
        run_worker(worker_settings, stop=stop, on_batch=batches.put_nowait)
    )
    try:
        async with asyncio.timeout(WAIT_S):
            await write_chunks(conn, [1])
            assert await batches.get() == 1
            cursor = await conn.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE application_name = %s AND datname = current_database()",
                (APPLICATION_NAME,),
            )
            assert (await cursor.fetchone())[0] == 1
            await write_chunks(conn, [2])
            assert await batches.get() == 1
    finally:
        stop.set()
        async with asyncio.timeout(WAIT_S):
            await worker
    await assert_each_chunk_embedded_once(stack, conn, [1, 2])


async def test_a_worker_killed_mid_batch_loses_and_duplicates_nothing(stack, dsn, conn, tmp_path):
    chunk_ids = range(1, 121)
    await write_chunks(conn, chunk_ids)
    stack.provider.set_fault({"latency_multiplier": 50}, model=MODEL)  # ~2 s per call
    metrics_port = ephemeral_port()
    command = [
        sys.executable, "-m", "reference_impl.embedding_worker",
        "--dsn", dsn, "--provider-url", stack.endpoints.provider,
        "--dimensions", str(DIMENSIONS), "--batch-size", "50",
        "--metrics-port", str(metrics_port), "--stats-interval-s", "0.2",
    ]  # fmt: skip
    with (tmp_path / "worker.log").open("wb") as log:
        worker = subprocess.Popen(  # noqa: ASYNC220 - returns at once
            command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        async with asyncio.timeout(WAIT_S):
            while model_stats(stack)["in_flight"] < 1:  # noqa: ASYNC110 - polling the provider
                await asyncio.sleep(0.02)
            scraped = await scrape_until(metrics_port, "meltproof_embedding_queue_depth 120.0")
        os.kill(worker.pid, signal.SIGKILL)
    finally:
        worker.kill()
        worker.wait()
    assert "meltproof_embedding_jobs_done_total 0.0" in scraped
    assert worker.returncode == -signal.SIGKILL
    assert await count(conn, "embedding_jobs") == 120  # the batch in flight never committed
    assert await embed_writes(conn) == {}

    stack.provider.clear_faults()
    await drain(settings(stack, dsn), conn)  # waits for the dead session's locks to go
    await assert_each_chunk_embedded_once(stack, conn, chunk_ids)
    assert await count(conn, "chunks") == 120


async def test_sigterm_lets_the_batch_in_flight_finish(stack, dsn, conn, tmp_path):
    await write_chunks(conn, range(1, 11))
    stack.provider.set_fault({"latency_multiplier": 25}, model=MODEL)  # ~1 s per call
    command = [
        sys.executable, "-m", "reference_impl.embedding_worker", "--dsn", dsn,
        "--provider-url", stack.endpoints.provider, "--dimensions", str(DIMENSIONS),
        "--batch-size", "4", "--concurrency", "2",
    ]  # fmt: skip
    with (tmp_path / "worker.log").open("wb") as log:
        worker = subprocess.Popen(  # noqa: ASYNC220 - returns at once
            command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        async with asyncio.timeout(WAIT_S):
            while model_stats(stack)["in_flight"] < 2:  # noqa: ASYNC110 - polling the provider
                await asyncio.sleep(0.02)
            worker.send_signal(signal.SIGTERM)
            while worker.poll() is None:  # noqa: ASYNC110 - polling the child
                await asyncio.sleep(0.02)
    finally:
        worker.kill()
        worker.wait()
    assert worker.returncode == 0, (tmp_path / "worker.log").read_text()
    assert len(await embed_writes(conn)) == 8  # both batches in flight, nothing more
    assert await count(conn, "embedding_jobs") == 2


async def scrape_until(port: int, line: str) -> str:
    """The worker's /metrics once it shows ``line``."""
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.get(f"http://127.0.0.1:{port}/metrics") as response:
                    text = await response.text()
                    if line in text.splitlines():
                        return text
            except aiohttp.ClientConnectionError:
                pass  # not listening yet
            await asyncio.sleep(0.05)


async def test_a_stale_job_does_not_overwrite_the_newer_content(stack, dsn, conn, http):
    """Worker one reads v1 and calls the provider; meanwhile the chunk becomes v2 and worker
    two embeds v2. Worker one's v1 vector must not land on top of it."""
    await write_chunks(conn, [5])
    worker_settings = settings(stack, dsn)

    calls = []

    async def meanwhile(*_) -> None:
        calls.append("worker one")
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as other:
            await write_chunks(other, [5], version="v2")
            await register_vector_async(other)
            assert await run_batch(other, http, worker_settings) == 1  # skips the locked job

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(meanwhile)
    async with aiohttp.ClientSession(
        headers={"Authorization": "Bearer sk-test"}, trace_configs=[trace]
    ) as traced:
        assert await run_batch(conn, traced, worker_settings) == 1
    assert calls == ["worker one"]
    await assert_each_chunk_embedded_once(stack, conn, [5])
    cursor = await conn.execute("SELECT content FROM chunks")
    assert (await cursor.fetchone())[0] == content(5, "v2")


async def test_a_rejected_input_is_isolated_then_given_up(stack, dsn, conn, http):
    await write_chunks(conn, [1, 3, 5])  # all of tenant globex
    too_long = " word" * 9000  # over the provider's 8192 tokens per input
    await write_chunk(conn, chunk_id=2, tenant_id="globex", candidate_id=None, content=too_long)
    worker_settings = settings(stack, dsn, max_attempts=2)

    assert await run_batch(conn, http, worker_settings) == 0  # one call for the four: 400
    assert await run_batch(conn, http, worker_settings) == 3  # one call each: innocents pass
    assert await run_batch(conn, http, worker_settings) == 0  # the bad one is given up
    assert await queue_stats(conn, max_attempts=2) == QueueStats(depth=0, oldest_age_s=0, dead=1)
    cursor = await conn.execute("SELECT chunk_id, attempts FROM embedding_jobs")
    assert await cursor.fetchall() == [(2, 2)]
    assert set(await embed_writes(conn)) == {1, 3, 5}


async def test_a_provider_outage_backs_off_without_spending_attempts(stack, dsn, conn, http):
    await write_chunks(conn, [1, 2])
    stack.provider.set_fault({"error_rates": {503: 1.0}}, model=MODEL)
    with pytest.raises(ProviderUnavailable) as raised:
        await run_batch(conn, http, settings(stack, dsn))
    assert raised.value.done == 0
    cursor = await conn.execute("SELECT attempts FROM embedding_jobs")
    assert await cursor.fetchall() == [(0,), (0,)]
    stack.provider.clear_faults()
    assert await run_batch(conn, http, settings(stack, dsn)) == 2


async def test_queue_stats_and_metrics_report_depth_age_and_dead_jobs(stack, dsn, conn):
    await write_chunks(conn, [1, 2, 3])
    await conn.execute(
        "UPDATE embedding_jobs SET enqueued_at = now() - interval '10 seconds' WHERE chunk_id = 1"
    )
    await conn.execute("UPDATE embedding_jobs SET attempts = 5 WHERE chunk_id = 3")
    stats = await queue_stats(conn)
    assert (stats.depth, stats.dead) == (2, 1)
    assert 10.0 <= stats.oldest_age_s < 60.0

    metrics, stop = WorkerMetrics(), asyncio.Event()
    refresher = asyncio.create_task(
        refresh_queue_metrics(settings(stack, dsn), metrics, stop=stop, interval_s=0.05)
    )
    try:
        async with asyncio.timeout(WAIT_S):
            while b"meltproof_embedding_queue_depth 2.0" not in metrics.render():  # noqa: ASYNC110
                await asyncio.sleep(0.02)
    finally:
        stop.set()
        await refresher
    assert b"meltproof_embedding_jobs_dead 1.0" in metrics.render()


async def test_a_worker_refuses_a_database_built_for_another_size(stack, dsn):
    with pytest.raises(SchemaMismatchError, match="vector\\(64\\)"):
        await run_worker(settings(stack, dsn, dimensions=32), stop=asyncio.Event())
