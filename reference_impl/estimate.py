"""A cheap upper estimate of a prompt's tokens, for budget reservations.

Reservations must not under-count, or concurrent requests could overrun a budget; they need
not be exact, because settlement uses the provider's ``usage``. English text runs at about
four characters per token, so a third of the characters, plus OpenAI's per-message overhead,
is a safe bound that costs no tokenizer on the hot path.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


TOKENS_PER_MESSAGE = 4
REPLY_PRIMING = 3


def text_of(content: object) -> str:
    """The text of a message content: a string, or the text parts of a list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, Mapping))
    return ""


def prompt_tokens_upper(messages: Iterable[Mapping[str, Any]]) -> int:
    """At least the tokens the provider will count for these chat messages."""
    total = REPLY_PRIMING
    for message in messages:
        total += TOKENS_PER_MESSAGE + -(-len(text_of(message.get("content"))) // 3)
    return total


def input_tokens_upper(value: object) -> int:
    """At least the tokens of an embeddings ``input``."""
    if isinstance(value, str):
        return -(-len(value) // 3) + 1
    if isinstance(value, list):
        return sum(_item_tokens(item) for item in value)
    return 1


def _item_tokens(item: object) -> int:
    """A text (estimated), a token id (one) or a list of token ids (its length)."""
    if isinstance(item, list):
        return len(item)
    return input_tokens_upper(item) if isinstance(item, str) else 1
