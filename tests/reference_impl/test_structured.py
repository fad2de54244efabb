"""Structured answers: schema checks, readable problems, unsupported keywords, the repair turn."""

from __future__ import annotations

import json
from typing import Any

import pytest

from reference_impl.structured import (
    UnsupportedSchema,
    answer_content,
    repair_messages,
    requested_schema,
    validator_for,
)


ORDER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["customer", "status", "lines"],
    "properties": {
        "customer": {
            "type": "object",
            "additionalProperties": False,
            "required": ["name"],
            "properties": {
                "name": {"type": "string", "minLength": 1},
                "email": {"type": ["string", "null"], "format": "email"},
            },
        },
        "status": {"enum": ["open", "shipped", "cancelled"]},
        "lines": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["sku", "quantity"],
                "properties": {
                    "sku": {"type": "string"},
                    "quantity": {"type": "integer", "minimum": 1},
                    "unit": {"$ref": "#/$defs/unit"},
                },
            },
        },
        "rush": {"type": "boolean", "description": "ship today"},
    },
    "$defs": {"unit": {"const": "piece"}},
}

VALID = {
    "customer": {"name": "Ada", "email": None},
    "status": "shipped",
    "lines": [{"sku": "A-1", "quantity": 2, "unit": "piece"}, {"sku": "B-2", "quantity": 1}],
    "rush": False,
}


def problems_of(answer: Any, schema: dict[str, Any] = ORDER_SCHEMA) -> list[str]:
    return validator_for(schema).problems(json.dumps(answer))


def test_a_valid_answer_has_no_problems() -> None:
    assert problems_of(VALID) == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"status": "lost"}, "status"),
        ({"rush": "yes"}, "rush"),
        ({"customer": {"name": ""}}, "customer.name"),
        ({"customer": {"name": "Ada", "email": 7}}, "customer.email"),
        ({"lines": []}, "lines"),
        ({"lines": [{"sku": "A-1", "quantity": "2"}]}, "lines[0].quantity"),
        ({"lines": [{"sku": "A-1", "quantity": 0}]}, "lines[0].quantity"),
        ({"lines": [{"sku": "A-1", "quantity": 1, "unit": "box"}]}, "lines[0].unit"),
    ],
)
def test_a_wrong_value_is_a_problem_naming_its_field(change: dict[str, Any], field: str) -> None:
    problems = problems_of({**VALID, **change})

    assert len(problems) == 1
    assert problems[0].startswith(f"field '{field}': ")


def test_a_missing_required_field_is_named() -> None:
    answer = {key: value for key, value in VALID.items() if key != "status"}

    assert problems_of(answer) == ["field 'status': Field required"]


def test_an_extra_field_is_named_when_additional_properties_are_false() -> None:
    assert problems_of({**VALID, "note": "hi"}) == ["field 'note': Extra inputs are not permitted"]


def test_extra_fields_are_allowed_where_additional_properties_are_not_false() -> None:
    line = {"sku": "A-1", "quantity": 1, "colour": "red"}

    assert problems_of({**VALID, "lines": [line]}) == []


@pytest.mark.parametrize("content", ["here is your order: {}", "```json\n{}\n```", ""])
def test_text_that_is_not_json_is_a_problem(content: str) -> None:
    problems = validator_for(ORDER_SCHEMA).problems(content)

    assert len(problems) == 1
    assert problems[0].startswith("not JSON: ")


def test_no_content_is_a_problem() -> None:
    assert validator_for(ORDER_SCHEMA).problems(None) == ["no content: the answer has no text"]


def test_the_wrong_top_level_shape_is_a_problem() -> None:
    assert problems_of([VALID]) == ["the answer: Input should be an object"]


def test_problems_are_capped() -> None:
    schema = {"type": "array", "items": {"type": "integer"}}

    problems = problems_of(["x"] * 25, schema)

    assert len(problems) == 11
    assert problems[-1] == "... and 15 more problems"


@pytest.mark.parametrize(
    ("schema", "named"),
    [
        ({"type": "object", "properties": {"a": {"oneOf": [{"type": "string"}]}}}, "'oneOf'"),
        ({"type": "array", "items": {"type": "string"}, "uniqueItems": True}, "'uniqueItems'"),
        ({"type": "string", "pattern": "(?<=a)b"}, "pydantic cannot check"),
        ({"type": "date"}, "unsupported type 'date'"),
        ({"anyOf": [{"type": "string"}], "minLength": 2}, "anyOf combined with minLength"),
        (
            {
                "$ref": "#/$defs/node",
                "$defs": {"node": {"properties": {"n": {"$ref": "#/$defs/node"}}}},
            },
            "recursive $ref",
        ),
        ({"$ref": "https://example.com/schema.json"}, "is not a #/$defs/<name>"),
    ],
)
def test_unsupported_schemas_are_refused_saying_why(schema: dict[str, Any], named: str) -> None:
    with pytest.raises(UnsupportedSchema, match=named.replace("$", r"\$")):
        validator_for(schema)


def test_an_unsupported_schema_is_refused_every_time() -> None:
    schema = {"type": "object", "properties": {"a": {"not": {"type": "string"}}}}

    for _ in range(2):
        with pytest.raises(UnsupportedSchema, match="'not'"):
            validator_for(schema)


def test_any_of_and_type_lists_accept_each_alternative() -> None:
    schema = {
        "type": "object",
        "properties": {
            "id": {"anyOf": [{"type": "integer"}, {"type": "string", "maxLength": 3}]},
            "score": {"type": ["number", "null"], "maximum": 1},
        },
    }

    assert problems_of({"id": 7, "score": 0.5}, schema) == []
    assert problems_of({"id": "abc", "score": None}, schema) == []
    assert problems_of({"id": 7, "score": 2}, schema) == [
        "field 'score': Input should be less than or equal to 1"
    ]
    assert problems_of({"id": "abcd"}, schema) != []


def test_an_equal_schema_reuses_the_cached_validator() -> None:
    reordered = json.loads(json.dumps(ORDER_SCHEMA, sort_keys=True))

    assert validator_for(reordered) is validator_for(ORDER_SCHEMA)
    assert validator_for({**ORDER_SCHEMA, "title": "Order"}) is not validator_for(ORDER_SCHEMA)


def test_requested_schema_reads_a_json_schema_response_format() -> None:
    body = {
        "model": "gpt-4o",
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "order", "schema": ORDER_SCHEMA, "strict": True},
        },
    }

    assert requested_schema(body) == ORDER_SCHEMA
    assert requested_schema({"model": "gpt-4o"}) is None
    assert requested_schema({"response_format": {"type": "json_object"}}) is None
    assert requested_schema({"response_format": {"type": "json_schema"}}) is None


def test_repair_messages_append_the_bad_answer_and_a_request_for_json_only() -> None:
    messages = [
        {"role": "system", "content": "You fill in orders."},
        {"role": "user", "content": "Two of A-1 for Ada."},
    ]

    repaired = repair_messages(
        messages,
        bad_answer="Sure! {status: open}",
        problems=["not JSON: expected value at line 1 column 1"],
    )

    assert repaired[:2] == messages
    assert repaired[2] == {"role": "assistant", "content": "Sure! {status: open}"}
    assert repaired[3]["role"] == "user"
    assert "- not JSON: expected value at line 1 column 1" in repaired[3]["content"]
    assert "only the JSON" in repaired[3]["content"]
    assert len(repaired) == 4
    assert len(messages) == 2


def test_answer_content_reads_the_first_choice() -> None:
    completion = {
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "{}"}}],
    }

    assert answer_content(completion) == "{}"
    assert answer_content({"choices": []}) is None
    assert answer_content({"choices": [{"message": {"content": None}}]}) is None
    assert answer_content({"error": {"message": "boom"}}) is None
