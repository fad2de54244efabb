"""The base of every check kind: a frozen pydantic model whose ``check`` never raises.

A kind implements ``verdict(run)``, a pure function of the stored run. ``check`` wraps it:
``NotApplicableError`` (the target cannot give the figure, e.g. no provider ground truth for a
gateway not wired to meltproof's provider) becomes ``not_applicable`` with its reason;
``UndecidableError`` (no data in scope, a run without faults) becomes ``unknown`` with its
reason; any other exception becomes ``unknown`` with the exception named, so one broken check
cannot hide the verdicts of the others.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from scenarios.stored_run import StoredRun

from .result import NOT_APPLICABLE, UNKNOWN, CheckResult, Validity
from .wording import amount, holds_sign


class UndecidableError(Exception):
    """The run cannot decide the check; the message says why."""


class NotApplicableError(Exception):
    """The target cannot give the check's figure; the message says why."""


@dataclass(frozen=True)
class Verdict:
    """What a check found, before it is named."""

    valid: Validity
    observed: float | None
    limit: float | None
    unit: str
    details: str


class Check(BaseModel):
    """One SLO check over a stored run. Unknown fields are errors; values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, ser_json_inf_nan="strings")

    kind: str

    def check(self, run: StoredRun, *, name: str | None = None) -> CheckResult:
        """The verdict over ``run``, named ``name`` (the kind by default); never raises."""
        label = self.kind if name is None else name
        try:
            verdict = self.verdict(run)
        except NotApplicableError as why:
            return CheckResult(label, self.kind, NOT_APPLICABLE, details=str(why))
        except UndecidableError as why:
            return CheckResult(label, self.kind, UNKNOWN, details=str(why))
        except Exception as exc:  # noqa: BLE001 - a broken check must read as unknown
            details = f"the check raised {type(exc).__name__}: {exc}"
            return CheckResult(label, self.kind, UNKNOWN, details=details)
        return CheckResult(
            label,
            self.kind,
            verdict.valid,
            verdict.observed,
            verdict.limit,
            verdict.unit,
            verdict.details,
        )

    def verdict(self, run: StoredRun) -> Verdict:
        """Decide the check over ``run``; raise ``UndecidableError`` when it cannot, and
        ``NotApplicableError`` when the target cannot give the figure."""
        raise NotImplementedError(f"{type(self).__name__} does not implement verdict()")


def at_most(what: str, observed: float, limit: float, unit: str) -> Verdict:
    """``observed <= limit``, with the sentence "``what`` = observed <= limit"."""
    valid = bool(observed <= limit)
    details = f"{what} = {amount(observed, unit)} {holds_sign(valid, '<=')} {amount(limit, unit)}"
    return Verdict(valid, observed, limit, unit, details)


def at_least(what: str, observed: float, limit: float, unit: str) -> Verdict:
    """``observed >= limit``, with the sentence "``what`` = observed >= limit"."""
    valid = bool(observed >= limit)
    details = f"{what} = {amount(observed, unit)} {holds_sign(valid, '>=')} {amount(limit, unit)}"
    return Verdict(valid, observed, limit, unit, details)
