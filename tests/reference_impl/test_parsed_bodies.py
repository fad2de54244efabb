"""ParsedBodies: a body sent again is neither parsed nor checked again, and each caller may
change its own copy."""

from __future__ import annotations

import json

import pytest

from reference_impl import validation
from reference_impl.errors import InvalidRequest
from reference_impl.validation import ChatBody, ParsedBodies


def _raw(content: str = "hello", **fields: object) -> bytes:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}], **fields}
    return json.dumps(body).encode()


def test_a_body_sent_again_is_not_parsed_again(monkeypatch: pytest.MonkeyPatch) -> None:
    bodies = ParsedBodies(ChatBody)
    first_data, first_chat = bodies.parse(_raw())
    monkeypatch.setattr(validation, "parse_json_object", lambda _raw: pytest.fail("parsed again"))
    data, chat = bodies.parse(_raw())
    assert chat is first_chat
    assert data == first_data


def test_each_caller_changes_its_own_top_level_object() -> None:
    """What ``Exchange.rewrite_body`` does to one request never reaches the next."""
    bodies = ParsedBodies(ChatBody)
    first, _ = bodies.parse(_raw(max_tokens=64))
    first["model"] = "local-llm"
    first.pop("max_tokens")
    second, _ = bodies.parse(_raw(max_tokens=64))
    second["model"] = "other"
    third, chat = bodies.parse(_raw(max_tokens=64))
    assert third["model"] == "gpt-4o-mini"
    assert third["max_tokens"] == chat.max_tokens == 64


def test_a_refused_body_is_refused_again_and_not_kept() -> None:
    bodies = ParsedBodies(ChatBody)
    for _ in range(2):
        with pytest.raises(InvalidRequest, match=r"messages: List should have at least 1 item"):
            bodies.parse(b'{"model": "gpt-4o-mini", "messages": []}')
        with pytest.raises(InvalidRequest, match="not valid JSON"):
            bodies.parse(b'{"model": ')
    assert len(bodies) == 0


def test_a_long_body_is_not_kept() -> None:
    bodies = ParsedBodies(ChatBody)
    long_body = _raw("x" * validation.PARSED_BODY_BYTES)
    data, _ = bodies.parse(long_body)
    assert data["messages"][0]["content"] == "x" * validation.PARSED_BODY_BYTES
    assert len(bodies) == 0


def test_the_least_recently_used_body_goes_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(validation, "PARSED_ENTRIES", 2)
    bodies = ParsedBodies(ChatBody)
    _, kept_a = bodies.parse(_raw("a"))
    bodies.parse(_raw("b"))
    bodies.parse(_raw("a"))  # used again: "b" is now the oldest
    bodies.parse(_raw("c"))
    assert len(bodies) == 2
    assert bodies.parse(_raw("a"))[1] is kept_a
    monkeypatch.setattr(validation, "parse_json_object", lambda _raw: pytest.fail("parsed again"))
    bodies.parse(_raw("c"))
    with pytest.raises(pytest.fail.Exception, match="parsed again"):
        bodies.parse(_raw("b"))
