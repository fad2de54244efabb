"""Request bodies: parsed and checked before anything else, so bad input is a JSON 400.

Only the fields the gateway acts on are checked; every other field passes through to the
provider unchanged. An error names the field (``messages.0.role``) and the problem.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, TypeVar

import pydantic
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from .errors import InvalidRequest


class Lenient(BaseModel):
    """Checks its own fields; other fields are allowed and ignored here."""

    model_config = ConfigDict(extra="allow", frozen=True)


class Message(Lenient):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[dict[str, Any]] | None = None


class StreamOptions(Lenient):
    include_usage: bool | None = None


class ChatBody(Lenient):
    """``POST /v1/chat/completions``."""

    model: str = Field(min_length=1)
    messages: list[Message] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    max_tokens: PositiveInt | None = None
    max_completion_tokens: PositiveInt | None = None
    n: Annotated[int, Field(ge=1, le=128)] | None = None
    response_format: dict[str, Any] | None = None

    @property
    def max_output_tokens(self) -> int | None:
        """The cap on output tokens the client asked for, if any."""
        return self.max_completion_tokens or self.max_tokens

    @property
    def include_usage(self) -> bool:
        """Whether the client asked for the usage event of a stream."""
        return bool(self.stream_options and self.stream_options.include_usage)


class EmbeddingsBody(Lenient):
    """``POST /v1/embeddings``."""

    model: str = Field(min_length=1)
    input: str | list[str] | list[int] | list[list[int]]


Body = TypeVar("Body", bound=BaseModel)


async def read_json_object(request: web.Request) -> tuple[bytes, dict[str, Any]]:
    """The request body as sent and as a JSON object, or ``InvalidRequest`` saying what is
    wrong."""
    raw = await request.read()
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidRequest(f"the body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise InvalidRequest("the body must be a JSON object")
    return raw, body


def validate(model: type[Body], data: dict[str, Any]) -> Body:
    """``data`` as ``model``, or ``InvalidRequest`` naming the first bad field."""
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in error["loc"])
        raise InvalidRequest(f"{where}: {error['msg']}", param=where or None) from None
