"""Deterministic completions: the same request always gets the same answer.

A request is hashed (model, canonical messages, seeds, output format) with
sha256; each choice draws from its own ``random.Random`` seeded by that hash
and the choice index. Prose is built from one-token pieces (see ``vocab``), so
the number of pieces is the number of completion tokens and of streamed
chunks. JSON output is tokenized and streamed one token per piece.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from stack.provider import schema, tokens
from stack.provider.vocab import STARTERS, WORDS


MAX_SENTENCE = 16
MIN_SENTENCE = 6

FinishReason = Literal["stop", "length"]


@dataclass(frozen=True, slots=True)
class OutputFormat:
    """What the completion must look like (from ``response_format``)."""

    kind: Literal["text", "json_object", "json_schema"] = "text"
    schema: Mapping[str, Any] | None = None


TEXT = OutputFormat()


@dataclass(frozen=True, slots=True)
class Completion:
    """One choice: its pieces (one token each) and why it ended."""

    pieces: tuple[str, ...]
    finish_reason: FinishReason

    @property
    def text(self) -> str:
        """The whole content."""
        return "".join(self.pieces)

    @property
    def tokens(self) -> int:
        """Completion tokens of this choice."""
        return len(self.pieces)


def request_digest(model: str, messages: object, *, seed: int, extra: object = None) -> bytes:
    """A stable hash of everything that determines the answer."""
    canonical = json.dumps(
        [model, messages, seed, extra], sort_keys=True, separators=(",", ":"), default=str
    )
    return hashlib.sha256(canonical.encode()).digest()


def choice_rng(digest: bytes, index: int) -> random.Random:
    """The random source of choice ``index`` of a request."""
    return random.Random(digest + index.to_bytes(4, "big"))  # noqa: S311 - not crypto


def generate(
    rng: random.Random,
    *,
    min_tokens: int,
    max_tokens: int,
    cap: int | None = None,
    fmt: OutputFormat = TEXT,
) -> Completion:
    """A completion of natural length in ``min_tokens..max_tokens``, cut at ``cap``."""
    if fmt.kind == "text":
        pieces = _prose(rng, rng.randint(min_tokens, max_tokens))
    elif fmt.kind == "json_schema" and fmt.schema is not None:
        pieces = _json_pieces(schema.instance(fmt.schema, rng))
    else:
        pieces = _json_pieces(_small_object(rng))
    if cap is not None and cap < len(pieces):
        return Completion(tuple(pieces[:cap]), "length")
    return Completion(tuple(pieces), "stop")


def _prose(rng: random.Random, count: int) -> list[str]:
    pieces: list[str] = []
    remaining = count
    while remaining > 0:
        length = (
            remaining
            if remaining <= MAX_SENTENCE
            else rng.randint(MIN_SENTENCE, min(MAX_SENTENCE, remaining - 3))
        )
        starter = rng.choice(STARTERS)
        pieces.append(f" {starter}" if pieces else starter)
        if length > 1:
            pieces.extend(f" {word}" for word in rng.choices(WORDS, k=length - 2))
            pieces.append(".")
        remaining -= length
    return pieces


def _small_object(rng: random.Random) -> dict[str, Any]:
    return {
        "answer": " ".join(rng.choices(WORDS, k=rng.randint(3, 8))),
        "confidence": round(rng.uniform(0.5, 1.0), 2),
        "tags": rng.sample(WORDS, k=rng.randint(1, 3)),
    }


def _json_pieces(value: object) -> list[str]:
    text = json.dumps(value, separators=(",", ":"))
    single = tokens.encoding().decode_single_token_bytes
    return [single(token).decode() for token in tokens.encode(text)]
