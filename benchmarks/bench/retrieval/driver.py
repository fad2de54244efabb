"""One run of the retrieval benchmark: its servers and databases, the three measurements."""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import psycopg
from psycopg.conninfo import make_conninfo

from reference_impl.retrieval.bench_search import measure_search
from stack.config import StackConfig
from stack.corpus import CorpusSpec, generate
from stack.ports import ephemeral_port
from stack.postgres import PostgresServer
from stack.postgres_install import find_postgres
from stack.python_service import PythonService
from stack.service import Service

from ..common import BenchOptions, BenchReport, ms, say
from .drain import measure_drain
from .figures import Outcome, search_rows
from .oltp import measure_oltp, scenarios
from .parameters import (
    INDEX_MEMORY_MB,
    NAME,
    RetrievalParameters,
    dimensions_from_env,
    provider_config,
)
from .report import report


CORPUS_DATABASE = "retrieval_corpus"
QUEUE_DATABASE = "retrieval_queue"
START_TIMEOUT_S = 60.0


def _start(running: ExitStack, service: Service) -> None:
    """Start ``service``, stopped when ``running`` closes."""
    running.callback(service.stop)
    service.launch()
    service.wait_ready(time.monotonic() + START_TIMEOUT_S)


def _create_database(url: str, name: str) -> str:
    """A new database next to ``url``'s; its DSN."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"'.encode())
    return make_conninfo(url, dbname=name)


def run(options: BenchOptions) -> BenchReport:
    """Load the corpus, measure search, OLTP and the queue; stop every server after."""
    parameters = RetrievalParameters.for_run(quick=options.quick, dimensions=dimensions_from_env())
    config = StackConfig.from_env(options.log_dir)
    rng = random.Random(parameters.seed)  # noqa: S311 - sampling, not secrets
    options.log_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="meltproof-retrieval-") as scratch, ExitStack() as deps:
        postgres = PostgresServer(
            find_postgres(config.postgres_bindir), port=ephemeral_port(), log_dir=options.log_dir
        )
        _start(deps, postgres)
        corpus_dsn = _create_database(postgres.url, CORPUS_DATABASE)
        queue_dsn = _create_database(postgres.url, QUEUE_DATABASE)
        server = _server_settings(corpus_dsn)
        say(
            f"{NAME}: loading {parameters.chunks:,} chunks of {parameters.dimensions} dimensions"
            f" ({server['server_version']}, pgvector {server['pgvector']})"
        )
        corpus = generate(
            corpus_dsn,
            CorpusSpec(chunks=parameters.chunks, dimensions=parameters.dimensions),
            progress=lambda m: say(f"{NAME}: corpus: {m}"),
            maintenance_work_mem_mb=INDEX_MEMORY_MB,
        )
        say(f"{NAME}: loaded in {corpus.seconds:.1f} s, HNSW index {corpus.index_seconds:.1f} s")
        queries, passes = asyncio.run(
            measure_search(
                corpus_dsn,
                queries=parameters.queries,
                ef_searches=parameters.ef_searches,
                rng=rng,
                progress=lambda m: say(f"{NAME}: {m}"),
            )
        )
        oltp_rows = []
        for scenario in scenarios(parameters):
            say(f"{NAME}: OLTP {parameters.oltp_rate_rps}/s, {scenario.name}")
            row = measure_oltp(corpus_dsn, scenario, queries, parameters, rng=rng)
            say(
                f"{NAME}:   p50 {ms(row.p50_s)} ms, p99 {ms(row.p99_s)} ms, errors {row.errors},"
                f" searches {row.searches:,}"
            )
            oltp_rows.append(row)
        provider_file = Path(scratch) / "provider.json"
        provider_file.write_text(provider_config(parameters.dimensions).model_dump_json())
        provider = PythonService(
            "provider", "stack.provider", port=ephemeral_port(), log_dir=options.log_dir,
            args=["--config", str(provider_file)],
        )  # fmt: skip
        _start(deps, provider)
        drains = [
            measure_drain(
                queue_dsn,
                provider.url,
                workers=workers,
                parameters=parameters,
                log_dir=options.log_dir,
            )
            for workers in parameters.worker_counts
        ]
    return report(parameters, Outcome(corpus, server, search_rows(passes), oltp_rows, drains))


def _server_settings(dsn: str) -> dict[str, str]:
    """The server's version and the settings that shape the figures."""
    names = ("server_version", "shared_buffers", "work_mem", "max_parallel_workers_per_gather")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        values = [conn.execute("SELECT current_setting(%s)", (name,)).fetchone() for name in names]
        version = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        values.append(version.fetchone())
    return {
        name: str(value[0]) if value else "unknown"
        for name, value in zip((*names, "pgvector"), values, strict=True)
    }
