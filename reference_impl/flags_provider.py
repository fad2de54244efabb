"""An OpenFeature provider of a flags file in flagd's format, re-read when it changes.

The file is read and checked whole (``flags_file``). Evaluating a flag does no I/O: at most
once every ``poll_s`` an evaluation looks at the file's modification time and size (one
``stat``), and reads it again only when they changed. A file that turns bad is logged and
the last good flags stay in force; a missing or bad file at start is an error.

Resolution, as flagd does it: an unknown flag is ``FLAG_NOT_FOUND``; a disabled flag gives
the caller's default (reason ``DISABLED``); targeting that names a variant gives it
(``TARGETING_MATCH``); otherwise the default variant (``STATIC`` without targeting,
``DEFAULT`` with) or, without one, the caller's default. A value of another type than asked
for is ``TYPE_MISMATCH`` (an integer is a float too: JSON has one kind of number).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import FlagNotFoundError, TypeMismatchError
from openfeature.flag_evaluation import FlagResolutionDetails, FlagValueType, Reason
from openfeature.hook import Hook
from openfeature.provider import AbstractProvider, Metadata

from .flags_file import Flag, FlagsFileError, parse_flags
from .flags_targeting import FLAGD, TARGETING_KEY


log = logging.getLogger(__name__)
PROVIDER_NAME = "meltproof-flagd-file"
Value = TypeVar("Value")
Stamp = tuple[int, int, int]
ObjectValue = Sequence[FlagValueType] | Mapping[str, FlagValueType]


class FlagsFile:
    """The flags of one file, re-read when its modification time, size or inode change."""

    def __init__(
        self, path: Path, *, poll_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.path = path
        self._poll_s = poll_s
        self._clock = clock
        self._stamp = _stamp(path)
        self.flags = _read(path)
        self._next_look = clock() + poll_s

    def current(self) -> Mapping[str, Flag]:
        """The flags in force, looking at the file when ``poll_s`` has passed."""
        now = self._clock()
        if now >= self._next_look:
            self._next_look = now + self._poll_s
            self._look()
        return self.flags

    def _look(self) -> None:
        try:
            stamp = _stamp(self.path)
        except OSError as exc:
            log.warning("flags file %s: %s; the last flags stay in force", self.path, exc)
            return
        if stamp == self._stamp:
            return
        self._stamp = stamp
        try:
            self.flags = _read(self.path)
        except (OSError, FlagsFileError) as exc:
            log.warning("flags file %s: %s; the last flags stay in force", self.path, exc)
            return
        log.info("flags file %s read again: %s", self.path, ", ".join(sorted(self.flags)))


def _stamp(path: Path) -> Stamp:
    stat = path.stat()
    return stat.st_mtime_ns, stat.st_size, stat.st_ino


def _read(path: Path) -> dict[str, Flag]:
    try:
        return parse_flags(path.read_bytes())
    except FlagsFileError as exc:
        raise FlagsFileError(f"flags file {path}: {exc}") from None


class FlagdFileProvider(AbstractProvider):
    """The OpenFeature provider of a ``FlagsFile``."""

    def __init__(self, source: FlagsFile) -> None:
        super().__init__()
        self.source = source

    def get_metadata(self) -> Metadata:
        """The provider's name."""
        return Metadata(name=PROVIDER_NAME)

    def get_provider_hooks(self) -> list[Hook]:
        """None."""
        return []

    def resolve_boolean_details(
        self,
        flag_key: str,
        default_value: bool,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[bool]:
        """See the module docstring."""
        return self._resolve(flag_key, default_value, evaluation_context, bool)

    def resolve_string_details(
        self, flag_key: str, default_value: str, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[str]:
        """See the module docstring."""
        return self._resolve(flag_key, default_value, evaluation_context, str)

    def resolve_integer_details(
        self, flag_key: str, default_value: int, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[int]:
        """See the module docstring."""
        return self._resolve(flag_key, default_value, evaluation_context, int)

    def resolve_float_details(
        self,
        flag_key: str,
        default_value: float,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[float]:
        """See the module docstring."""
        return self._resolve(flag_key, default_value, evaluation_context, float)

    def resolve_object_details(
        self,
        flag_key: str,
        default_value: ObjectValue,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[ObjectValue]:
        """See the module docstring."""
        return self._resolve(flag_key, default_value, evaluation_context, (dict, list))

    def _resolve(
        self,
        flag_key: str,
        default_value: Value,
        evaluation_context: EvaluationContext | None,
        kind: type | tuple[type, ...],
    ) -> FlagResolutionDetails[Value]:
        flag = self.source.current().get(flag_key)
        if flag is None:
            raise FlagNotFoundError(f"flag {flag_key!r} is not in {self.source.path}")
        if not flag.enabled:
            return FlagResolutionDetails(value=default_value, reason=Reason.DISABLED)
        variant, reason = flag.default_variant, Reason.STATIC
        if flag.rule is not None:
            chosen = flag.rule(_context(flag_key, evaluation_context))
            if isinstance(chosen, str) and chosen in flag.variants:
                variant, reason = chosen, Reason.TARGETING_MATCH
            else:
                reason = Reason.DEFAULT
        if variant is None:
            return FlagResolutionDetails(value=default_value, reason=Reason.DEFAULT)
        value = flag.variants[variant]
        if not _is_kind(value, kind):
            raise TypeMismatchError(f"flag {flag_key!r} variant {variant!r} is {value!r}")
        if kind is float:
            value = float(value)
        return FlagResolutionDetails(value=value, reason=reason, variant=variant)


def _context(flag_key: str, evaluation_context: EvaluationContext | None) -> dict[str, Any]:
    """What a rule sees: the context's attributes, its targeting key and ``$flagd.flagKey``."""
    context: dict[str, Any] = {FLAGD: {"flagKey": flag_key}}
    if evaluation_context is not None:
        context.update(evaluation_context.attributes)
        if evaluation_context.targeting_key:
            context[TARGETING_KEY] = evaluation_context.targeting_key
    return context


def _is_kind(value: Any, kind: type | tuple[type, ...]) -> bool:
    """A bool is not an int, and an int is a float (JSON has one number type)."""
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, kind)
