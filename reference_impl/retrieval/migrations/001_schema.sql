-- The copilot's data: OLTP tables (tenants, pipelines, candidates) and document chunks with
-- their embeddings, plus the outbox queue of chunks waiting to be embedded.
-- {dimensions} is replaced by the configured embedding size when the migration is applied.

CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE IF NOT EXISTS tenants (
    id          text PRIMARY KEY,
    name        text NOT NULL
);

CREATE TABLE IF NOT EXISTS pipelines (
    id          bigint PRIMARY KEY,
    tenant_id   text NOT NULL REFERENCES tenants (id),
    name        text NOT NULL,
    stage       text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS pipelines_tenant ON pipelines (tenant_id);

CREATE TABLE IF NOT EXISTS candidates (
    id          bigint PRIMARY KEY,
    tenant_id   text NOT NULL REFERENCES tenants (id),
    pipeline_id bigint NOT NULL REFERENCES pipelines (id),
    name        text NOT NULL,
    title       text NOT NULL,
    summary     text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS candidates_pipeline ON candidates (pipeline_id);
CREATE INDEX IF NOT EXISTS candidates_tenant ON candidates (tenant_id);

-- A chunk's embedding is NULL until a worker has computed it; content_sha256 says which
-- content the embedding was computed from, so a late job never overwrites a newer one.
CREATE TABLE IF NOT EXISTS chunks (
    id              bigint PRIMARY KEY,
    tenant_id       text NOT NULL REFERENCES tenants (id),
    candidate_id    bigint REFERENCES candidates (id),
    content         text NOT NULL,
    content_sha256  bytea NOT NULL,
    embedding       vector({dimensions}),
    embedded_sha256 bytea,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
-- Embeddings stay in the row (out of line only when a row cannot fit a page). Vectors of more
-- than ~500 dimensions pass the 2 kB TOAST threshold, and the planner does not count
-- out-of-line data in a table scan's cost, so it would prefer exact scans to the HNSW index.
ALTER TABLE chunks ALTER COLUMN embedding SET STORAGE MAIN;
CREATE INDEX IF NOT EXISTS chunks_tenant ON chunks (tenant_id);
CREATE INDEX IF NOT EXISTS chunks_candidate ON chunks (candidate_id);
CREATE INDEX IF NOT EXISTS chunks_embedding_hnsw ON chunks
    USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 200);

-- The outbox: a job is inserted in the same transaction as the chunk it names, taken with
-- FOR UPDATE SKIP LOCKED, and deleted in the transaction that stores the embedding.
CREATE TABLE IF NOT EXISTS embedding_jobs (
    id          bigserial PRIMARY KEY,
    chunk_id    bigint NOT NULL REFERENCES chunks (id) ON DELETE CASCADE,
    enqueued_at timestamptz NOT NULL DEFAULT now(),
    attempts    integer NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS embedding_jobs_enqueued ON embedding_jobs (enqueued_at, id);
