"""Request bodies: parsed and checked before anything else, so bad input is a JSON 400.

Only the fields the gateway acts on are checked; every other field passes through to the
provider unchanged. An error names the field (``messages.0.role``) and the problem.

Two limits keep hostile bodies from the rest of the gateway: a body may nest arrays and objects
at most ``MAX_JSON_DEPTH`` levels deep, and an output cap (``max_tokens``,
``max_completion_tokens``) is an integer from 1 to ``MAX_OUTPUT_TOKENS``. An integer longer
than Python converts (``sys.get_int_max_str_digits()``, 4300 digits) is refused as not JSON.

A request sent again byte for byte (what a cache hit answers) need not be parsed and checked
again: ``ParsedBodies`` remembers the outcome for recent small bodies.
"""

from __future__ import annotations

import json
import sys
from collections import OrderedDict
from typing import Annotated, Any, Generic, Literal, TypeVar

import pydantic
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

from .errors import InvalidRequest


MAX_JSON_DEPTH = 64
"""The deepest nesting of arrays and objects a request body may have, the body itself being
level 1. Real requests nest a handful of levels (tool and response schemas a few more); the
limit keeps every recursive walk of a body (validation, the cache key, re-encoding it for the
provider) far below Python's recursion limit. A deeper body is a 400."""

PARSED_ENTRIES = 256
PARSED_BODY_BYTES = 4096
"""``ParsedBodies`` keeps the last ``PARSED_ENTRIES`` bodies of at most this many bytes, and the
bytes of as many seen once. Measured with tracemalloc, all full: 0.6 MiB for bodies of one
short message, 1.5 MiB for one message of 3,900 characters, 20.8 MiB for 98 short messages in
3,868 bytes (a dict and a pydantic model per message: the worst case)."""

MAX_OUTPUT_TOKENS = 1_000_000
"""The largest output cap (``max_tokens``, ``max_completion_tokens``) a request may ask for.

Above the longest output of any model the gateway is likely to serve (current models allow up
to about 128k tokens), so no real request is refused; low enough that a budget reservation
(prompt plus this cap) stays a bounded number and the token arithmetic, 64-bit in Redis, cannot
overflow. A larger cap, or one that is not a JSON integer, is a 400.
"""

OutputTokens = Annotated[int, Field(strict=True, ge=1, le=MAX_OUTPUT_TOKENS)]
"""An output cap: a JSON integer (not a string, float or boolean) in ``1..MAX_OUTPUT_TOKENS``."""


class Lenient(BaseModel):
    """Checks its own fields; other fields are allowed and ignored here."""

    model_config = ConfigDict(extra="allow", frozen=True)


ContentParts = list[dict[str, Any]]


def _text_parts_are_strings(content: str | ContentParts | None) -> str | ContentParts | None:
    """A text part's ``text`` must be a string: the provider fails on any other (a 5xx, which
    would be retried, fall back and count against its breaker) where it should refuse."""
    for index, part in enumerate(content if isinstance(content, list) else []):
        if part.get("type") == "text" and not isinstance(part.get("text"), str):
            message = "content[{index}].text must be a string"
            raise PydanticCustomError("text_part", message, {"index": index})
    return content


class Message(Lenient):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: Annotated[
        str | ContentParts | None, pydantic.AfterValidator(_text_parts_are_strings)
    ] = None


class StreamOptions(Lenient):
    include_usage: bool | None = None


class ChatBody(Lenient):
    """``POST /v1/chat/completions``."""

    model: str = Field(min_length=1)
    messages: list[Message] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    max_tokens: OutputTokens | None = None
    max_completion_tokens: OutputTokens | None = None
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
    """The request body as sent and as a JSON object (``parse_json_object``)."""
    raw = await request.read()
    return raw, parse_json_object(raw)


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """``raw`` as a JSON object, or ``InvalidRequest`` saying what is wrong (not JSON, an
    integer too long to convert, not an object, nested deeper than ``MAX_JSON_DEPTH``)."""
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidRequest(f"the body is not valid JSON: {exc}") from exc
    except ValueError:  # an integer with more digits than Python converts
        raise InvalidRequest(_TOO_LONG_NUMBER) from None
    except RecursionError:  # the parser's own guard, far deeper than the limit
        raise InvalidRequest(_TOO_DEEP) from None
    if not isinstance(body, dict):
        raise InvalidRequest("the body must be a JSON object")
    if _may_nest_deeper_than(raw, MAX_JSON_DEPTH) and _nests_deeper_than(body, MAX_JSON_DEPTH):
        raise InvalidRequest(_TOO_DEEP)
    return body


_TOO_DEEP = f"the body nests arrays and objects deeper than {MAX_JSON_DEPTH} levels"
_TOO_LONG_NUMBER = (
    f"the body is not valid JSON: a number has more than {sys.get_int_max_str_digits()} digits"
)


def _may_nest_deeper_than(raw: bytes, limit: int) -> bool:
    """False when ``raw`` has too few brackets to open more than ``limit`` levels (each level
    opens with one), which spares most bodies the walk of ``_nests_deeper_than``."""
    return raw.count(b"[") + raw.count(b"{") > limit


def _nests_deeper_than(value: Any, limit: int) -> bool:
    """Whether ``value`` has more than ``limit`` levels of arrays and objects; iterative, so
    that no depth of input can exhaust the stack."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        node, depth = pending.pop()
        children = node.values() if isinstance(node, dict) else node
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def validate(model: type[Body], data: dict[str, Any]) -> Body:
    """``data`` as ``model``, or ``InvalidRequest`` naming the first bad field."""
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in error["loc"])
        raise InvalidRequest(f"{where}: {error['msg']}", param=where or None) from None


class ParsedBodies(Generic[Body]):
    """Bodies parsed and validated as ``model``, kept by their bytes for the
    ``PARSED_ENTRIES`` most recently used of at most ``PARSED_BODY_BYTES``: a body sent again
    is neither parsed nor checked again. A body refused is not kept.

    A body is kept from its second time on: until then only its bytes are remembered (among
    the last ``PARSED_ENTRIES`` seen). Bytes are no work for the garbage collector, where
    parsed objects kept for a while are, so a stream of distinct bodies (cache misses) does
    not fill the collector's older generations.

    Each caller gets a JSON object of its own at the top level, which the gateway may change
    (``Exchange.rewrite_body``); the values inside are shared, and nothing changes them.
    """

    def __init__(self, model: type[Body]) -> None:
        self._model = model
        self._parsed: OrderedDict[bytes, tuple[dict[str, Any], Body]] = OrderedDict()
        self._seen: OrderedDict[bytes, None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._parsed)

    def parse(self, raw: bytes) -> tuple[dict[str, Any], Body]:
        """``raw`` as a JSON object and as the model, or ``InvalidRequest`` naming what is
        wrong (``parse_json_object``, ``validate``)."""
        kept = self._parsed.get(raw)
        if kept is not None:
            self._parsed.move_to_end(raw)
            data, checked = kept
            return dict(data), checked
        data = parse_json_object(raw)
        checked = validate(self._model, data)
        if len(raw) > PARSED_BODY_BYTES:
            return data, checked
        if raw in self._seen:  # its second time
            del self._seen[raw]
            _keep_recent(self._parsed, raw, (dict(data), checked))
        else:
            _keep_recent(self._seen, raw, None)
        return data, checked


def _keep_recent(recent: OrderedDict[bytes, Any], raw: bytes, value: Any) -> None:
    """Add ``raw`` to ``recent``, dropping the oldest beyond ``PARSED_ENTRIES``."""
    recent[raw] = value
    if len(recent) > PARSED_ENTRIES:
        recent.popitem(last=False)
