"""The corpus generator: re-runnable, deterministic, as specified, or queued for embedding."""

import hashlib
from dataclasses import replace

import psycopg
import pytest
from retrieval_support import scratch_database

from stack.corpus import CorpusSpec, generate, main


TINY = CorpusSpec(
    tenants=2,
    pipelines_per_tenant=2,
    candidates_per_pipeline=3,
    chunks=60,
    dimensions=8,
    clusters=4,
    seed=3,
)
FINGERPRINT = "SELECT md5(string_agg(embedding::text || content, '|' ORDER BY id)) FROM chunks"


@pytest.fixture(scope="module")
def database(meltproof_stack):
    with scratch_database(meltproof_stack) as database:
        yield database


def one(dsn: str, query: str) -> object:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(query.encode()).fetchone()
    assert row is not None
    return row[0]


def counts(dsn: str) -> dict[str, object]:
    tables = ("tenants", "pipelines", "candidates", "chunks", "embedding_jobs")
    return {table: one(dsn, f"SELECT count(*) FROM {table}") for table in tables}  # noqa: S608


def test_a_corpus_has_the_specified_counts_and_can_be_generated_again(database):
    first = generate(database.dsn, TINY)
    fingerprint = one(database.dsn, FINGERPRINT)
    second = generate(database.dsn, TINY)
    expected = {"tenants": 2, "pipelines": 4, "candidates": 12, "chunks": 60, "embedding_jobs": 0}
    assert counts(database.dsn) == expected
    assert one(database.dsn, FINGERPRINT) == fingerprint  # same seed, same corpus
    for summary in (first, second):
        assert summary.tenants == ["tenant-000", "tenant-001"]
        assert (summary.pipelines, summary.candidates, summary.chunks) == (4, 12, 60)
        assert 0 <= summary.index_seconds <= summary.seconds


def test_chunks_are_unit_vectors_with_the_hash_of_their_content(database):
    generate(database.dsn, TINY)
    with psycopg.connect(database.dsn) as conn:
        rows = conn.execute(
            "SELECT content, content_sha256, embedded_sha256, vector_norm(embedding) FROM chunks"
        ).fetchall()
        index = conn.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'chunks_embedding_hnsw'"
        ).fetchone()
    for content, content_sha256, embedded_sha256, norm in rows:
        assert content_sha256 == embedded_sha256 == hashlib.sha256(content.encode()).digest()
        assert norm == pytest.approx(1.0, abs=1e-5)
    assert index is not None
    assert "hnsw" in index[0]
    assert "ef_construction='200'" in index[0]


def test_another_seed_gives_another_corpus(database):
    generate(database.dsn, TINY)
    fingerprint = one(database.dsn, FINGERPRINT)
    generate(database.dsn, replace(TINY, seed=4))
    assert one(database.dsn, FINGERPRINT) != fingerprint


def test_tenant_weights_share_out_the_chunks(database):
    generate(database.dsn, replace(TINY, tenant_weights=(9, 1)))
    with psycopg.connect(database.dsn) as conn:
        shares = conn.execute(
            "SELECT tenant_id, count(*) FROM chunks GROUP BY tenant_id ORDER BY tenant_id"
        ).fetchall()
        strays = conn.execute(
            "SELECT count(*) FROM chunks JOIN candidates ON candidates.id = chunks.candidate_id"
            " WHERE candidates.tenant_id <> chunks.tenant_id"
        ).fetchone()
    assert shares == [("tenant-000", 54), ("tenant-001", 6)]
    assert strays == (0,)


def test_an_unembedded_corpus_queues_one_job_per_chunk(database):
    generate(database.dsn, replace(TINY, embedded=False))
    assert counts(database.dsn)["embedding_jobs"] == 60
    assert one(database.dsn, "SELECT count(DISTINCT chunk_id) FROM embedding_jobs") == 60
    assert one(database.dsn, "SELECT count(*) FROM chunks WHERE embedding IS NOT NULL") == 0
    assert one(database.dsn, "SELECT count(*) FROM chunks WHERE embedded_sha256 IS NOT NULL") == 0
    generate(database.dsn, TINY)  # and a later embedded corpus replaces jobs and all
    assert counts(database.dsn)["embedding_jobs"] == 0


def test_the_command_line_loads_and_prints_a_summary(database, capsys):
    main(["--dsn", database.dsn, "--chunks", "30", "--dimensions", "8", "--tenants", "3"])
    out, err = capsys.readouterr()
    assert "loaded 30 chunks for 1,500 candidates in 75 pipelines of 3 tenants" in out
    assert "building the HNSW index" in err
    assert counts(database.dsn)["chunks"] == 30


def test_tenants_may_carry_the_gateways_names(database, capsys):
    main(["--dsn", database.dsn, "--chunks", "30", "--dimensions", "8",
          "--tenant-names", "acme,globex,initech"])  # fmt: skip
    capsys.readouterr()
    with psycopg.connect(database.dsn) as conn:
        tenants = conn.execute("SELECT id, name FROM tenants ORDER BY id").fetchall()
        owners = {row[0] for row in conn.execute("SELECT DISTINCT tenant_id FROM chunks")}
    assert tenants == [("acme", "Acme"), ("globex", "Globex"), ("initech", "Initech")]
    assert owners == {"acme", "globex", "initech"}


@pytest.mark.parametrize(
    "change",
    [
        {"tenants": 0},
        {"chunks": -1},
        {"tenant_weights": (1.0,)},
        {"tenant_weights": (1.0, 0.0)},
        {"tenant_names": ("acme",)},
        {"tenant_names": ("acme", "acme")},
    ],
)
def test_an_impossible_spec_is_refused(change):
    with pytest.raises(ValueError, match=r"must|needs"):
        replace(TINY, **change)
