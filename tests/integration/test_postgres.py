"""PostgreSQL with pgvector, reached through its Toxiproxy link."""

import psycopg


def test_an_hnsw_index_serves_nearest_neighbour_queries(stack):
    with psycopg.connect(stack.endpoints.postgres_proxied, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS hnsw_probe")
        conn.execute("CREATE TABLE hnsw_probe (id bigserial PRIMARY KEY, embedding vector(8))")
        conn.execute(
            "INSERT INTO hnsw_probe (embedding)"
            " SELECT ARRAY(SELECT random() + g * 0 FROM generate_series(1, 8))::vector"
            " FROM generate_series(1, 3000) AS g"
        )
        conn.execute(
            "CREATE INDEX hnsw_probe_embedding ON hnsw_probe"
            " USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 200)"
        )
        conn.execute("ANALYZE hnsw_probe")
        query = "SELECT id FROM hnsw_probe ORDER BY embedding <=> %s::vector LIMIT 5"
        probe = "[0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8]"
        plan = "\n".join(row[0] for row in conn.execute("EXPLAIN " + query, (probe,)))
        rows = conn.execute(query, (probe,)).fetchall()
        conn.execute("DROP TABLE hnsw_probe")
    assert "Index Scan using hnsw_probe_embedding" in plan
    assert len(rows) == 5


def test_the_stack_records_versions_and_sources(stack):
    postgres = stack.services["postgres"]
    assert "pgvector 0.8" in postgres.version
    assert postgres.source
    assert (stack.run_dir / "stack.json").is_file()
