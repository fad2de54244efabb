"""The errors of the fault package: a closed set, drawn in ``faults``' module docstring."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from stack.errors import StackError


if TYPE_CHECKING:
    from .record import FaultRecord


class FaultError(Exception):
    """Base class of every error the fault package raises."""


class MissingComponentError(FaultError):
    """A fault needs a component (Toxiproxy, the provider, a process) the target lacks."""

    def __init__(self, kind: str, component: str) -> None:
        self.kind = kind
        self.component = component
        super().__init__(f"fault {kind!r} needs {component}; the target has none")


class FaultActionError(FaultError):
    """Injecting or healing a fault failed: a control API refused, a process did not start."""


class FaultCleanupError(FaultError):
    """The final clean-up of a timeline failed; ``records`` holds the fault log all the same."""

    def __init__(self, message: str, records: Sequence[FaultRecord]) -> None:
        self.records = list(records)
        super().__init__(message)


@contextmanager
def acting(kind: str, action: str) -> Iterator[None]:
    """Turn a stack or OS error raised while ``action`` runs into a ``FaultActionError``."""
    try:
        yield
    except (StackError, OSError) as exc:
        raise FaultActionError(f"{action} {kind!r} failed: {exc}") from exc
