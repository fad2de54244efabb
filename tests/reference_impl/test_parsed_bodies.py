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


def _no_more_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(validation, "parse_json_object", lambda _raw: pytest.fail("parsed again"))


def test_a_body_is_kept_from_its_second_time(monkeypatch: pytest.MonkeyPatch) -> None:
    bodies = ParsedBodies(ChatBody)
    bodies.parse(_raw())
    assert len(bodies) == 0  # once: only its bytes are remembered
    second_data, second_chat = bodies.parse(_raw())
    assert len(bodies) == 1
    _no_more_parsing(monkeypatch)
    data, chat = bodies.parse(_raw())
    assert chat is second_chat
    assert data == second_data


def test_each_caller_changes_its_own_top_level_object() -> None:
    """What ``Exchange.rewrite_body`` does to one request never reaches the next."""
    bodies = ParsedBodies(ChatBody)
    for model in ("local-llm", "other", "third"):
        data, _ = bodies.parse(_raw(max_tokens=64))
        data["model"] = model
        data.pop("max_tokens")
    data, chat = bodies.parse(_raw(max_tokens=64))
    assert data["model"] == "gpt-4o-mini"
    assert data["max_tokens"] == chat.max_tokens == 64


def test_a_refused_body_is_refused_again_and_not_kept() -> None:
    bodies = ParsedBodies(ChatBody)
    for _ in range(3):
        with pytest.raises(InvalidRequest, match=r"messages: List should have at least 1 item"):
            bodies.parse(b'{"model": "gpt-4o-mini", "messages": []}')
        with pytest.raises(InvalidRequest, match="not valid JSON"):
            bodies.parse(b'{"model": ')
    assert len(bodies) == 0


def test_a_long_body_is_not_kept() -> None:
    bodies = ParsedBodies(ChatBody)
    long_body = _raw("x" * validation.PARSED_BODY_BYTES)
    for _ in range(3):
        data, _ = bodies.parse(long_body)
    assert data["messages"][0]["content"] == "x" * validation.PARSED_BODY_BYTES
    assert len(bodies) == 0


def test_the_least_recently_used_body_goes_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(validation, "PARSED_ENTRIES", 2)
    bodies = ParsedBodies(ChatBody)
    for content in ("a", "b", "a", "b"):
        bodies.parse(_raw(content))
    bodies.parse(_raw("a"))  # used again: "b" is now the oldest kept
    bodies.parse(_raw("c"))
    bodies.parse(_raw("c"))
    assert len(bodies) == 2
    _no_more_parsing(monkeypatch)
    bodies.parse(_raw("a"))
    bodies.parse(_raw("c"))
    with pytest.raises(pytest.fail.Exception, match="parsed again"):
        bodies.parse(_raw("b"))


def test_a_body_seen_once_is_forgotten_among_many(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the last ``PARSED_ENTRIES`` bodies seen once count towards a second time."""
    monkeypatch.setattr(validation, "PARSED_ENTRIES", 2)
    bodies = ParsedBodies(ChatBody)
    for content in ("a", "b", "c", "a"):
        bodies.parse(_raw(content))
    assert len(bodies) == 0  # "a" had been forgotten: its second sighting counts as a first
    bodies.parse(_raw("c"))
    assert len(bodies) == 1
