"""The copilot: pipeline summaries and outreach drafts from OLTP rows, retrieved context and
LLM calls that go through every pattern of the gateway.

``POST /v1/copilot/summarize {pipeline_id}`` and ``POST /v1/copilot/outreach {candidate_id}``
load their rows from the OLTP pool, retrieve context from the vector pool (precomputed
vectors only: the query is the centroid of the rows' chunk embeddings), fan out one LLM call
per candidate (or per part of the draft), and answer with a pydantic-validated JSON object.
When PostgreSQL is slow or down they answer without retrieval, with ``degraded: true`` and a
banner, never a 5xx.
"""
