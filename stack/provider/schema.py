"""Deterministic instances of a JSON schema, for structured outputs.

Covers what structured-output schemas use in practice: ``type`` (one or a
list), object ``properties``/``required``, arrays with ``items`` and
``minItems``/``maxItems``, strings with ``enum``/``const``/lengths/common
formats, bounded numbers and integers, booleans, ``null``/``nullable``,
``anyOf``/``oneOf``/``allOf`` and local ``$ref``s (``#/$defs/...``), recursive
ones included: past ``MAX_DEPTH`` only what is required is generated, and a
nullable branch is taken as null. A schema that cannot be instantiated raises
``SchemaError``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from typing import Any

from stack.provider.vocab import WORDS


MAX_DEPTH = 6
HARD_DEPTH = 64
MAX_ITEMS = 256
MAX_LENGTH = 10_000
DEFAULT_SPAN = 100
FORMATS = {
    "date-time": "2024-05-13T09:30:00Z",
    "date": "2024-05-13",
    "time": "09:30:00",
    "email": "user@example.com",
    "uri": "https://example.com/",
    "uuid": "00000000-0000-4000-8000-000000000000",
}


class SchemaError(ValueError):
    """The schema is invalid, or no instance of it can be built."""


def instance(schema: Mapping[str, Any], rng: random.Random) -> Any:
    """A value that validates against ``schema``, drawn from ``rng``."""
    return _Instance(schema, rng).value(schema, 0)


class _Instance:
    def __init__(self, root: Mapping[str, Any], rng: random.Random) -> None:
        self.root = root
        self.rng = rng

    def value(self, node: object, depth: int) -> Any:  # noqa: PLR0911 - one return per keyword
        """An instance of ``node``, found ``depth`` levels below the root."""
        if depth > HARD_DEPTH:
            raise SchemaError("the schema nests too deeply (a required recursive $ref?)")
        if not isinstance(node, Mapping):
            return "value"  # a boolean schema `true` accepts anything
        if "$ref" in node:
            return self.value(self._resolve(node["$ref"]), depth + 1)
        if "const" in node:
            return node["const"]
        if "enum" in node:
            return self.rng.choice(_list(node, "enum", allow_empty=False))
        for key in ("anyOf", "oneOf"):
            if key in node:
                return self.value(self._pick_option(_list(node, key), depth), depth + 1)
        if "allOf" in node:
            return self.value(_merge(_list(node, "allOf")), depth + 1)
        return self._typed(node, depth)

    def _typed(self, node: Mapping[str, Any], depth: int) -> Any:
        kind = self._kind(node, depth)
        if kind == "object":
            return self._object(node, depth)
        if kind == "array":
            return self._array(node, depth)
        if kind in {"integer", "number"}:
            return self._number(node, integer=kind == "integer")
        if kind == "boolean":
            return self.rng.random() < 0.5  # noqa: PLR2004 - a fair coin
        if kind == "null":
            return None
        return self._string(node)

    def _resolve(self, ref: object) -> object:
        if not isinstance(ref, str) or not ref.startswith("#"):
            raise SchemaError(f"only local $refs are supported, not {ref!r}")
        node: object = self.root
        for part in ref.removeprefix("#").strip("/").split("/"):
            if not part:
                continue
            if not isinstance(node, Mapping) or part not in node:
                raise SchemaError(f"$ref {ref!r} does not resolve")
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def _pick_option(self, options: list[Any], depth: int) -> object:
        null = [o for o in options if isinstance(o, Mapping) and o.get("type") == "null"]
        other = [o for o in options if o not in null]
        if null and (depth >= MAX_DEPTH or not other):
            return null[0]
        return self.rng.choice(other or options)

    def _kind(self, node: Mapping[str, Any], depth: int) -> str:
        kind = node.get("type")
        if isinstance(kind, list):
            other = [str(k) for k in kind if k != "null"]
            if not other or (depth >= MAX_DEPTH and "null" in kind):
                return "null"
            return self.rng.choice(other)
        if isinstance(kind, str):
            return kind
        if "properties" in node:
            return "object"
        if "items" in node:
            return "array"
        return "string"

    def _object(self, node: Mapping[str, Any], depth: int) -> dict[str, Any]:
        properties = node.get("properties") or {}
        if not isinstance(properties, Mapping):
            raise SchemaError("'properties' must be an object")
        required = set(_list(node, "required")) if "required" in node else set()
        return {
            name: self.value(sub, depth + 1)
            for name, sub in properties.items()
            if depth < MAX_DEPTH or name in required
        }

    def _array(self, node: Mapping[str, Any], depth: int) -> list[Any]:
        low = _bound(node, "minItems", 0, MAX_ITEMS)
        count = low if depth >= MAX_DEPTH else max(low, self.rng.randint(1, 3))
        count = min(count, _bound(node, "maxItems", count, MAX_ITEMS))
        return [self.value(node.get("items", {}), depth + 1) for _ in range(count)]

    def _number(self, node: Mapping[str, Any], *, integer: bool) -> float | int:
        low = _number(node, "minimum", _number(node, "exclusiveMinimum", None))
        high = _number(node, "maximum", _number(node, "exclusiveMaximum", None))
        lo = low if low is not None else 0.0 if high is None else high - DEFAULT_SPAN
        hi = high if high is not None else lo + DEFAULT_SPAN
        if integer:
            lo_i = math.floor(lo) + 1 if "exclusiveMinimum" in node else math.ceil(lo)
            hi_i = math.ceil(hi) - 1 if "exclusiveMaximum" in node else math.floor(hi)
            return self.rng.randint(lo_i, max(lo_i, hi_i))
        value = round(self.rng.uniform(lo, hi), 2)
        return value if lo < value < hi else (lo + hi) / 2

    def _string(self, node: Mapping[str, Any]) -> str:
        fmt = node.get("format")
        if isinstance(fmt, str) and fmt in FORMATS:
            return FORMATS[fmt]
        text = " ".join(self.rng.choices(WORDS, k=self.rng.randint(1, 4)))
        min_length = _bound(node, "minLength", 0, MAX_LENGTH)
        if len(text) < min_length:
            text += "x" * (min_length - len(text))
        return text[: _bound(node, "maxLength", len(text), MAX_LENGTH)]


def _list(node: Mapping[str, Any], key: str, *, allow_empty: bool = True) -> list[Any]:
    value = node[key]
    if not isinstance(value, list) or not (value or allow_empty):
        raise SchemaError(f"{key!r} must be a{'' if allow_empty else ' non-empty'} array")
    return value


def _bound(node: Mapping[str, Any], key: str, default: int, limit: int) -> int:
    value = node.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= limit:
        raise SchemaError(f"{key!r} must be an integer between 0 and {limit}")
    return value


def _number(node: Mapping[str, Any], key: str, default: float | None) -> float | None:
    value = node.get(key)
    if value is None:
        return default
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise SchemaError(f"{key!r} must be a number")
    return float(value)


def _merge(parts: list[Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for part in parts:
        if not isinstance(part, Mapping):
            raise SchemaError("'allOf' must hold schemas")
        for key, value in part.items():
            if key == "properties" and isinstance(value, Mapping):
                merged["properties"] = {**merged.get("properties", {}), **value}
            elif key == "required" and isinstance(value, list):
                merged["required"] = [*merged.get("required", []), *value]
            else:
                merged.setdefault(key, value)
    return merged
