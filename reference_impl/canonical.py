"""Cache keys: which requests may share an answer, and the key they share it under.

Only deterministic requests are cached or coalesced: ``temperature`` explicitly 0 (the
OpenAI default is 1) or a tenant that opted in, and one choice. Embeddings (a body with
``input`` and no ``messages``) are deterministic.

A key is a keyed BLAKE2b (a MAC whose key is the tenant's salt) of a canonical JSON of the
route, the prompt version and every field of the request but those known not to change the
answer (``stream``, ``stream_options``, ``user``, ``metadata``, ...), so a streamed and a plain
request share an entry, while a field the gateway does not know (a new sampling parameter, a
vendor extension) can never make two different requests share one. Equivalent spellings give
one key: message text with its whitespace collapsed, dict keys in any order, a ``null`` field or
message member as absent, ``1.0`` as ``1``. Embeddings ``input`` is kept verbatim, since
every character reaches the vector. The salt keeps tenants apart and makes a key say nothing
about the prompt it came from.

The walks here recurse: they rely on request bodies being refused past
``validation.MAX_JSON_DEPTH`` levels of nesting before a key is made.

A key is a function of the body's bytes (with the salt, prompt version and route), so
``KeyMemo`` keeps the keys of recently seen bodies, as sent, by those bytes: the repeated
request a cache hit answers skips the canonical JSON and the hash. BLAKE2b is CPython's own
code: HMAC-SHA256 through OpenSSL cost 16-24 µs a key from cold caches (what a cache miss
meets), BLAKE2b 4-8.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any


NON_SEMANTIC_FIELDS = frozenset(
    {"stream", "stream_options", "user", "metadata", "store", "service_tier", "safety_identifier"}
)
"""Fields that do not change the answer; every other field is part of the key."""
FINGERPRINT_HEX_CHARS = 16
MEMO_ENTRIES = 1024
MEMO_BODY_BYTES = 8192
"""Bodies longer than this are not remembered: the memo stays under 8 MiB of bodies."""
_CANONICAL_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"))


def is_deterministic(body: Mapping[str, Any], *, opt_in: bool = False) -> bool:
    """Whether identical requests may share one answer (cache and coalescing)."""
    if _is_embeddings(body):
        return True
    n = body.get("n")
    if n is not None and n != 1:
        return False
    temperature = body.get("temperature")
    explicit_zero = _is_number(temperature) and temperature == 0
    return explicit_zero or opt_in


def cache_key(body: Mapping[str, Any], *, salt: str, prompt_version: str, route: str) -> str:
    """The tenant-salted key (64 hex) under which equivalent requests share an answer."""
    semantic = {
        name: _canonical(value)
        for name, value in body.items()
        if name not in NON_SEMANTIC_FIELDS and value is not None
    }
    if "messages" in semantic:
        semantic["messages"] = _normalised_messages(semantic["messages"])
    document = {"route": route, "prompt_version": prompt_version, "request": semantic}
    return _salted_hash(document, salt=salt)


class KeyMemo:
    """The cache keys of the ``MEMO_ENTRIES`` most recently used request bodies of at most
    ``MEMO_BODY_BYTES``, by the bytes as sent (with the salt, prompt version and route)."""

    def __init__(self) -> None:
        self._keys: OrderedDict[tuple[bytes, str, str, str], str] = OrderedDict()

    def __len__(self) -> int:
        return len(self._keys)

    def cache_key(
        self, raw: bytes, body: Mapping[str, Any], *, salt: str, prompt_version: str, route: str
    ) -> str:
        """``cache_key(body, ...)``, where ``body`` is ``raw`` parsed and unchanged since."""
        if len(raw) > MEMO_BODY_BYTES:
            return cache_key(body, salt=salt, prompt_version=prompt_version, route=route)
        memo = (raw, salt, prompt_version, route)
        key = self._keys.get(memo)
        if key is not None:
            self._keys.move_to_end(memo)
            return key
        key = self._keys[memo] = cache_key(
            body, salt=salt, prompt_version=prompt_version, route=route
        )
        if len(self._keys) > MEMO_ENTRIES:
            self._keys.popitem(last=False)
        return key


def prompt_fingerprint(messages: Any, *, salt: str) -> str:
    """A short salted hash of the normalised messages: logs correlate prompts, never show them."""
    normalised = _normalised_messages(_canonical(messages))
    return _salted_hash(normalised, salt=salt)[:FINGERPRINT_HEX_CHARS]


def normalise_text(text: str) -> str:
    """``text`` stripped, every run of whitespace collapsed to one space."""
    return " ".join(text.split())


def _is_embeddings(body: Mapping[str, Any]) -> bool:
    return "input" in body and "messages" not in body


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _canonical(value: Any) -> Any:
    """A JSON value with integral floats written as ints (``1.0`` and ``1`` are one number)."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if isinstance(value, Mapping):
        return {key: _canonical(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(item) for item in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _normalised_messages(messages: Any) -> Any:
    if not isinstance(messages, list):
        return messages
    return [_normalised_message(message) for message in messages]


def _normalised_message(message: Any) -> Any:
    if not isinstance(message, dict):
        return message
    normalised = {key: value for key, value in message.items() if value is not None}
    content = normalised.get("content")
    if isinstance(content, str):
        normalised["content"] = normalise_text(content)
    elif isinstance(content, list):
        normalised["content"] = [_normalised_part(part) for part in content]
    return normalised


def _normalised_part(part: Any) -> Any:
    if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str):
        return {**part, "text": normalise_text(part["text"])}
    return part


def _salted_hash(document: Any, *, salt: str) -> str:
    key = salt.encode()
    if len(key) > hashlib.blake2b.MAX_KEY_SIZE:  # a longer salt keys by its hash, as in HMAC
        key = hashlib.blake2b(key).digest()
    canonical_json = _CANONICAL_JSON.encode(document).encode()
    return hashlib.blake2b(canonical_json, key=key, digest_size=32).hexdigest()
