"""What a check concluded: its validity, the observed figure and the limit.

Validity is ``True`` (holds), ``False`` (violated), ``"unknown"`` (could not be decided: no
data in scope, a harness problem, a broken check) or ``"not_applicable"`` (the target cannot
give the figure: no provider ground truth for a gateway not wired to meltproof's provider, a
header only meltproof's gateway sends, per-tenant figures from a gateway that does not forward
the tenant). A not-applicable check neither passes nor fails a run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal


UNKNOWN: Literal["unknown"] = "unknown"
NOT_APPLICABLE: Literal["not_applicable"] = "not_applicable"
HARNESS_KIND = "harness"
STEADY_STATE_KIND = "steady_state"
HARNESS_KINDS = frozenset({HARNESS_KIND, STEADY_STATE_KIND})
"""The kinds of the harness's own verdicts on a run (``scenarios.harness_checks``), which
judge the harness, not the target."""
Validity = bool | Literal["unknown", "not_applicable"]
"""True (holds), False (violated), "unknown" (undecided) or "not_applicable" (see above)."""


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
