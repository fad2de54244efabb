"""Every check kind by name, the tagged union that scenario files embed, and evaluation.

``CheckSpec`` is discriminated by ``kind``, so a scenario's ``checks:`` mapping validates
each entry against its own kind's fields. ``evaluate`` and ``evaluate_all`` never raise: a
check that cannot decide, or that breaks, reads ``unknown``; one whose figure the target
cannot give reads ``not_applicable``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, get_args

from pydantic import Field

from scenarios.stored_run import StoredRun

from .base import Check
from .cache import CacheHitRateCheck
from .errors import DegradedRateCheck, ErrorRateCheck
from .goodput import GoodputCheck
from .latency import AllAnsweredCheck, LatencyCheck
from .recovery import RecoveryTimeCheck
from .result import UNKNOWN, CheckResult
from .tenants import TenantInFlightCheck, TenantTokensCheck
from .upstream import CostPerRequestCheck, TokensPerRequestCheck, UpstreamAmplificationCheck


CheckSpec = Annotated[
    LatencyCheck
    | AllAnsweredCheck
    | ErrorRateCheck
    | DegradedRateCheck
    | GoodputCheck
    | CacheHitRateCheck
    | TokensPerRequestCheck
    | CostPerRequestCheck
    | UpstreamAmplificationCheck
    | RecoveryTimeCheck
    | TenantInFlightCheck
    | TenantTokensCheck,
    Field(discriminator="kind"),
]
"""One check of any kind, chosen by its ``kind`` field."""

CHECK_TYPES: Mapping[str, type[Check]] = {
    model.model_fields["kind"].default: model for model in get_args(get_args(CheckSpec)[0])
}
"""Each check kind's class, by the ``kind`` it is written with."""


def evaluate(name: str, spec: Check, run: StoredRun) -> CheckResult:
    """The verdict of check ``name`` over ``run``; never raises (a failure reads unknown).

    ``Check.check`` already turns a failing verdict into ``unknown``; this also covers a spec
    that is not a ``Check`` at all (an unvalidated default left as a plain dict).
    """
    try:
        return spec.check(run, name=name)
    except Exception as exc:  # noqa: BLE001 - evaluation must never raise
        kind = str(getattr(spec, "kind", type(spec).__name__))
        details = f"the check raised {type(exc).__name__}: {exc}"
        return CheckResult(name, kind, UNKNOWN, details=details)


def evaluate_all(checks: Mapping[str, Check], run: StoredRun) -> list[CheckResult]:
    """Every check's verdict over ``run``, in the mapping's order."""
    return [evaluate(name, spec, run) for name, spec in checks.items()]
