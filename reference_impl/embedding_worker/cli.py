"""The worker's command line: ``python -m reference_impl.embedding_worker``, ``meltproof worker``.

``main`` builds ``WorkerSettings`` from the options (exit 2 when they are invalid), runs
``serve`` until SIGINT/SIGTERM (the batches in hand finish first) and exits 2 when the
database's ``chunks.embedding`` does not fit ``--dimensions``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from ..cli_options import CliOption, add_options
from ..retrieval.documents import DEFAULT_MAX_ATTEMPTS
from .connection import SchemaMismatchError
from .settings import WorkerSettings
from .worker import serve


DESCRIPTION = "Embed queued document chunks; SIGINT/SIGTERM stop after the current batch."
OPTIONS = (
    CliOption("--dsn", "PostgreSQL connection string.", required=True),
    CliOption("--provider-url", "Base URL of the provider.", required=True),
    CliOption("--provider-api-key", "Key sent upstream.", default="sk-meltproof"),
    CliOption("--model", "Embedding model.", default="text-embedding-3-small"),
    CliOption(
        "--dimensions", "Embedding size (that of chunks.embedding).", type=int, required=True
    ),
    CliOption("--batch-size", "Jobs per batch.", type=int, default=64),
    CliOption("--concurrency", "Workers in this process.", type=int, default=1, positive=True),
    CliOption(
        "--max-attempts",
        "Failed attempts after which a job is left in the table, no longer taken.",
        type=int,
        default=DEFAULT_MAX_ATTEMPTS,
    ),
    CliOption(
        "--idle-poll-s",
        "How often an idle worker polls the queue, in seconds (a commit's NOTIFY wakes it too).",
        type=float,
        default=0.5,
    ),
    CliOption(
        "--request-timeout-s", "Longest embeddings call, in seconds.", type=float, default=30.0
    ),
    CliOption("--metrics-host", "Address of the /metrics server.", default="127.0.0.1"),
    CliOption("--metrics-port", "Serve Prometheus /metrics on this port.", type=int),
    CliOption(
        "--stats-interval-s",
        "How often the queue gauges are refreshed, in seconds.",
        type=float,
        default=5.0,
        positive=True,
    ),
)


def parser(prog: str = "python -m reference_impl.embedding_worker") -> argparse.ArgumentParser:
    """The command line (``OPTIONS``)."""
    parser = argparse.ArgumentParser(prog=prog, description=DESCRIPTION)
    add_options(parser, OPTIONS)
    return parser


def main(
    argv: list[str] | None = None, *, prog: str = "python -m reference_impl.embedding_worker"
) -> int:
    """Parse the command line and drain the queue until SIGINT/SIGTERM."""
    args = parser(prog).parse_args(argv)
    try:
        settings = WorkerSettings(
            dsn=args.dsn,
            provider_url=args.provider_url,
            provider_api_key=args.provider_api_key,
            model=args.model,
            dimensions=args.dimensions,
            batch_size=args.batch_size,
            idle_poll_s=args.idle_poll_s,
            max_attempts=args.max_attempts,
            request_timeout_s=args.request_timeout_s,
        )
    except ValueError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve(
            settings,
            stop=stop,
            concurrency=args.concurrency,
            metrics_host=args.metrics_host,
            metrics_port=args.metrics_port,
            stats_interval_s=args.stats_interval_s,
        )

    mismatch: BaseException | None = None
    try:
        asyncio.run(run())
    except* SchemaMismatchError as group:
        mismatch = group.exceptions[0]
    if mismatch is not None:
        sys.stderr.write(f"error: {mismatch}\n")
        return 2
    return 0
