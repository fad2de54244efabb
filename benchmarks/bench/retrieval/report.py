"""The retrieval benchmark's report: its tables, figures, parameters and verdict."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Any

from reference_impl.retrieval.bench_pools import OLTP_POOL, VECTOR_POOL
from reference_impl.retrieval.bench_search import K
from reference_impl.retrieval.bench_vector_load import VECTOR_LOAD
from stack.corpus import CorpusSpec

from ..common import BenchReport, format_table, ms
from .figures import Drain, OltpRow, Outcome, SearchRow, best_setting, oltp_check, search_check
from .parameters import EMBEDDING_TTFT_MS, INDEX_MEMORY_MB, RetrievalParameters, provider_config


SEARCH_HEADERS = ["search", "plan", "queries", f"recall@{K}", "min recall", "p50 ms", "p99 ms"]
OLTP_HEADERS = [
    "scenario", "vector workers", "reads", "errors", "p50 ms", "p99 ms", "p99 / alone",
    "searches", "search errors", "loop lag p99 ms",
]  # fmt: skip
DRAIN_HEADERS = ["workers", "jobs", "jobs/s", "seconds (with start-up)", "left unembedded"]


def _search_row(row: SearchRow) -> list[str]:
    mark = " *" if row.ef_search is not None and row.meets_target() else ""
    return [
        row.setting + mark,
        "HNSW index" if row.uses_index else "exact scan",
        f"{row.queries:,}",
        f"{row.recall_mean:.3f}",
        f"{row.recall_min:.3f}",
        ms(row.p50_s),
        ms(row.p99_s),
    ]


def _oltp_row(row: OltpRow, alone_p99_s: float | None) -> list[str]:
    return [
        row.scenario,
        str(row.vector_workers),
        f"{row.reads:,}",
        f"{row.errors:,}",
        ms(row.p50_s),
        ms(row.p99_s),
        f"{row.p99_s / alone_p99_s:.2f}x" if alone_p99_s else "-",
        f"{row.searches:,}",
        f"{row.search_errors:,}",
        ms(row.loop_lag_p99_s),
    ]


def _drain_row(drain: Drain) -> list[str]:
    return [
        str(drain.workers),
        f"{drain.jobs:,}",
        "-" if drain.jobs_per_s is None else f"{drain.jobs_per_s:,.0f}",
        f"{drain.seconds:.1f}",
        f"{drain.left_unembedded:,}",
    ]


def report(parameters: RetrievalParameters, outcome: Outcome) -> BenchReport:
    """The tables, the figures and the verdict; it passes when targets 1 and 2 are met."""
    checks = [search_check(outcome.search), oltp_check(outcome.oltp)]
    alone = next((r for r in outcome.oltp if r.vector_workers == 0), None)
    alone_p99_s = alone.p99_s if alone else None
    rates = ", ".join(
        f"{d.workers} worker(s) {'-' if d.jobs_per_s is None else f'{d.jobs_per_s:,.0f}'}"
        for d in outcome.drains
    )
    met = sum(c.passed is True for c in checks)
    verdict = (
        f"{met} of {len(checks)} targets met ({parameters.chunks:,} chunks,"
        f" {parameters.dimensions} dimensions); queue drain jobs/s: {rates}"
    )
    corpus = outcome.corpus
    tables = [
        format_table(
            SEARCH_HEADERS,
            [_search_row(row) for row in outcome.search],
            title=f"Search: {parameters.chunks:,} chunks x {parameters.dimensions} dimensions,"
            f" {len(corpus.tenants)} tenants, tenant-filtered, k = {K}, iterative scan; one"
            " connection, one query at a time, client-side latency (* meets the target)",
        ),
        format_table(
            OLTP_HEADERS,
            [_oltp_row(row, alone_p99_s) for row in outcome.oltp],
            title=f"OLTP reads at {parameters.oltp_rate_rps}/s for {parameters.oltp_duration_s:g}"
            f" s beside vector searches (ef_search {VECTOR_LOAD.ef_search}, k {VECTOR_LOAD.k});"
            f" pools: OLTP {OLTP_POOL.max_size}, vector {VECTOR_POOL.max_size}, shared"
            f" {OLTP_POOL.max_size}",
        ),
        format_table(
            DRAIN_HEADERS,
            [_drain_row(d) for d in outcome.drains],
            title=f"Embedding queue drain ({parameters.dimensions} dimensions, provider answering"
            f" in ~{EMBEDDING_TTFT_MS:g} ms)",
        ),
        (
            f"Corpus: loaded in {corpus.seconds:.1f} s, of which the HNSW index"
            f" {corpus.index_seconds:.1f} s; server: {dict(outcome.server)}"
        ),
        "Targets\n" + "\n".join(c.line() for c in checks),
    ]
    return BenchReport(
        parameters=_parameters(parameters, outcome.server),
        figures={
            "corpus": dataclasses.asdict(corpus),
            "search": [dataclasses.asdict(row) for row in outcome.search],
            "best_ef_search": (best.ef_search if (best := best_setting(outcome.search)) else None),
            "oltp": [
                dataclasses.asdict(row)
                | {"p99_over_alone": row.p99_s / alone_p99_s if alone_p99_s else None}
                for row in outcome.oltp
            ],
            "drain": [dataclasses.asdict(d) for d in outcome.drains],
            "checks": [dataclasses.asdict(c) for c in checks],
        },
        verdict=verdict,
        passed=all(c.passed is True for c in checks),
        tables=tables,
    )


def _parameters(parameters: RetrievalParameters, server: Mapping[str, str]) -> dict[str, Any]:
    return dataclasses.asdict(parameters) | {
        "k": K,
        "corpus": dataclasses.asdict(
            CorpusSpec(chunks=parameters.chunks, dimensions=parameters.dimensions)
        ),
        "index_memory_mb": INDEX_MEMORY_MB,
        "server": dict(server),
        "search": "candidate_query of random candidates; search() per query on one connection,"
        " sequentially; latency measured by the client, decoding included",
        "vector_load": dataclasses.asdict(VECTOR_LOAD),
        "pools": {
            "oltp": dataclasses.asdict(OLTP_POOL),
            "vector": dataclasses.asdict(VECTOR_POOL),
        },
        "oltp_reads": "load_pipeline and load_candidate in turn, random rows, regular arrivals;"
        " latency from the scheduled start",
        "embedding_model": provider_config(parameters.dimensions).models[0].model_dump(),
        "machine": f"{os.cpu_count()} cores shared by PostgreSQL, the benchmark, the provider"
        " and the worker",
    }
