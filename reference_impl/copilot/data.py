"""The copilot's OLTP reads: a pipeline with its candidates, a candidate with its pipeline.

Every read is scoped to the tenant of the API key: another tenant's row is not found.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg.rows import class_row
from psycopg_pool import AsyncConnectionPool


MAX_CANDIDATES = 6
"""A pipeline summary covers this many candidates: one LLM call each (the case study's 3-6)."""


@dataclass(frozen=True, slots=True)
class CandidateRow:
    id: int
    name: str
    title: str
    summary: str
    pipeline_id: int


@dataclass(frozen=True, slots=True)
class PipelineRow:
    id: int
    name: str
    stage: str


async def load_pipeline(
    pool: AsyncConnectionPool, *, tenant_id: str, pipeline_id: int
) -> tuple[PipelineRow, list[CandidateRow]] | None:
    """The pipeline and its first candidates, or None when the tenant has no such pipeline."""
    async with pool.connection() as conn:
        async with conn.cursor(row_factory=class_row(PipelineRow)) as cur:
            await cur.execute(
                "SELECT id, name, stage FROM pipelines WHERE id = %s AND tenant_id = %s",
                (pipeline_id, tenant_id),
            )
            pipeline = await cur.fetchone()
        if pipeline is None:
            return None
        async with conn.cursor(row_factory=class_row(CandidateRow)) as cur:
            await cur.execute(
                "SELECT id, name, title, summary, pipeline_id FROM candidates"
                " WHERE pipeline_id = %s AND tenant_id = %s ORDER BY id LIMIT %s",
                (pipeline_id, tenant_id, MAX_CANDIDATES),
            )
            return pipeline, await cur.fetchall()


async def load_candidate(
    pool: AsyncConnectionPool, *, tenant_id: str, candidate_id: int
) -> tuple[CandidateRow, PipelineRow] | None:
    """The candidate and its pipeline, or None when the tenant has no such candidate."""
    async with pool.connection() as conn:
        async with conn.cursor(row_factory=class_row(CandidateRow)) as cur:
            await cur.execute(
                "SELECT id, name, title, summary, pipeline_id FROM candidates"
                " WHERE id = %s AND tenant_id = %s",
                (candidate_id, tenant_id),
            )
            candidate = await cur.fetchone()
        if candidate is None:
            return None
        async with conn.cursor(row_factory=class_row(PipelineRow)) as cur:
            await cur.execute(
                "SELECT id, name, stage FROM pipelines WHERE id = %s AND tenant_id = %s",
                (candidate.pipeline_id, tenant_id),
            )
            pipeline = await cur.fetchone()
        if pipeline is None:
            return None
        return candidate, pipeline
