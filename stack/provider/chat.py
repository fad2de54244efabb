"""POST /v1/chat/completions: JSON or SSE, timed by the latency model."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Annotated, Any, Literal, Self

from aiohttp import web
from pydantic import Field, field_validator, model_validator

from stack.provider import content, tokens
from stack.provider.admission import admitted
from stack.provider.content import OutputFormat
from stack.provider.errors import BadRequestError
from stack.provider.faults import FaultPlan
from stack.provider.inbound import (
    Lenient,
    api_key,
    common_headers,
    parse_object,
    read_body,
    validate,
)
from stack.provider.keys import STATE, TICKET
from stack.provider.latency import Timing
from stack.provider.outbound import cut_json_response, json_response
from stack.provider.reply import Reply, fingerprint
from stack.provider.schema import SchemaError
from stack.provider.sse import stream_reply


MAX_CHOICES = 8
PositiveInt = Annotated[int, Field(ge=1)]


class Message(Lenient):
    """One chat message."""

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: Any = None
    name: str | None = None

    @field_validator("content")
    @classmethod
    def _check_content(cls, value: Any) -> Any:
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, list) and all(
            isinstance(part, dict) and isinstance(part.get("type"), str) for part in value
        ):
            return value
        raise ValueError("expected a string or an array of content parts")

    @model_validator(mode="after")
    def _require_content(self) -> Self:
        if self.content is None and self.role != "assistant":
            raise ValueError(f"'content' is required for role '{self.role}'")
        return self


class StreamOptions(Lenient):
    """``stream_options``."""

    include_usage: bool | None = None


class JsonSchema(Lenient):
    """``response_format.json_schema``."""

    name: str | None = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None


class ResponseFormat(Lenient):
    """``response_format``."""

    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchema | None = None

    @model_validator(mode="after")
    def _require_schema(self) -> Self:
        if self.type == "json_schema" and self.json_schema is None:
            raise ValueError("'json_schema' is required when type is 'json_schema'")
        return self

    def output_format(self) -> OutputFormat:
        """What the generated content must look like."""
        schema = self.json_schema.schema_ if self.json_schema is not None else None
        return OutputFormat(self.type, schema if self.type == "json_schema" else None)


class ChatRequest(Lenient):
    """The fields of a chat completion request that the provider checks or uses."""

    model: str
    messages: list[Message] = Field(min_length=1)
    max_tokens: PositiveInt | None = None
    max_completion_tokens: PositiveInt | None = None
    n: Annotated[int, Field(ge=1, le=MAX_CHOICES)] | None = None
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    top_p: Annotated[float, Field(ge=0, le=1)] | None = None
    seed: int | None = None
    response_format: ResponseFormat | None = None
    user: str | None = None


_JSON_TYPES: tuple[tuple[type, str], ...] = (
    (bool, "a boolean"),  # before int: a bool is an int
    (int, "an integer"),
    (float, "a decimal"),
    (dict, "an object"),
    (list, "an array"),
)


def _check_text_parts(messages: list[Any]) -> None:
    """A text part's ``text`` must be a string: otherwise a 400 naming it, as OpenAI answers."""
    for at, message in enumerate(messages):
        parts = message.get("content")
        if not isinstance(parts, list):
            continue
        for index, part in enumerate(parts):
            if part.get("type") != "text" or isinstance(part.get("text"), str):
                continue
            param = f"messages[{at}].content[{index}].text"
            if "text" not in part:
                raise BadRequestError(f"Missing required parameter: '{param}'.", param=param)
            value = part["text"]
            got = next((name for kind, name in _JSON_TYPES if isinstance(value, kind)), "null")
            raise BadRequestError(
                f"Invalid type for '{param}': expected a string, but got {got} instead.",
                param=param,
            )


async def chat_completions(request: web.Request) -> web.StreamResponse:
    """Answer a chat completion like OpenAI, after the modelled delay."""
    state = request.app[STATE]
    runtime = state.runtime
    data = parse_object(await read_body(request, runtime.config.max_body_bytes))
    body = validate(ChatRequest, data)
    _check_text_parts(data["messages"])
    key = api_key(request)
    spec = runtime.model(body.model, "chat")
    n = body.n or 1
    cap = body.max_completion_tokens or body.max_tokens
    fmt = body.response_format.output_format() if body.response_format else content.TEXT
    prompt_tokens = tokens.chat_prompt_tokens(data["messages"])
    cost = prompt_tokens + n * (cap or spec.output_tokens_max)
    seed = runtime.config.seed
    digest = content.request_digest(
        spec.name, data["messages"], seed=seed, extra=[body.seed, fmt.kind, fmt.schema]
    )
    try:
        choices = tuple(
            content.generate(
                content.choice_rng(digest, index),
                min_tokens=spec.output_tokens_min,
                max_tokens=spec.output_tokens_max,
                cap=cap,
                fmt=fmt,
            )
            for index in range(n)
        )
    except SchemaError as err:
        raise BadRequestError(
            f"Invalid schema for response_format: {err}.", param="response_format"
        ) from None
    async with admitted(request, runtime, spec, api_key=key, tokens=cost) as admission:
        request[TICKET].prompt_tokens = prompt_tokens
        reply = Reply.new(
            model=spec.name,
            fingerprint=fingerprint(spec.name, seed),
            choices=choices,
            prompt_tokens=prompt_tokens,
        )
        plan = admission.plan
        timing = state.latency.sample(
            spec, tokens=reply.longest, load=admission.load, multiplier=plan.latency_multiplier
        )
        if body.stream:
            include_usage = bool(body.stream_options and body.stream_options.include_usage)
            return await stream_reply(
                request,
                reply,
                timing,
                plan,
                headers=admission.headers,
                include_usage=include_usage,
            )
        return await _respond(request, reply, timing, plan, admission.headers)


async def _respond(
    request: web.Request,
    reply: Reply,
    timing: Timing,
    plan: FaultPlan,
    limit_headers: Mapping[str, str],
) -> web.StreamResponse:
    ticket = request[TICKET]
    cut = plan.truncate_after_tokens
    if cut is not None:
        await asyncio.sleep(_time_of_token(timing, min(cut, reply.longest)))
        ticket.completion_tokens = sum(min(cut, choice.tokens) for choice in reply.choices)
        headers = {**common_headers(request), **limit_headers}
        return await cut_json_response(request, reply.body(), headers=headers)
    stall = plan.stall_after_tokens
    stalled = stall is not None and stall < reply.longest
    await asyncio.sleep(timing.total_s + (plan.stall_s if stalled else 0.0))
    ticket.completion_tokens = reply.completion_tokens
    headers = {**common_headers(request), **limit_headers}
    return json_response(reply.body(), headers=headers, malformed=plan.malformed)


def _time_of_token(timing: Timing, count: int) -> float:
    """When the first ``count`` tokens are out."""
    return timing.ttft_s + sum(timing.gaps_s[: count - 1]) if count else 0.0
