"""The copilot's request and response bodies (validated with pydantic both ways)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class SummarizeRequest(BaseModel):
    """``POST /v1/copilot/summarize``."""

    model_config = ConfigDict(extra="forbid")

    pipeline_id: int = Field(ge=0)


class OutreachRequest(BaseModel):
    """``POST /v1/copilot/outreach``."""

    model_config = ConfigDict(extra="forbid")

    candidate_id: int = Field(ge=0)


class CandidateNote(BaseModel):
    """One candidate's line in a pipeline summary."""

    candidate_id: int
    name: str
    assessment: str
    fit: int | None = Field(None, ge=1, le=5)


class PipelineSummary(BaseModel):
    """The answer of ``summarize``."""

    object: str = "copilot.pipeline_summary"
    pipeline_id: int
    pipeline: str | None
    stage: str | None
    notes: list[CandidateNote]
    context_chunk_ids: list[int]
    llm_calls: int
    degraded: bool
    banner: str | None = None


class OutreachDraft(BaseModel):
    """The answer of ``outreach``."""

    object: str = "copilot.outreach_draft"
    candidate_id: int
    candidate: str | None
    subject: str
    body: str
    context_chunk_ids: list[int]
    llm_calls: int
    degraded: bool
    banner: str | None = None


NOTE_SCHEMA = {
    "type": "object",
    "properties": {
        "assessment": {"type": "string"},
        "fit": {"type": "integer", "minimum": 1, "maximum": 5},
    },
    "required": ["assessment", "fit"],
    "additionalProperties": False,
}
TEXT_SCHEMA = {
    "type": "object",
    "properties": {"text": {"type": "string"}},
    "required": ["text"],
    "additionalProperties": False,
}
