"""The worker's Prometheus metrics: batches and jobs done, the queue's depth, ``/metrics``.

``WorkerMetrics`` keeps its own registry, so several workers (or tests) in one process never
collide in the global one. ``refresh_queue_metrics`` measures the queue on a connection of
its own, and ``start_metrics_server`` serves the text exposition.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final

import psycopg
from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from psycopg import AsyncConnection

from ..retrieval.documents import QueueStats, queue_stats
from .connection import limited
from .settings import WorkerSettings
from .waiting import sleep_unless_stopped


log = logging.getLogger(__name__)

OUTCOMES: Final = ("ok", "provider_unavailable", "error")
BATCH_BUCKETS_S: Final = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class WorkerMetrics:
    """The worker's Prometheus metrics, in a registry of their own (never the global one)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        prefix = "meltproof_embedding_"
        self._depth = Gauge(prefix + "queue_depth", "Jobs to do.", registry=self.registry)
        self._age = Gauge(
            prefix + "queue_oldest_age_seconds", "Age of the oldest job to do.",
            registry=self.registry,
        )  # fmt: skip
        self._dead = Gauge(
            prefix + "jobs_dead", "Jobs given up after max_attempts failures.",
            registry=self.registry,
        )  # fmt: skip
        self._done = Counter(prefix + "jobs_done", "Jobs completed.", registry=self.registry)
        batches = Counter(
            prefix + "batches", "Batches by outcome.", ("outcome",), registry=self.registry
        )
        self._batches = {outcome: batches.labels(outcome) for outcome in OUTCOMES}
        self._seconds = Histogram(
            prefix + "batch_seconds", "Time to take, embed and store one batch.",
            buckets=BATCH_BUCKETS_S, registry=self.registry,
        )  # fmt: skip

    def queue(self, stats: QueueStats) -> None:
        """Record the queue as last measured."""
        self._depth.set(stats.depth)
        self._age.set(stats.oldest_age_s)
        self._dead.set(stats.dead)

    def batch(self, *, outcome: str, done: int, duration_s: float) -> None:
        """Record one batch that took jobs or failed."""
        self._batches[outcome].inc()
        self._done.inc(done)
        self._seconds.observe(duration_s)

    def render(self) -> bytes:
        """The Prometheus text exposition."""
        return generate_latest(self.registry)


async def refresh_queue_metrics(
    settings: WorkerSettings, metrics: WorkerMetrics, *, stop: asyncio.Event, interval_s: float
) -> None:
    """Measure the queue every ``interval_s`` until ``stop``, on a connection of its own."""
    while not stop.is_set():
        try:
            async with await AsyncConnection.connect(
                limited(settings.dsn), autocommit=True
            ) as conn:
                while not stop.is_set():
                    metrics.queue(await queue_stats(conn, max_attempts=settings.max_attempts))
                    await sleep_unless_stopped(stop, interval_s)
        except psycopg.Error as exc:
            log.warning("cannot measure the embedding queue: %s", exc)
            await sleep_unless_stopped(stop, interval_s)


async def start_metrics_server(metrics: WorkerMetrics, *, host: str, port: int) -> web.AppRunner:
    """Serve ``metrics`` on ``http://host:port/metrics``; the runner's ``cleanup()`` stops it."""

    async def scrape(_: web.Request) -> web.Response:
        return web.Response(
            body=metrics.render(), headers={"Content-Type": CONTENT_TYPE_PLAIN_0_0_4}
        )

    app = web.Application()
    app.router.add_get("/metrics", scrape)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
