"""The worker's command line: ``python -m reference_impl.embedding_worker``, ``meltproof worker``.

``worker`` builds ``WorkerSettings`` from the options (a usage error when they are invalid),
runs ``serve`` until SIGINT/SIGTERM (the batches in hand finish first) and exits 2 when the
database's ``chunks.embedding`` does not fit ``--dimensions``.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

import click

from ..retrieval.documents import DEFAULT_MAX_ATTEMPTS
from .connection import SchemaMismatchError
from .settings import WorkerSettings
from .worker import serve


DESCRIPTION = "Embed queued document chunks; SIGINT/SIGTERM stop after the current batch."
_POSITIVE_INT = click.IntRange(0, min_open=True)
_POSITIVE_FLOAT = click.FloatRange(0, min_open=True)


@click.command("worker", help=DESCRIPTION)
@click.option("--dsn", required=True, help="PostgreSQL connection string.")
@click.option("--provider-url", required=True, help="Base URL of the provider.")
@click.option(
    "--provider-api-key", default="sk-meltproof", show_default=True, help="Key sent upstream."
)
@click.option(
    "--model", default="text-embedding-3-small", show_default=True, help="Embedding model."
)
@click.option(
    "--dimensions", type=int, required=True, help="Embedding size (that of chunks.embedding)."
)
@click.option("--batch-size", type=int, default=64, show_default=True, help="Jobs per batch.")
@click.option(
    "--concurrency",
    type=_POSITIVE_INT,
    default=1,
    show_default=True,
    help="Workers in this process.",
)
@click.option(
    "--max-attempts",
    type=int,
    default=DEFAULT_MAX_ATTEMPTS,
    show_default=True,
    help="Failed attempts after which a job is left in the table, no longer taken.",
)
@click.option(
    "--idle-poll-s",
    type=float,
    default=0.5,
    show_default=True,
    help="How often an idle worker polls the queue, in seconds (a commit's NOTIFY wakes it too).",
)
@click.option(
    "--request-timeout-s",
    type=float,
    default=30.0,
    show_default=True,
    help="Longest embeddings call, in seconds.",
)
@click.option(
    "--metrics-host", default="127.0.0.1", show_default=True, help="Address of the /metrics server."
)
@click.option("--metrics-port", type=int, help="Serve Prometheus /metrics on this port.")
@click.option(
    "--stats-interval-s",
    type=_POSITIVE_FLOAT,
    default=5.0,
    show_default=True,
    help="How often the queue gauges are refreshed, in seconds.",
)
def worker(
    dsn: str,
    provider_url: str,
    provider_api_key: str,
    model: str,
    dimensions: int,
    batch_size: int,
    concurrency: int,
    max_attempts: int,
    idle_poll_s: float,
    request_timeout_s: float,
    metrics_host: str,
    metrics_port: int | None,
    stats_interval_s: float,
) -> None:
    """Drain the queue until SIGINT/SIGTERM."""
    try:
        settings = WorkerSettings(
            dsn=dsn,
            provider_url=provider_url,
            provider_api_key=provider_api_key,
            model=model,
            dimensions=dimensions,
            batch_size=batch_size,
            idle_poll_s=idle_poll_s,
            max_attempts=max_attempts,
            request_timeout_s=request_timeout_s,
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve(
            settings,
            stop=stop,
            concurrency=concurrency,
            metrics_host=metrics_host,
            metrics_port=metrics_port,
            stats_interval_s=stats_interval_s,
        )

    mismatch: BaseException | None = None
    try:
        asyncio.run(run())
    except* SchemaMismatchError as group:
        mismatch = group.exceptions[0]
    if mismatch is not None:
        click.echo(f"error: {mismatch}", err=True)
        sys.exit(2)
