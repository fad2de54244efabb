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
from collections.abc import Callable

from ..retrieval.documents import DEFAULT_MAX_ATTEMPTS
from .connection import SchemaMismatchError
from .settings import WorkerSettings
from .worker import serve


def parser(prog: str = "python -m reference_impl.embedding_worker") -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Embed queued document chunks; SIGINT/SIGTERM stop after the current batch.",
    )
    parser.add_argument("--dsn", required=True, help="PostgreSQL connection string")
    parser.add_argument("--provider-url", required=True, help="base URL of the provider")
    parser.add_argument("--provider-api-key", default="sk-meltproof", help="key sent upstream")
    parser.add_argument("--model", default="text-embedding-3-small", help="embedding model")
    parser.add_argument(
        "--dimensions", type=int, required=True, help="embedding size (that of chunks.embedding)"
    )
    parser.add_argument("--batch-size", type=int, default=64, help="jobs per batch (%(default)s)")
    parser.add_argument(
        "--concurrency", type=_positive(int), default=1, help="workers in this process"
    )
    parser.add_argument("--max-attempts", type=int, default=DEFAULT_MAX_ATTEMPTS)
    parser.add_argument("--idle-poll-s", type=float, default=0.5)
    parser.add_argument("--request-timeout-s", type=float, default=30.0)
    parser.add_argument("--metrics-host", default="127.0.0.1")
    parser.add_argument("--metrics-port", type=int, help="serve Prometheus /metrics on this port")
    parser.add_argument(
        "--stats-interval-s", type=_positive(float), default=5.0, help="queue gauge refresh"
    )
    return parser


def _positive(kind: Callable[[str], float]) -> Callable[[str], float]:
    def parse(text: str) -> float:
        value = kind(text)
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its errors
    return parse


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
