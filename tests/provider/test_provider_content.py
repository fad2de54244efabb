"""Deterministic content: one-token vocabulary, lengths, finish reasons, JSON output."""

from __future__ import annotations

import datetime as dt
import enum
import json
import random
from typing import Any, Literal

import pytest
from pydantic import BaseModel, Field

from stack.provider import content, schema, tokens
from stack.provider.content import OutputFormat
from stack.provider.vocab import STARTERS, WORDS


MESSAGES = [{"role": "user", "content": "Tell me about caches."}]


def _generate(
    index: int = 0,
    *,
    cap: int | None = None,
    fmt: OutputFormat = content.TEXT,
    messages: object = MESSAGES,
    seed: int = 0,
) -> content.Completion:
    digest = content.request_digest("gpt-4o", messages, seed=seed)
    return content.generate(
        content.choice_rng(digest, index), min_tokens=40, max_tokens=160, cap=cap, fmt=fmt
    )


def test_every_word_is_one_token_after_a_space() -> None:
    assert len(set(WORDS)) == len(WORDS)
    multi = [word for word in WORDS if len(tokens.encode(f" {word}")) != 1]
    assert multi == []


def test_every_starter_is_one_token_with_or_without_a_space() -> None:
    multi = [s for s in STARTERS if len(tokens.encode(s)) != 1 or len(tokens.encode(f" {s}")) != 1]
    assert multi == []


def test_same_request_same_answer_other_inputs_other_answers() -> None:
    first = _generate()
    assert _generate() == first
    assert _generate(index=1) != first
    assert _generate(seed=1) != first
    assert _generate(messages=[{"role": "user", "content": "Something else."}]) != first


def test_natural_length_is_within_bounds_and_stops() -> None:
    lengths = set()
    for seed in range(50):
        completion = _generate(seed=seed)
        assert 40 <= completion.tokens <= 160
        assert completion.finish_reason == "stop"
        assert completion.text.endswith(".")
        assert completion.text[0].isupper()
        # the text re-tokenizes to exactly its pieces: usage == streamed chunks
        assert len(tokens.encode(completion.text)) == completion.tokens
        lengths.add(completion.tokens)
    assert len(lengths) > 10


def test_max_tokens_cuts_the_answer_with_finish_reason_length() -> None:
    full = _generate()
    capped = _generate(cap=7)
    assert capped.tokens == 7
    assert capped.finish_reason == "length"
    assert full.text.startswith(capped.text)
    assert _generate(cap=full.tokens) == full


def test_json_object_mode_gives_a_small_object_streamed_token_by_token() -> None:
    completion = _generate(fmt=OutputFormat("json_object"))
    value = json.loads(completion.text)
    assert isinstance(value, dict)
    assert set(value) == {"answer", "confidence", "tags"}
    assert completion.tokens == len(tokens.encode(completion.text)) == len(completion.pieces)


def test_truncated_json_is_realistically_invalid() -> None:
    completion = _generate(cap=3, fmt=OutputFormat("json_object"))
    assert completion.finish_reason == "length"
    with pytest.raises(json.JSONDecodeError):
        json.loads(completion.text)


class Status(enum.Enum):
    OPEN = "open"
    CLOSED = "closed"


class Item(BaseModel):
    name: str = Field(min_length=3, max_length=12)
    quantity: int = Field(ge=1, le=5)
    price: float = Field(gt=0, lt=10)
    kind: Literal["book", "pen"]


class Order(BaseModel):
    id: int
    items: list[Item] = Field(min_length=2, max_length=4)
    note: str | None
    paid: bool
    status: Status
    created: dt.datetime
    version: Literal[2] = 2
    tags: list[str] = Field(default_factory=list, max_length=0)


def test_json_schema_instances_validate_against_pydantic_models() -> None:
    fmt = OutputFormat("json_schema", Order.model_json_schema())
    texts = set()
    for seed in range(40):
        completion = _generate(seed=seed, fmt=fmt)
        assert completion.finish_reason == "stop"
        order = Order.model_validate_json(completion.text)
        assert 2 <= len(order.items) <= 4
        texts.add(completion.text)
    assert len(texts) > 30


def test_type_lists_nullable_and_const() -> None:
    node: dict[str, Any] = {
        "type": "object",
        "properties": {
            "a": {"type": ["integer", "null"], "minimum": 3, "maximum": 3},
            "b": {"type": "string", "nullable": True, "enum": ["x", "y"]},
            "c": {"const": {"fixed": True}},
            "d": {
                "type": "array",
                "items": {"type": "number", "exclusiveMinimum": 0},
                "minItems": 5,
            },
            "e": {"type": "null"},
        },
        "required": ["a", "b", "c", "d", "e"],
    }
    for seed in range(20):
        value = schema.instance(node, random.Random(seed))  # noqa: S311 - not crypto
        assert value["a"] == 3
        assert value["b"] in {"x", "y"}
        assert value["c"] == {"fixed": True}
        assert len(value["d"]) >= 5
        assert all(isinstance(x, float) and x > 0 for x in value["d"])
        assert value["e"] is None


class Tree(BaseModel):
    label: str
    child: Tree | None
    children: list[Tree]


def test_recursive_schemas_terminate() -> None:
    fmt = OutputFormat("json_schema", Tree.model_json_schema())
    for seed in range(10):
        Tree.model_validate_json(_generate(seed=seed, fmt=fmt).text)


def test_a_schema_without_a_finite_instance_is_an_error() -> None:
    node = {"type": "object", "properties": {"next": {"$ref": "#/$defs/Node"}}}
    endless = {"$ref": "#/$defs/Node", "$defs": {"Node": node | {"required": ["next"]}}}
    with pytest.raises(schema.SchemaError):
        schema.instance(endless, random.Random(0))  # noqa: S311 - not crypto
