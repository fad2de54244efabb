"""A flags file in flagd's format, read and checked as a whole.

::

    {"flags": {"chat-model": {"state": "ENABLED",
                              "variants": {"stable": "gpt-4o-mini", "canary": "gpt-4o"},
                              "defaultVariant": "stable",
                              "targeting": {"fractional": [["stable", 90], ["canary", 10]]}}}}

The subset read: ``state`` (``ENABLED`` or ``DISABLED``), ``variants``, ``defaultVariant``
(a variant, or null for the caller's default), ``targeting`` (see ``flags_targeting``; empty
or absent means none) and ``metadata``; at the top, ``flags``, ``metadata`` and ``$schema``.
Anything else (``$evaluators``, unknown keys) is refused, so a file never half-works.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .flags_targeting import Rule, TargetingError, compile_rule


TOP_KEYS = frozenset({"flags", "metadata", "$schema"})
FLAG_KEYS = frozenset({"state", "variants", "defaultVariant", "targeting", "metadata"})
STATES = ("ENABLED", "DISABLED")


class FlagsFileError(ValueError):
    """A flags file that cannot be used; the message says where and why."""


@dataclass(frozen=True, slots=True)
class Flag:
    """One flag, its targeting compiled."""

    key: str
    enabled: bool
    variants: Mapping[str, Any]
    default_variant: str | None
    rule: Rule | None


def parse_flags(text: str | bytes) -> dict[str, Flag]:
    """The flags of a flagd document; ``FlagsFileError`` naming the first problem."""
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise FlagsFileError(f"not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise FlagsFileError("the top level must be an object with 'flags'")
    unknown = sorted(set(document) - TOP_KEYS)
    if unknown:
        raise FlagsFileError(f"unsupported top-level keys: {', '.join(unknown)}")
    flags = document.get("flags")
    if not isinstance(flags, dict):
        raise FlagsFileError("'flags' must be an object of flag key -> flag")
    return {key: _flag(key, value) for key, value in flags.items()}


def _flag(key: str, value: Any) -> Flag:
    where = f"flags.{key}"
    if not isinstance(value, dict):
        raise FlagsFileError(f"{where}: a flag is an object")
    unknown = sorted(set(value) - FLAG_KEYS)
    if unknown:
        raise FlagsFileError(f"{where}: unsupported keys: {', '.join(unknown)}")
    state = value.get("state")
    if state not in STATES:
        raise FlagsFileError(f"{where}.state: must be ENABLED or DISABLED, got {state!r}")
    variants = value.get("variants")
    if not isinstance(variants, dict) or not variants:
        raise FlagsFileError(f"{where}.variants: must be a non-empty object of name -> value")
    default = value.get("defaultVariant")
    if default is not None and default not in variants:
        raise FlagsFileError(f"{where}.defaultVariant: {default!r} is not one of its variants")
    targeting = value.get("targeting")
    try:
        rule = compile_rule(targeting, flag_key=key, variants=list(variants)) if targeting else None
    except TargetingError as exc:
        raise FlagsFileError(f"{where}.{exc}") from None
    return Flag(
        key=key,
        enabled=state == "ENABLED",
        variants=variants,
        default_variant=default,
        rule=rule,
    )
