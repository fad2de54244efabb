"""The provider side of a batch: which calls to make, making them, and reading the answers.

``plan_calls`` groups a batch's jobs into ``/v1/embeddings`` requests (one input per chunk,
one call per tenant, a call of its own for a chunk whose job already failed);
``request_embeddings`` makes one call and sorts the result into ``Embedded``, ``Rejected``
(the input's fault: counts an attempt) or ``Unavailable`` (the provider's: back off), never
raising for provider trouble; ``parse_embeddings`` checks and decodes the vectors.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import aiohttp
import numpy as np
from numpy.typing import NDArray

from ..retry import retry_after_s
from .settings import WorkerSettings


INPUT_ERRORS: Final = frozenset({400, 413, 422})
"""Statuses that blame the input: they count as a failed attempt of the call's jobs."""

Vector = NDArray[np.float32]


class ProviderUnavailable(Exception):  # noqa: N818 - reads as a state, like RedisUnavailable
    """The provider could not serve some of a batch; the rest of the batch was committed."""

    def __init__(self, reason: str, *, done: int, retry_after_s: float | None) -> None:
        super().__init__(reason)
        self.done = done
        self.retry_after_s = retry_after_s


@dataclass(frozen=True, slots=True)
class Job:
    """A job as taken, with its chunk as it was at that moment."""

    id: int
    chunk_id: int
    attempts: int
    tenant_id: str
    content: str
    content_sha256: bytes
    embedded: bool
    """The chunk is already embedded from this content (a job run twice, or a duplicate)."""


@dataclass(frozen=True, slots=True)
class Call:
    """One provider request: distinct chunks of one tenant, and the jobs it completes."""

    tenant_id: str
    chunks: tuple[Job, ...]
    """One job per distinct chunk: the input and the sha it is stored under."""
    job_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Embedded:
    """The provider's vectors, one per chunk of the call."""

    vectors: list[Vector]


@dataclass(frozen=True, slots=True)
class Rejected:
    """The input (or the answer to it) is bad: a failed attempt for the call's jobs."""

    reason: str


@dataclass(frozen=True, slots=True)
class Unavailable:
    """The provider failed for reasons of its own: back off, count no attempt."""

    reason: str
    retry_after_s: float | None


Outcome = Embedded | Rejected | Unavailable


def plan_calls(jobs: Sequence[Job]) -> tuple[list[int], list[Call]]:
    """Split a batch into jobs already done and provider calls for the others.

    Jobs of one chunk share an input; a tenant's chunks share a call, except chunks with a
    failed attempt, which get a call each.
    """
    already_done = [job.id for job in jobs if job.embedded]
    by_chunk: dict[int, list[Job]] = {}
    for job in jobs:
        if not job.embedded:
            by_chunk.setdefault(job.chunk_id, []).append(job)
    calls: list[Call] = []
    by_tenant: dict[str, list[list[Job]]] = {}
    for chunk_jobs in by_chunk.values():
        if any(job.attempts > 0 for job in chunk_jobs):
            calls.append(_call([chunk_jobs]))
        else:
            by_tenant.setdefault(chunk_jobs[0].tenant_id, []).append(chunk_jobs)
    calls.extend(_call(groups) for groups in by_tenant.values())
    return already_done, calls


def _call(chunk_groups: list[list[Job]]) -> Call:
    return Call(
        tenant_id=chunk_groups[0][0].tenant_id,
        chunks=tuple(group[0] for group in chunk_groups),
        job_ids=tuple(job.id for group in chunk_groups for job in group),
    )


def parse_embeddings(payload: object, *, count: int, dimensions: int) -> list[Vector]:
    """The ``count`` vectors of an embeddings response, in input order; ValueError if malformed.

    Accepts float lists and base64 little-endian float32; every vector must have
    ``dimensions`` finite values (pgvector rejects NaN and infinities).
    """
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, list) or len(data) != count:
        raise ValueError(f"expected {count} embeddings")
    vectors: list[Vector | None] = [None] * count
    for item in data:
        index = item.get("index") if isinstance(item, dict) else None
        if not isinstance(index, int) or not 0 <= index < count or vectors[index] is not None:
            raise ValueError(f"embedding index missing, out of range or repeated: {index!r}")
        vector = _decode(item.get("embedding"))
        if vector.shape != (dimensions,) or not np.isfinite(vector).all():
            raise ValueError(f"embedding {index} is not {dimensions} finite numbers")
        vectors[index] = vector
    return [vector for vector in vectors if vector is not None]


def _decode(raw: object) -> Vector:
    try:
        if isinstance(raw, str):
            return np.frombuffer(base64.b64decode(raw, validate=True), dtype="<f4").astype(
                np.float32
            )
        if isinstance(raw, list):
            return np.asarray(raw, dtype=np.float32)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"undecodable embedding: {exc}") from exc
    raise ValueError("an embedding is neither a list nor base64")


async def request_embeddings(
    http: aiohttp.ClientSession, settings: WorkerSettings, call: Call
) -> Outcome:
    """Ask the provider for the vectors of one call; never raises for provider trouble."""
    body = {
        "model": settings.model,
        "input": [chunk.content for chunk in call.chunks],
        "dimensions": settings.dimensions,
        "encoding_format": "base64",
    }
    try:
        async with http.post(
            settings.embeddings_url,
            json=body,
            headers={"X-Tenant-Id": call.tenant_id},
            timeout=aiohttp.ClientTimeout(total=settings.request_timeout_s),
        ) as response:
            raw = await response.read()
            status, headers = response.status, response.headers
    except (aiohttp.ClientError, TimeoutError) as exc:
        return Unavailable(f"{type(exc).__name__}: {exc}", None)
    if status in INPUT_ERRORS:
        return Rejected(f"HTTP {status}: {raw[:300].decode(errors='replace')}")
    if status != 200:  # noqa: PLR2004 - the one success status of the API
        return Unavailable(f"HTTP {status}", retry_after_s(headers))
    try:
        vectors = parse_embeddings(
            json.loads(raw), count=len(call.chunks), dimensions=settings.dimensions
        )
    except ValueError as exc:  # json.JSONDecodeError included
        return Rejected(f"malformed answer: {exc}")
    return Embedded(vectors)
