"""``flag``: flip a feature flag in the gateway's flags file (flagd's format) for a while.

Injecting rewrites one flag: every request gets ``variant``, or requests are split by
``split`` (variant -> weight). Healing puts back the flag as it was before the first
injection (the other flags of the file are left as they are then). The gateway re-reads the
file on its own, within its ``flags.poll_s``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import Field, PrivateAttr, model_validator

from ..context import FaultContext
from ..errors import FaultActionError, acting
from ..model import FaultModel
from .flag_document import (
    FlagDocumentError,
    flag_of,
    read_flags,
    serving,
    splitting,
    write_flags,
)


class FlagFault(FaultModel):
    """Serve ``variant`` of ``flag`` to everyone, or split traffic by ``split``."""

    kind: Literal["flag"] = "flag"
    file: Path
    """The gateway's flags file (its config's ``flags.file``)."""
    flag: str = Field(min_length=1)
    variant: str | None = Field(None, min_length=1)
    split: dict[str, int] | None = None
    """Variant -> weight (e.g. percent): a percentage rollout."""

    _before: dict[str, Any] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _one_change(self) -> Self:
        if (self.variant is None) == (self.split is None):
            raise ValueError("give exactly one of 'variant' or 'split'")
        return self

    @property
    def target(self) -> str | None:
        """The flag."""
        return self.flag

    @property
    def slot(self) -> tuple[str, ...]:
        """The flag in its file."""
        return ("flag", str(self.file), self.flag)

    def inject(self, ctx: FaultContext) -> None:  # noqa: ARG002 - acts on a file, not the stack
        """Rewrite the flag; the first injection keeps the flag as it was, for the heal."""
        with acting(self.kind, "injecting"), _refused(self.kind):
            document = read_flags(self.file)
            definition = flag_of(document, self.flag)
            self._before.setdefault("definition", definition)
            changed = (
                serving(definition, self.variant)
                if self.variant is not None
                else splitting(definition, self.split or {})
            )
            document["flags"][self.flag] = changed
            write_flags(self.file, document)

    def heal(self, ctx: FaultContext) -> None:  # noqa: ARG002 - acts on a file, not the stack
        """Put the flag back as it was before the first injection."""
        if "definition" not in self._before:
            return
        with acting(self.kind, "healing"), _refused(self.kind):
            document = read_flags(self.file)
            document["flags"][self.flag] = self._before["definition"]
            write_flags(self.file, document)
        del self._before["definition"]


@contextmanager
def _refused(kind: str) -> Iterator[None]:
    """A flags file that cannot be edited as asked is a ``FaultActionError``."""
    try:
        yield
    except FlagDocumentError as exc:
        raise FaultActionError(f"fault {kind!r}: {exc}") from exc
