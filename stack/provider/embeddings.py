"""POST /v1/embeddings: deterministic unit vectors, float or base64."""

from __future__ import annotations

import asyncio
import base64
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import Field, field_validator

from stack.provider import tokens, vectors
from stack.provider.admission import admitted
from stack.provider.errors import BadRequestError
from stack.provider.inbound import (
    Lenient,
    api_key,
    common_headers,
    parse_object,
    read_body,
    validate,
)
from stack.provider.keys import STATE, TICKET
from stack.provider.outbound import json_response


MAX_INPUTS = 2048
MAX_INPUT_TOKENS = 8192
BAD_INPUT = (
    "expected a non-empty string, an array of non-empty strings, an array of token ids "
    f"or an array of token-id arrays, with at most {MAX_INPUTS} items"
)


def _is_token_ids(value: object) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(t, int) and not isinstance(t, bool) and t >= 0 for t in value)
    )


class EmbeddingRequest(Lenient):
    """The fields of an embeddings request that the provider checks or uses."""

    model: str
    input: Any
    dimensions: Annotated[int, Field(ge=1)] | None = None
    encoding_format: Literal["float", "base64"] | None = None
    user: str | None = None

    @field_validator("input")
    @classmethod
    def _normalise_input(cls, value: Any) -> list[str] | list[list[int]]:
        """Every input as a list of texts or a list of token-id lists."""
        if isinstance(value, str) and value:
            return [value]
        if _is_token_ids(value):
            return [value]
        if isinstance(value, list) and 0 < len(value) <= MAX_INPUTS:
            if all(isinstance(v, str) and v for v in value):
                return value
            if all(_is_token_ids(v) for v in value):
                return value
        raise ValueError(BAD_INPUT)

    def token_ids(self) -> list[list[int]]:
        """The token ids of every input."""
        return [tokens.encode(item) if isinstance(item, str) else item for item in self.input]


async def embeddings(request: web.Request) -> web.StreamResponse:
    """Answer an embeddings request after a noisy time to first token."""
    state = request.app[STATE]
    runtime = state.runtime
    body = validate(
        EmbeddingRequest,
        parse_object(await read_body(request, runtime.config.max_body_bytes)),
    )
    key = api_key(request)
    spec = runtime.model(body.model, "embedding")
    size = body.dimensions or spec.dimensions
    if size > spec.dimensions:
        raise BadRequestError(
            f"Invalid value for 'dimensions' = {size}. "
            f"Must be less than or equal to {spec.dimensions}.",
            param="dimensions",
        )
    inputs = body.token_ids()
    longest = max(len(ids) for ids in inputs)
    if longest > MAX_INPUT_TOKENS:
        raise BadRequestError(
            f"This model's maximum context length is {MAX_INPUT_TOKENS} tokens, "
            f"however you requested {longest} tokens. Please reduce your prompt.",
            param="input",
        )
    prompt_tokens = sum(len(ids) for ids in inputs)
    async with admitted(request, runtime, spec, api_key=key, tokens=prompt_tokens) as admission:
        request[TICKET].prompt_tokens = prompt_tokens
        timing = state.latency.sample(
            spec, tokens=0, load=admission.load, multiplier=admission.plan.latency_multiplier
        )
        await asyncio.sleep(timing.ttft_s)
        space_id = vectors.space(spec.name, runtime.config.seed)
        as_base64 = body.encoding_format == "base64"
        data = []
        for index, ids in enumerate(inputs):
            vector = vectors.embed(ids, space_id=space_id, dimensions=spec.dimensions, size=size)
            encoded: str | list[float] = (
                base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
                if as_base64
                else vector.tolist()
            )
            data.append({"object": "embedding", "index": index, "embedding": encoded})
        payload = {
            "object": "list",
            "data": data,
            "model": spec.name,
            "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
        }
        headers = {**common_headers(request), **admission.headers}
        return json_response(payload, headers=headers, malformed=admission.plan.malformed)
