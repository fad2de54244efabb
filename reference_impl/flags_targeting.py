"""A flag's ``targeting``: the JsonLogic subset of flagd's format, compiled once per file.

Supported operators (anything else is refused when the file is read):

- ``{"var": "tenant"}`` (or ``["tenant", default]``): a field of the evaluation context, with
  dotted paths (``$flagd.flagKey``); the gateway's context has ``tenant``, ``model`` (the
  model asked for) and ``targetingKey``;
- ``{"if": [condition, then, condition, then, ..., else]}``;
- ``{"==": [a, b]}`` and ``{"in": [needle, list or string]}``;
- ``{"fractional": [bucket_by?, [variant, weight], ...]}``: a percentage split. A request's
  bucket is a stable hash of the flag's key and its ``targetingKey`` (or of ``bucket_by``
  when given), so one key always lands in one variant, and raising a variant's weight only
  moves keys into it. The hash is BLAKE2b, not flagd's murmur3: the shares are the same, the
  members of each share are not.

A rule is compiled into nested closures, so evaluating one costs a few function calls and no
parsing. Its result is a variant name, or None for the flag's default.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any


Context = Mapping[str, Any]
Rule = Callable[[Context], Any]
OPERATORS = ("var", "if", "==", "in", "fractional")
FLAGD = "$flagd"
TARGETING_KEY = "targetingKey"


class TargetingError(ValueError):
    """A rule that cannot be compiled; the message says where and why."""


def compile_rule(node: Any, *, flag_key: str, variants: Sequence[str]) -> Rule:
    """``node`` as a function of the evaluation context; ``variants`` are the flag's, which
    every variant a rule names literally must be one of."""
    return _Compiler(flag_key, frozenset(variants)).rule(node, "targeting")


def bucket(key: str, total: int) -> int:
    """The bucket in ``[0, total)`` of ``key``: a stable hash, uniform over keys."""
    digest = hashlib.blake2b(key.encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") * total >> 32


class _Compiler:
    def __init__(self, flag_key: str, variants: frozenset[str]) -> None:
        self._flag_key = flag_key
        self._variants = variants

    def rule(self, node: Any, where: str) -> Rule:
        if isinstance(node, list):
            items = [self.rule(item, f"{where}[{i}]") for i, item in enumerate(node)]
            return lambda context: [item(context) for item in items]
        if not isinstance(node, dict):
            return lambda _context: node
        if len(node) != 1:
            raise TargetingError(f"{where}: an operation has exactly one operator, got {node}")
        [(operator, args)] = node.items()
        at = f"{where}.{operator}"
        if operator == "var":
            return _var(args, at)
        if operator == "if":
            return self._if(args, at)
        if operator in ("==", "in"):
            return self._binary(operator, args, at)
        if operator == "fractional":
            return self._fractional(args, at)
        raise TargetingError(
            f"{where}: unknown operator {operator!r}; supported: {', '.join(OPERATORS)}"
        )

    def _if(self, args: Any, at: str) -> Rule:
        if not isinstance(args, list) or not args:
            raise TargetingError(f"{at}: needs a list [condition, then, ..., else]")
        for index in range(1, len(args), 2):
            self._check_variant(args[index], f"{at}[{index}]")
        if len(args) % 2:
            self._check_variant(args[-1], f"{at}[{len(args) - 1}]")
        parts = [self.rule(arg, f"{at}[{i}]") for i, arg in enumerate(args)]
        pairs = list(zip(parts[0::2], parts[1::2], strict=False))
        otherwise = parts[-1] if len(parts) % 2 else None

        def choose(context: Context) -> Any:
            for condition, then in pairs:
                if condition(context):
                    return then(context)
            return otherwise(context) if otherwise is not None else None

        return choose

    def _binary(self, operator: str, args: Any, at: str) -> Rule:
        if not isinstance(args, list) or len(args) != 2:  # noqa: PLR2004 - two operands
            raise TargetingError(f"{at}: needs two operands, got {args!r}")
        left, right = (self.rule(arg, f"{at}[{i}]") for i, arg in enumerate(args))
        if operator == "==":
            return lambda context: left(context) == right(context)

        def contains(context: Context) -> bool:
            needle, haystack = left(context), right(context)
            if isinstance(haystack, str):
                return isinstance(needle, str) and needle in haystack
            return isinstance(haystack, list) and needle in haystack

        return contains

    def _fractional(self, args: Any, at: str) -> Rule:
        if not isinstance(args, list) or not args:
            raise TargetingError(f"{at}: needs [bucket_by?, [variant, weight], ...]")
        by: Rule | None = None
        if not isinstance(args[0], list):
            by, args = self.rule(args[0], f"{at}[0]"), args[1:]
        names, ends = self._buckets(args, at)
        total = ends[-1]
        prefix = self._flag_key

        def split(context: Context) -> str | None:
            key = by(context) if by is not None else _targeting_key(context, prefix)
            if not isinstance(key, str) or not key:
                return None
            return names[bisect.bisect_right(ends, bucket(key, total))]

        return split

    def _buckets(self, args: list[Any], at: str) -> tuple[list[str], list[int]]:
        names: list[str] = []
        ends: list[int] = []
        for index, item in enumerate(args):
            where = f"{at}[{index}]"
            if not isinstance(item, list) or not 1 <= len(item) <= 2:  # noqa: PLR2004
                raise TargetingError(f"{where}: a bucket is [variant] or [variant, weight]")
            weight = item[1] if len(item) == 2 else 1  # noqa: PLR2004
            if isinstance(weight, bool) or not isinstance(weight, int) or weight < 0:
                raise TargetingError(f"{where}: a weight is an integer >= 0, got {weight!r}")
            self._check_variant(item[0], where, required=True)
            names.append(item[0])
            ends.append((ends[-1] if ends else 0) + weight)
        if not ends or ends[-1] <= 0:
            raise TargetingError(f"{at}: the weights add up to 0")
        return names, ends

    def _check_variant(self, value: Any, where: str, *, required: bool = False) -> None:
        """A literal a rule answers with must name a variant (None keeps the default)."""
        if isinstance(value, str) and value not in self._variants:
            known = ", ".join(sorted(self._variants))
            raise TargetingError(f"{where}: {value!r} is not a variant of the flag ({known})")
        if required and not isinstance(value, str):
            raise TargetingError(f"{where}: a bucket's variant is a string, got {value!r}")


def _var(args: Any, at: str) -> Rule:
    default = None
    if isinstance(args, list) and 1 <= len(args) <= 2:  # noqa: PLR2004 - [path, default]
        default = args[1] if len(args) == 2 else None  # noqa: PLR2004
        args = args[0]
    if not isinstance(args, str) or not args:
        raise TargetingError(f"{at}: needs a field name, got {args!r}")
    path = args.split(".")

    def lookup(context: Context) -> Any:
        value: Any = context
        for part in path:
            if not isinstance(value, Mapping) or part not in value:
                return default
            value = value[part]
        return value

    return lookup


def _targeting_key(context: Context, flag_key: str) -> str | None:
    """flagd's default bucketing value: the flag's key, then the context's targeting key."""
    key = context.get(TARGETING_KEY)
    return f"{flag_key}{key}" if isinstance(key, str) and key else None
