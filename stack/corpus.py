"""A synthetic copilot corpus in PostgreSQL: tenants, pipelines, candidates and embedded chunks.

``generate`` migrates the database, empties the copilot's tables and loads a corpus that is a
pure function of its ``CorpusSpec`` (same seed, same rows), so runs are comparable.

The embeddings have structure, so that nearest neighbours, centroids and recall mean something:
``clusters`` unit centres (topics) are drawn around a few broader fields, so related topics are
closer than unrelated ones; each chunk is its topic's centre plus Gaussian noise of expected
length ``noise`` (a chunk's cosine to its centre is about ``1 / sqrt(1 + noise**2)``),
normalised. Every candidate has a home topic that most of its chunks come from; the others are
strays from any topic, so candidates overlap a little.

Loading is built for size: the HNSW index is dropped, the chunks are sent with a binary
``COPY`` (vectors in pgvector's binary format; text is some 25 times slower to produce),
then the index is rebuilt in one pass with a large ``maintenance_work_mem``. Building the
index once at the end is many times faster than maintaining it row by row. Everything runs
in one transaction, so a failed load leaves the previous corpus in place.

``python -m stack.corpus --dsn DSN`` runs it from the command line (``--help``).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import math
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import psycopg
from pgvector.psycopg import register_vector
from psycopg.rows import TupleRow

from reference_impl.retrieval import migrate


Progress = Callable[[str], None]
Vectors = npt.NDArray[np.float32]

_BATCH_ROWS = 5_000
_STRAY_SHARE = 0.2  # share of a candidate's chunks drawn from a random topic, not its own
_TOPICS_PER_FIELD = 8
_FIELD_SPREAD = 1.0  # a topic's distance from its field; 1.0 puts related topics ~60 degrees apart
_INDEX = "chunks_embedding_hnsw"
_SKILLS = (
    "Kafka", "Spark", "Airflow", "dbt", "Snowflake", "PostgreSQL", "Kubernetes", "Terraform",
    "React", "TypeScript", "GraphQL", "Rust", "Go", "Java", "Kotlin", "Swift",
    "PyTorch", "TensorFlow", "LLM evaluation", "feature stores", "A/B testing", "causal inference",
    "SQL tuning", "data modelling", "incident response", "SRE practices", "observability",
    "security reviews", "OAuth", "payments", "search ranking", "recommendation systems",
)  # fmt: skip
_TITLES = (
    "Senior Data Engineer", "Backend Engineer", "Frontend Engineer", "ML Engineer",
    "Site Reliability Engineer", "Data Scientist", "Engineering Manager", "Mobile Engineer",
    "Security Engineer", "Analytics Engineer", "Platform Engineer", "Staff Engineer",
)  # fmt: skip
_FIRST_NAMES = ("Ada", "Bo", "Chen", "Dana", "Emeka", "Freya", "Goran", "Hana", "Ines", "Jonas")
_LAST_NAMES = ("Almeida", "Berg", "Costa", "Dubois", "Eze", "Fischer", "Garcia", "Haddad")
_STAGES = ("sourcing", "screening", "interviewing", "offer", "closed")
_CHUNK_COLUMNS = "id, tenant_id, candidate_id, content, content_sha256, embedding, embedded_sha256"
_CHUNK_TYPES = ("int8", "text", "int8", "text", "bytea", "vector", "bytea")


@dataclass(frozen=True, kw_only=True)
class CorpusSpec:
    """What to generate; ``embedded=False`` leaves embeddings NULL and queues one job per chunk.

    ``tenant_weights`` are the tenants' relative shares of the chunks (None: equal shares);
    ``tenant_names`` their ids (None: ``tenant-000``, ``tenant-001``, ...), e.g. the gateway's
    tenants, so that their API keys reach their rows.
    """

    tenants: int = 4
    pipelines_per_tenant: int = 25
    candidates_per_pipeline: int = 20
    chunks: int = 100_000
    dimensions: int = 1536
    clusters: int = 64
    noise: float = 0.35
    seed: int = 0
    embedded: bool = True
    tenant_weights: tuple[float, ...] | None = None
    tenant_names: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        counts = {
            "tenants": self.tenants,
            "pipelines_per_tenant": self.pipelines_per_tenant,
            "candidates_per_pipeline": self.candidates_per_pipeline,
            "dimensions": self.dimensions,
            "clusters": self.clusters,
        }
        for name, value in counts.items():
            if value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        if self.chunks < 0 or self.noise < 0:
            raise ValueError("chunks and noise must not be negative")
        weights = self.tenant_weights
        if weights is not None and (len(weights) != self.tenants or min(weights) <= 0):
            raise ValueError(f"tenant_weights needs {self.tenants} positive weights")
        names = self.tenant_names
        if names is not None and (len(names) != self.tenants or len(set(names)) != len(names)):
            raise ValueError(f"tenant_names needs {self.tenants} distinct names")


@dataclass(frozen=True)
class CorpusSummary:
    """What was loaded, and how long it took (``index_seconds`` is part of ``seconds``)."""

    tenants: list[str]
    pipelines: int
    candidates: int
    chunks: int
    seconds: float
    index_seconds: float


@dataclass(frozen=True, kw_only=True)
class _Plan:
    """Every row except the chunk embeddings, which are drawn a batch at a time."""

    tenants: list[str]
    pipelines: list[tuple[int, str, str, str]]  # id, tenant, name, stage
    candidates: list[tuple[int, str, int, str, str, str]]  # id, tenant, pipeline, name, ...
    chunk_candidates: npt.NDArray[np.int64]  # candidate id, indexed by chunk id - 1
    chunk_topics: npt.NDArray[np.int64]
    centres: Vectors = field(repr=False)


def generate(
    dsn: str,
    spec: CorpusSpec,
    *,
    progress: Progress | None = None,
    maintenance_work_mem_mb: int = 1024,
    parallel_workers: int = 1,
    clock: Callable[[], float] = time.perf_counter,
) -> CorpusSummary:
    """Replace the copilot's rows in ``dsn`` with the corpus of ``spec``.

    Call it outside an event loop: it runs ``migrate`` with ``asyncio.run``.
    """
    say = progress or (lambda _message: None)
    started = clock()
    applied = asyncio.run(migrate(dsn, dimensions=spec.dimensions))
    say(f"migrated ({', '.join(applied) or 'up to date'})")
    rng = np.random.default_rng(spec.seed)
    plan = _plan(spec, rng)
    with psycopg.connect(dsn) as conn:
        register_vector(conn)
        conn.add_notice_handler(lambda notice: say(f"postgres: {notice.message_primary}"))
        conn.execute("TRUNCATE embedding_jobs, chunks, candidates, pipelines, tenants CASCADE")
        index_definition = _drop_index(conn)
        _load_owners(conn, plan)
        for loaded in _load_chunks(conn, spec, plan, rng):
            say(f"loaded {loaded:,} / {spec.chunks:,} chunks")
        if not spec.embedded:
            conn.execute("INSERT INTO embedding_jobs (chunk_id) SELECT id FROM chunks ORDER BY id")
            say(f"queued {spec.chunks:,} embedding jobs")
        say(f"building the HNSW index ({parallel_workers} parallel worker(s))")
        index_started = clock()
        conn.execute(f"SET LOCAL maintenance_work_mem = '{int(maintenance_work_mem_mb)}MB'")
        conn.execute(f"SET LOCAL max_parallel_maintenance_workers = {int(parallel_workers)}")
        conn.execute(index_definition.encode())
        index_seconds = clock() - index_started
        conn.execute("ANALYZE tenants, pipelines, candidates, chunks, embedding_jobs")
    return CorpusSummary(
        tenants=plan.tenants,
        pipelines=len(plan.pipelines),
        candidates=len(plan.candidates),
        chunks=spec.chunks,
        seconds=clock() - started,
        index_seconds=index_seconds,
    )


def _drop_index(conn: psycopg.Connection[TupleRow]) -> str:
    """Drop the HNSW index and return its definition, to rebuild it as the migration made it."""
    row = conn.execute(
        "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND indexname = %s",
        (_INDEX,),
    ).fetchone()
    if row is None:
        raise RuntimeError(f"index {_INDEX} is missing; the migrations should have created it")
    conn.execute(f"DROP INDEX {_INDEX}".encode())
    return str(row[0])


def _plan(spec: CorpusSpec, rng: np.random.Generator) -> _Plan:
    tenants = list(spec.tenant_names or (f"tenant-{n:03d}" for n in range(spec.tenants)))
    per_tenant = spec.pipelines_per_tenant * spec.candidates_per_pipeline
    candidate_topics = rng.integers(spec.clusters, size=spec.tenants * per_tenant)
    pipelines = []
    candidates = []
    for tenant_number, tenant in enumerate(tenants):
        for pipeline_number in range(spec.pipelines_per_tenant):
            pipeline_id = tenant_number * spec.pipelines_per_tenant + pipeline_number + 1
            title = _TITLES[pipeline_id % len(_TITLES)]
            stage = _STAGES[pipeline_id % len(_STAGES)]
            pipelines.append((pipeline_id, tenant, f"{title} #{pipeline_number + 1}", stage))
            for slot in range(spec.candidates_per_pipeline):
                candidate_id = (pipeline_id - 1) * spec.candidates_per_pipeline + slot + 1
                name = (
                    f"{_FIRST_NAMES[candidate_id % len(_FIRST_NAMES)]}"
                    f" {_LAST_NAMES[candidate_id // len(_FIRST_NAMES) % len(_LAST_NAMES)]}"
                )
                focus = _skill(int(candidate_topics[candidate_id - 1]))
                summary = f"{title} with a focus on {focus}."
                candidates.append((candidate_id, tenant, pipeline_id, name, title, summary))
    chunk_candidates = _chunk_candidates(spec, rng)
    stray = rng.random(spec.chunks) < _STRAY_SHARE
    chunk_topics = np.where(
        stray,
        rng.integers(spec.clusters, size=spec.chunks),
        candidate_topics[chunk_candidates - 1],
    )
    return _Plan(
        tenants=tenants,
        pipelines=pipelines,
        candidates=candidates,
        chunk_candidates=chunk_candidates,
        chunk_topics=chunk_topics,
        centres=_centres(spec, rng),
    )


def _chunk_candidates(spec: CorpusSpec, rng: np.random.Generator) -> npt.NDArray[np.int64]:
    """The candidate of every chunk: tenants get their weighted share, spread over candidates."""
    weights = np.asarray(spec.tenant_weights or [1.0] * spec.tenants, dtype=np.float64)
    shares = weights / weights.sum() * spec.chunks
    counts = np.floor(shares).astype(np.int64)
    remainder = spec.chunks - int(counts.sum())
    counts[np.argsort(counts - shares, kind="stable")[:remainder]] += 1  # largest remainders
    per_tenant = spec.pipelines_per_tenant * spec.candidates_per_pipeline
    parts = [
        tenant * per_tenant + 1 + np.arange(count) % per_tenant
        for tenant, count in enumerate(counts)
    ]
    assigned = np.concatenate(parts) if parts else np.empty(0, np.int64)
    return rng.permutation(assigned).astype(np.int64)


def _centres(spec: CorpusSpec, rng: np.random.Generator) -> Vectors:
    """Unit topic centres, grouped around a few field directions."""
    field_count = math.ceil(spec.clusters / _TOPICS_PER_FIELD)
    fields = _unit(rng.standard_normal((field_count, spec.dimensions)))
    offsets = _unit(rng.standard_normal((spec.clusters, spec.dimensions)))
    field_of_topic = np.arange(spec.clusters) // _TOPICS_PER_FIELD
    return _unit(fields[field_of_topic] + _FIELD_SPREAD * offsets)


def _unit(rows: npt.NDArray[np.floating[Any]]) -> Vectors:
    unit: Vectors = (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)
    return unit


def _skill(topic: int) -> str:
    return _SKILLS[topic % len(_SKILLS)]


def _load_owners(conn: psycopg.Connection[TupleRow], plan: _Plan) -> None:
    with conn.cursor() as cursor:
        with cursor.copy("COPY tenants (id, name) FROM STDIN") as copy:
            for tenant in plan.tenants:
                copy.write_row((tenant, tenant.replace("tenant-", "Tenant ").title()))
        with cursor.copy("COPY pipelines (id, tenant_id, name, stage) FROM STDIN") as copy:
            for pipeline in plan.pipelines:
                copy.write_row(pipeline)
        columns = "id, tenant_id, pipeline_id, name, title, summary"
        with cursor.copy(f"COPY candidates ({columns}) FROM STDIN".encode()) as copy:
            for candidate in plan.candidates:
                copy.write_row(candidate)


def _load_chunks(
    conn: psycopg.Connection[TupleRow],
    spec: CorpusSpec,
    plan: _Plan,
    rng: np.random.Generator,
) -> Iterator[int]:
    """COPY the chunks a batch at a time; yield the number loaded after each batch."""
    tenant_of = {row[0]: row[1] for row in plan.candidates}
    title_of = {row[0]: row[4] for row in plan.candidates}
    seen: dict[int, int] = {}  # chunks written so far per candidate, to number them
    sql = f"COPY chunks ({_CHUNK_COLUMNS}) FROM STDIN WITH (FORMAT BINARY)".encode()
    with conn.cursor() as cursor, cursor.copy(sql) as copy:
        copy.set_types(list(_CHUNK_TYPES))
        for start in range(0, spec.chunks, _BATCH_ROWS):
            stop = min(start + _BATCH_ROWS, spec.chunks)
            topics = plan.chunk_topics[start:stop]
            vectors = _embeddings(spec, plan.centres[topics], rng) if spec.embedded else None
            for offset, chunk_id in enumerate(range(start + 1, stop + 1)):
                candidate = int(plan.chunk_candidates[chunk_id - 1])
                number = seen.get(candidate, 0) + 1
                seen[candidate] = number
                content = (
                    f"Candidate {candidate}, {title_of[candidate]}: chunk {number}"
                    f" about {_skill(int(topics[offset]))} in production."
                )
                digest = hashlib.sha256(content.encode()).digest()
                row = (chunk_id, tenant_of[candidate], candidate, content, digest)
                if vectors is None:
                    copy.write_row((*row, None, None))
                else:
                    copy.write_row((*row, vectors[offset], digest))
            yield stop


def _embeddings(spec: CorpusSpec, centres: Vectors, rng: np.random.Generator) -> Vectors:
    """Unit vectors scattered around ``centres`` (one row each)."""
    noise = rng.standard_normal(centres.shape, dtype=np.float32)
    return _unit(centres + np.float32(spec.noise / math.sqrt(spec.dimensions)) * noise)


def _weights(text: str) -> tuple[float, ...]:
    """``--tenant-weights 50,30,18,2``."""
    try:
        return tuple(float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers, got {text!r}"
        ) from None


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the command line, generate the corpus and print the summary."""
    defaults = CorpusSpec()
    parser = argparse.ArgumentParser(
        prog="python -m stack.corpus",
        description="Load a synthetic copilot corpus (tenants, pipelines, candidates, chunks"
        " with clustered embeddings) into PostgreSQL with pgvector. Existing copilot rows are"
        " replaced; the schema is migrated first.",
    )
    parser.add_argument("--dsn", required=True, help="PostgreSQL URL of the target database")
    for option, help_text in (
        ("tenants", "number of tenants"),
        ("pipelines-per-tenant", "hiring pipelines per tenant"),
        ("candidates-per-pipeline", "candidates per pipeline"),
        ("chunks", "document chunks in all"),
        ("dimensions", "embedding size (must match the database if it exists)"),
        ("clusters", "topics the embeddings cluster around"),
        ("seed", "random seed; the same seed gives the same corpus"),
    ):
        default = getattr(defaults, option.replace("-", "_"))
        parser.add_argument(
            f"--{option}", type=int, default=default, help=f"{help_text} (default: %(default)s)"
        )
    parser.add_argument(
        "--noise",
        type=float,
        default=defaults.noise,
        help="expected length of a chunk's offset from its topic centre (default: %(default)s)",
    )
    parser.add_argument(
        "--tenant-weights",
        type=_weights,
        help="comma-separated relative shares of the chunks per tenant, e.g. 50,30,18,2"
        " (default: equal shares)",
    )
    parser.add_argument(
        "--tenant-names",
        type=lambda text: tuple(name.strip() for name in text.split(",") if name.strip()),
        help="comma-separated tenant ids, e.g. the gateway's: acme,globex,initech"
        " (sets --tenants; default: tenant-000, tenant-001, ...)",
    )
    parser.add_argument(
        "--not-embedded",
        action="store_true",
        help="leave embeddings NULL and queue one embedding job per chunk for the worker",
    )
    parser.add_argument(
        "--maintenance-work-mem-mb",
        type=int,
        default=1024,
        help="memory for building the HNSW index; it should hold the whole graph"
        " (default: %(default)s)",
    )
    parser.add_argument(
        "--parallel-workers",
        type=int,
        default=1,
        help="parallel workers for the index build (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    try:
        spec = CorpusSpec(
            tenants=len(args.tenant_names) if args.tenant_names else args.tenants,
            pipelines_per_tenant=args.pipelines_per_tenant,
            candidates_per_pipeline=args.candidates_per_pipeline,
            chunks=args.chunks,
            dimensions=args.dimensions,
            clusters=args.clusters,
            noise=args.noise,
            seed=args.seed,
            embedded=not args.not_embedded,
            tenant_weights=args.tenant_weights,
            tenant_names=args.tenant_names,
        )
    except ValueError as err:
        parser.error(str(err))
    summary = generate(
        args.dsn,
        spec,
        progress=lambda message: print(message, file=sys.stderr, flush=True),  # noqa: T201
        maintenance_work_mem_mb=args.maintenance_work_mem_mb,
        parallel_workers=args.parallel_workers,
    )
    print(  # noqa: T201 - the command's output
        f"loaded {summary.chunks:,} chunks for {summary.candidates:,} candidates in"
        f" {summary.pipelines:,} pipelines of {len(summary.tenants)} tenants"
        f" in {summary.seconds:.1f} s (HNSW index: {summary.index_seconds:.1f} s)"
    )


if __name__ == "__main__":
    main()
