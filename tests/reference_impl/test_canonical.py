"""Cache keys: equivalent requests share a key, different ones never do; determinism rules."""

from __future__ import annotations

import json
from typing import Any

import pytest

from reference_impl import canonical
from reference_impl.canonical import KeyMemo, cache_key, is_deterministic, prompt_fingerprint


BASE: dict[str, Any] = {
    "model": "gpt-4o-mini",
    "temperature": 0,
    "messages": [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "What is the capital of France?"},
    ],
}


def key(body: dict[str, Any], *, salt: str = "tenant-a", prompt_version: str = "v1") -> str:
    return cache_key(body, salt=salt, prompt_version=prompt_version, route="chat")


def test_a_key_is_64_hex_and_stable() -> None:
    first = key(BASE)
    assert first == key(dict(BASE))
    assert len(first) == 64
    assert int(first, 16) >= 0


@pytest.mark.parametrize(
    "variant",
    [
        {
            **BASE,
            "messages": [
                {"content": "  You are\tterse. ", "role": "system"},
                {"role": "user", "content": "What  is the\ncapital of   France?\n"},
            ],
        },
        {key_: BASE[key_] for key_ in reversed(list(BASE))},
        {**BASE, "temperature": 0.0},
        {**BASE, "seed": None, "user": "alice", "stream": True, "metadata": {"a": "b"}},
        {**BASE, "stream_options": {"include_usage": True}, "store": True},
    ],
    ids=["whitespace", "key-order", "float-zero", "null-and-non-semantic", "stream-options"],
)
def test_equivalent_requests_share_a_key(variant: dict[str, Any]) -> None:
    assert key(variant) == key(BASE)


def test_text_parts_of_list_content_are_normalised() -> None:
    def parts(text: str) -> dict[str, Any]:
        return {**BASE, "messages": [{"role": "user", "content": [{"type": "text", "text": text}]}]}

    assert key(parts("hello   world")) == key(parts(" hello world\n"))
    assert key(parts("hello world")) != key(parts("hello there"))


@pytest.mark.parametrize(
    "change",
    [
        {"model": "gpt-4o"},
        {"temperature": 0.5},
        {"max_tokens": 10},
        {"seed": 7},
        {"stop": ["\n"]},
        {"response_format": {"type": "json_object"}},
        {"tools": [{"type": "function", "function": {"name": "f"}}]},
        {"top_p": 0.9},
        {"logprobs": True},
        {"messages": [{"role": "user", "content": "What is the capital of Spain?"}]},
    ],
)
def test_a_semantic_difference_changes_the_key(change: dict[str, Any]) -> None:
    assert key({**BASE, **change}) != key(BASE)


def test_salt_prompt_version_and_route_change_the_key() -> None:
    assert key(BASE, salt="tenant-b") != key(BASE)
    assert key(BASE, prompt_version="v2") != key(BASE)
    assert cache_key(BASE, salt="tenant-a", prompt_version="v1", route="other") != key(BASE)


def test_embeddings_keys_use_input_dimensions_and_format() -> None:
    body = {"model": "text-embedding-3-small", "input": ["a b"], "user": "x"}
    assert key(body) == key({**body, "user": "y"})
    assert key(body) != key({**body, "input": ["a  b"]})
    assert key(body) != key({**body, "dimensions": 256})
    assert key(body) != key({**body, "encoding_format": "base64"})


def test_a_salt_longer_than_a_hash_key_still_keys_apart() -> None:
    long_salt = "s" * 200
    assert key(BASE, salt=long_salt) != key(BASE, salt=long_salt[:-1] + "t")
    assert len(key(BASE, salt=long_salt)) == 64


def test_prompt_fingerprint_is_short_salted_and_normalised() -> None:
    messages = BASE["messages"]
    fingerprint = prompt_fingerprint(messages, salt="tenant-a")
    assert len(fingerprint) == 16
    spaced = [{**message, "content": f" {message['content']}  "} for message in messages]
    assert prompt_fingerprint(spaced, salt="tenant-a") == fingerprint
    assert prompt_fingerprint(messages, salt="tenant-b") != fingerprint
    assert "France" not in fingerprint


CHAT = {"model": "gpt-4o-mini", "messages": BASE["messages"]}


@pytest.mark.parametrize(
    ("body", "opt_in", "expected"),
    [
        ({**CHAT, "temperature": 0}, False, True),
        ({**CHAT, "temperature": 0.0, "n": 1}, False, True),
        ({**CHAT, "temperature": 0, "n": None}, False, True),
        (CHAT, False, False),
        ({**CHAT, "temperature": None}, False, False),
        ({**CHAT, "temperature": 0.2}, False, False),
        ({**CHAT, "temperature": False}, False, False),
        ({**CHAT, "temperature": 0.7}, True, True),
        (CHAT, True, True),
        ({**CHAT, "temperature": 0, "n": 2}, False, False),
        ({**CHAT, "temperature": 0.7, "n": 3}, True, False),
        ({"model": "text-embedding-3-small", "input": "hi"}, False, True),
    ],
)
def test_only_deterministic_requests_qualify(
    body: dict[str, Any], *, opt_in: bool, expected: bool
) -> None:
    assert is_deterministic(body, opt_in=opt_in) is expected


@pytest.mark.parametrize(
    "extra",
    [
        {"reasoning_effort": "high"},
        {"parallel_tool_calls": False},
        {"functions": [{"name": "f", "parameters": {}}]},
        {"top_k": 5},
    ],
    ids=["reasoning-effort", "parallel-tool-calls", "functions", "vendor-field"],
)
def test_a_field_the_gateway_does_not_know_keeps_requests_apart(extra: dict[str, Any]) -> None:
    assert key({**BASE, **extra}) != key(BASE)


# The memo of recent bodies' keys


def _memo_key(memo: KeyMemo, body: dict[str, Any], salt: str = "s") -> str:
    raw = json.dumps(body).encode()
    return memo.cache_key(raw, json.loads(raw), salt=salt, prompt_version="v1", route="chat")


def test_the_memo_gives_the_key_of_the_body_and_remembers_it_by_its_bytes() -> None:
    memo = KeyMemo()
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "temperature": 0}
    expected = cache_key(body, salt="s", prompt_version="v1", route="chat")
    assert _memo_key(memo, body) == _memo_key(memo, body) == expected
    assert len(memo) == 1
    assert _memo_key(memo, body, salt="t") == cache_key(
        body, salt="t", prompt_version="v1", route="chat"
    )
    assert len(memo) == 2  # another tenant's salt: another entry, another key


def test_the_memo_keeps_the_most_recently_used_bodies_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(canonical, "MEMO_ENTRIES", 2)
    made: list[Any] = []

    def counted(body: Any, **options: str) -> str:
        made.append(body["input"])
        return cache_key(body, **options)

    monkeypatch.setattr(canonical, "cache_key", counted)
    memo = KeyMemo()
    first, second, third = ({"model": "m", "input": str(n)} for n in range(3))
    for body in (first, second, first, third):  # first is the most recent when third comes
        _memo_key(memo, body)
    assert made == ["0", "1", "2"]
    _memo_key(memo, first)
    _memo_key(memo, second)  # dropped for third: made again
    assert made == ["0", "1", "2", "1"]
    assert len(memo) == 2


def test_a_long_body_is_keyed_but_not_remembered() -> None:
    memo = KeyMemo()
    body = {"model": "m", "input": "x" * canonical.MEMO_BODY_BYTES}
    assert _memo_key(memo, body) == cache_key(body, salt="s", prompt_version="v1", route="chat")
    assert len(memo) == 0
