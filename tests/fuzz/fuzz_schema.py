"""Requests generated from the gateway's OpenAPI document by schemathesis: positive cases
(valid by the document) and negative ones (each breaking it somewhere), drawn with a fixed
seed. Most get a working API key and, when positive, a served model, so that they reach past
authentication and model routing; every prompt text gets the canary."""

from __future__ import annotations

import random
from typing import Any
from urllib.parse import urlencode

import hypothesis
import schemathesis
from fuzz_probes import CHAT, EMBEDDINGS, OUTREACH, SUMMARIZE, Context, dumps, request, with_canary
from fuzz_wire import Probe
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.strategies import SearchStrategy
from schemathesis import Case, GenerationMode
from schemathesis.core import NOT_SET


SHARES = (
    ("GET", "/healthz", GenerationMode.POSITIVE, 0.01),
    ("GET", "/openapi.json", GenerationMode.POSITIVE, 0.01),
    ("POST", CHAT, GenerationMode.POSITIVE, 0.26),
    ("POST", CHAT, GenerationMode.NEGATIVE, 0.22),
    ("POST", EMBEDDINGS, GenerationMode.POSITIVE, 0.12),
    ("POST", EMBEDDINGS, GenerationMode.NEGATIVE, 0.12),
    ("POST", SUMMARIZE, GenerationMode.POSITIVE, 0.05),
    ("POST", SUMMARIZE, GenerationMode.NEGATIVE, 0.08),
    ("POST", OUTREACH, GenerationMode.POSITIVE, 0.05),
    ("POST", OUTREACH, GenerationMode.NEGATIVE, 0.08),
)
"""Each operation and mode's share of the generated requests."""
KEYED = {GenerationMode.POSITIVE: 0.9, GenerationMode.NEGATIVE: 0.6}
"""How often a case's own (generated) credentials are replaced by a working API key."""
SERVED_MODEL = 0.8
"""How often a positive case's generated model is replaced by one the gateway serves."""


def schema_probes(document: dict[str, Any], count: int, seed: int, ctx: Context) -> list[Probe]:
    """About ``count`` requests generated from ``document``, the same for the same seed."""
    schema = schemathesis.openapi.from_dict(document)
    operations = {
        (operation.method.upper(), operation.path): operation
        for operation in (result.ok() for result in schema.get_all_operations())
    }
    rng = random.Random(seed)  # noqa: S311 - a seeded plan, not secrets
    probes = []
    for method, path, mode, share in SHARES:
        strategy = operations[method, path].as_strategy(generation_mode=mode)
        cases = draw(strategy, max(1, round(count * share)), seed)
        probes.extend(_probe(case, mode, rng, ctx) for case in cases)
    return probes


def draw(strategy: SearchStrategy[Case], count: int, seed: int) -> list[Case]:
    """Up to ``count`` examples of ``strategy`` (fewer when it has fewer), seeded."""
    drawn: list[Case] = []

    @hypothesis.seed(seed)
    @settings(
        max_examples=count,
        database=None,
        phases=[Phase.generate],
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(case: Case) -> None:
        drawn.append(case)

    collect()
    return drawn[:count]


def _probe(case: Case, mode: GenerationMode, rng: random.Random, ctx: Context) -> Probe:
    headers = dict(case.headers or {})
    if case.path.startswith("/v1/") and rng.random() < KEYED[mode]:
        headers.pop("api-key", None)
        headers["Authorization"] = f"Bearer {rng.choice(ctx.keys)}"
    body = None
    if case.body is not NOT_SET:
        headers.setdefault("Content-Type", case.media_type or "application/json")
        body = case.body if isinstance(case.body, bytes) else dumps(_body(case, mode, rng, ctx))
    query = f"?{urlencode(case.query, doseq=True)}" if case.query else ""
    wire = request(
        ctx,
        case.method.upper(),
        case.formatted_path + query,
        headers=list(headers.items()),
        body=body,
    )
    return Probe(kind=f"schema/{mode}/{case.path}", parts=(wire,))


def _body(case: Case, mode: GenerationMode, rng: random.Random, ctx: Context) -> Any:
    body = case.body
    if mode is GenerationMode.POSITIVE and isinstance(body, dict) and rng.random() < SERVED_MODEL:
        if case.path == CHAT:
            body = {**body, "model": rng.choice(ctx.chat_models)}
        elif case.path == EMBEDDINGS:
            body = {**body, "model": rng.choice(ctx.embedding_models)}
    return with_canary(body, ctx.canary)
