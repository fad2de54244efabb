"""``run_worker`` drains the queue batch after batch; ``serve`` runs several and ``/metrics``.

A worker reconnects after a broken connection, backs off after a failed batch (at least the
provider's Retry-After, counting no attempt), and when the queue is empty waits for a job
notification or its poll interval. ``stop`` lets the batch in hand finish and ends any wait.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable

import aiohttp
import psycopg
from aiohttp import web
from psycopg import AsyncConnection
from psycopg.rows import TupleRow

from .batch import run_batch
from .connection import connect
from .metrics import WorkerMetrics, refresh_queue_metrics, start_metrics_server
from .provider import ProviderUnavailable
from .settings import WorkerSettings
from .waiting import forget_notifications, sleep_unless_stopped, wait_for_jobs


log = logging.getLogger(__name__)


async def run_worker(
    settings: WorkerSettings,
    *,
    stop: asyncio.Event,
    on_batch: Callable[[int], None] | None = None,
    metrics: WorkerMetrics | None = None,
    rng: random.Random | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> None:
    """Drain the queue until ``stop`` is set, finishing the batch in hand; reconnects on errors.

    ``on_batch`` gets the jobs done by each batch that did any. Raises ``SchemaMismatchError``.
    """
    rng = rng or random.Random()  # noqa: S311 - jitter, not secrets
    failures = 0
    idle = False
    conn: AsyncConnection[TupleRow] | None = None
    headers = {"Authorization": f"Bearer {settings.provider_api_key}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        try:
            while not stop.is_set():
                done, outcome, retry_after = 0, "ok", None
                started = clock()
                try:
                    if conn is None or conn.closed:
                        conn = await connect(settings)
                    elif idle:
                        await wait_for_jobs(conn, settings.idle_poll_s, stop)
                        if stop.is_set():
                            break
                    await forget_notifications(conn)
                    started = clock()
                    done = await run_batch(conn, http, settings)
                except ProviderUnavailable as exc:
                    done, outcome, retry_after = exc.done, "provider_unavailable", exc.retry_after_s
                    log.warning("embedding provider unavailable: %s", exc)
                except psycopg.Error as exc:
                    outcome = "error"
                    log.warning("embedding worker database error: %s", exc)
                    if conn is not None and conn.broken:
                        await conn.close()
                if metrics is not None and (done or outcome != "ok"):
                    metrics.batch(outcome=outcome, done=done, duration_s=clock() - started)
                if done and on_batch is not None:
                    on_batch(done)
                failures = 0 if outcome == "ok" else failures + 1
                idle = done == 0 and outcome == "ok"
                if failures:
                    delay_s = max(settings.backoff.delay_s(failures, rng), retry_after or 0.0)
                    await sleep_unless_stopped(stop, delay_s)
        finally:
            if conn is not None:
                await conn.close()


async def serve(
    settings: WorkerSettings,
    *,
    stop: asyncio.Event,
    concurrency: int = 1,
    metrics_host: str = "127.0.0.1",
    metrics_port: int | None = None,
    stats_interval_s: float = 5.0,
) -> None:
    """Run ``concurrency`` workers (a connection each) and the metrics endpoint until ``stop``."""
    metrics = WorkerMetrics()
    runner: web.AppRunner | None = None
    if metrics_port is not None:
        runner = await start_metrics_server(metrics, host=metrics_host, port=metrics_port)
    try:
        async with asyncio.TaskGroup() as tasks:
            for _ in range(concurrency):
                tasks.create_task(run_worker(settings, stop=stop, metrics=metrics))
            if runner is not None:
                tasks.create_task(
                    refresh_queue_metrics(settings, metrics, stop=stop, interval_s=stats_interval_s)
                )
    finally:
        if runner is not None:
            await runner.cleanup()
