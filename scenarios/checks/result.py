"""What a check concluded: three-valued validity, the observed figure and the limit."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal


UNKNOWN: Literal["unknown"] = "unknown"
Validity = bool | Literal["unknown"]
"""True (holds), False (violated) or "unknown" (could not be decided, e.g. no data)."""


@dataclass(frozen=True)
class CheckResult:
    """One check's verdict over one stored run."""

    name: str
    kind: str
    valid: Validity
    observed: float | None = None
    """The measured figure, in the unit of ``limit``."""
    limit: float | None = None
    unit: str = ""
    details: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CheckResult:
        """From ``to_dict``'s form."""
        return cls(**dict(data))
