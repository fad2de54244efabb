"""``POST /v1/copilot/summarize`` and ``POST /v1/copilot/outreach``."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiohttp import web
from psycopg_pool import AsyncConnectionPool

from ..errors import json_error
from ..keys import GATEWAY, TENANT
from ..retrieval import Chunk
from ..state import Gateway
from ..validation import read_json_object, validate
from .calls import answer_fields, chat_body, context_lines, fan_out
from .context import (
    DATABASE_ERRORS,
    RetrievalUnavailable,
    candidate_context,
    pipeline_context,
    read_budget_s,
    within,
)
from .data import load_candidate, load_pipeline
from .models import (
    NOTE_SCHEMA,
    TEXT_SCHEMA,
    CandidateNote,
    OutreachDraft,
    OutreachRequest,
    PipelineSummary,
    SummarizeRequest,
)


T = TypeVar("T")
log = logging.getLogger(__name__)
OUTREACH_PARTS = ("subject", "opening", "call_to_action")
FIT_MAX = 5


async def summarize(request: web.Request) -> web.StreamResponse:
    """One note per candidate of the pipeline (one LLM call each), on retrieved context."""
    gateway, tenant = request.app[GATEWAY], request[TENANT]
    _, data = await read_json_object(request)
    pipeline_id = validate(SummarizeRequest, data).pipeline_id
    loaded = await _load(
        gateway,
        f"summarize {pipeline_id}",
        read=lambda pool: load_pipeline(pool, tenant_id=tenant.name, pipeline_id=pipeline_id),
        retrieve=lambda: pipeline_context(gateway, tenant_id=tenant.name, pipeline_id=pipeline_id),
    )
    if loaded is None:
        return _not_found("pipeline", pipeline_id)
    rows, context, degraded = loaded
    pipeline, candidates = rows if rows is not None else (None, [])
    bodies = [
        chat_body(
            gateway,
            user=(
                f"Pipeline: {pipeline.name if pipeline else pipeline_id}"
                f" ({pipeline.stage if pipeline else 'unknown stage'}).\n"
                f"Candidate: {c.name}, {c.title}. {c.summary}\n"
                f"Context:\n{context_lines(context)}\n"
                "Assess the candidate's fit for this pipeline in one sentence; fit from 1 to 5."
            ),
            schema=NOTE_SCHEMA,
            name="candidate_note",
        )
        for c in candidates
    ]
    answers = await fan_out(gateway, tenant, bodies)
    notes = []
    for candidate, answer in zip(candidates, answers, strict=True):
        fields = answer_fields(answer) or {}
        degraded = degraded or not fields
        notes.append(
            CandidateNote(
                candidate_id=candidate.id,
                name=candidate.name,
                assessment=str(fields.get("assessment") or gateway.config.fallback.banner),
                fit=_fit(fields.get("fit")),
            )
        )
    summary = PipelineSummary(
        pipeline_id=pipeline_id,
        pipeline=pipeline.name if pipeline else None,
        stage=pipeline.stage if pipeline else None,
        notes=notes,
        context_chunk_ids=[chunk.id for chunk in context],
        llm_calls=len(bodies),
        degraded=degraded,
        banner=gateway.config.copilot.banner if degraded else None,
    )
    return _answer(summary.model_dump_json(), degraded=degraded)


async def outreach(request: web.Request) -> web.StreamResponse:
    """A draft message to a candidate: subject, opening and call to action (a call each)."""
    gateway, tenant = request.app[GATEWAY], request[TENANT]
    _, data = await read_json_object(request)
    candidate_id = validate(OutreachRequest, data).candidate_id
    loaded = await _load(
        gateway,
        f"outreach {candidate_id}",
        read=lambda pool: load_candidate(pool, tenant_id=tenant.name, candidate_id=candidate_id),
        retrieve=lambda: candidate_context(
            gateway, tenant_id=tenant.name, candidate_id=candidate_id
        ),
    )
    if loaded is None:
        return _not_found("candidate", candidate_id)
    rows, context, degraded = loaded
    who = f"{rows[0].name}, {rows[0].title}" if rows else f"candidate {candidate_id}"
    role = f"the {rows[1].name} pipeline" if rows else "an open role"
    bodies = [
        chat_body(
            gateway,
            user=(
                f"Write the {part.replace('_', ' ')} of an outreach message to {who} about {role}."
                f"\nContext:\n{context_lines(context)}"
            ),
            schema=TEXT_SCHEMA,
            name=part,
        )
        for part in OUTREACH_PARTS
    ]
    answers = await fan_out(gateway, tenant, bodies)
    parts = [answer_fields(answer) for answer in answers]
    degraded = degraded or any(part is None for part in parts)
    texts = [str((part or {}).get("text") or gateway.config.fallback.banner) for part in parts]
    draft = OutreachDraft(
        candidate_id=candidate_id,
        candidate=rows[0].name if rows else None,
        subject=texts[0],
        body=f"{texts[1]}\n\n{texts[2]}",
        context_chunk_ids=[chunk.id for chunk in context],
        llm_calls=len(bodies),
        degraded=degraded,
        banner=gateway.config.copilot.banner if degraded else None,
    )
    return _answer(draft.model_dump_json(), degraded=degraded)


async def _load(
    gateway: Gateway,
    label: str,
    *,
    read: Callable[[AsyncConnectionPool], Awaitable[T | None]],
    retrieve: Callable[[], Awaitable[list[Chunk]]],
) -> tuple[T | None, list[Chunk], bool] | None:
    """The OLTP rows, their retrieved context, and whether either is missing (degraded);
    None when the tenant has no such row."""
    try:
        rows = await _oltp_read(gateway, read)
    except DATABASE_ERRORS as exc:
        log.warning("%s without OLTP rows: %r", label, exc)
        return None, [], True
    if rows is None:
        return None
    try:
        return rows, await retrieve(), False
    except DATABASE_ERRORS as exc:
        log.warning("%s without retrieval: %r", label, exc)
        return rows, [], True


async def _oltp_read(gateway: Gateway, read: Callable[[AsyncConnectionPool], Awaitable[T]]) -> T:
    """Run ``read(pool)`` on the OLTP pool within its time budget."""
    if gateway.pools is None:
        raise RetrievalUnavailable("no database is configured (retrieval.database_url)")
    return await within(gateway, read(gateway.pools.oltp), read_budget_s(gateway, vector=False))


def _fit(value: object) -> int | None:
    """The model's fit score when it is one (1-5); whatever else it wrote is no score."""
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= FIT_MAX:
        return value
    return None


def _not_found(what: str, identifier: int) -> web.Response:
    return json_error(
        404, f"no {what} {identifier} for this tenant", error_type="not_found_error", code=what
    )


def _answer(body: str, *, degraded: bool) -> web.Response:
    headers = {"x-degraded": "true"} if degraded else {}
    return web.Response(text=body, content_type="application/json", headers=headers)
