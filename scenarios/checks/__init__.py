"""SLO checks: pure functions over a stored run, with a four-valued verdict.

Each kind is a frozen pydantic model (``kind`` plus its bounds and selectors) whose
``check(run)`` returns a ``CheckResult`` that is ``True``, ``False``, ``"unknown"`` or
``"not_applicable"`` with the observed figure, the limit, its unit and one sentence of details.
Checks never raise: a run that cannot decide a check (no requests in scope, no faults) and a
check that breaks both read ``unknown``; a check whose figure the target cannot give (no
provider ground truth, a header only our gateway sends) reads ``not_applicable``; each says why.

Request-based checks select by ``endpoint``, ``tenant`` and ``window`` (see ``selection``);
provider-based ones read the simulated provider's ground truth: its counters and its timeline
of calls (``timeline``).
"""

from .base import Check, NotApplicableError, UndecidableError, Verdict
from .cache import CacheHitRateCheck
from .errors import DegradedRateCheck, ErrorRateCheck
from .goodput import GoodputCheck
from .latency import AllAnsweredCheck, LatencyCheck
from .recovery import RecoveryTimeCheck
from .registry import CHECK_TYPES, CheckSpec, evaluate, evaluate_all
from .result import NOT_APPLICABLE, UNKNOWN, CheckResult, Validity
from .selection import TimeRange, WindowName
from .tenants import TenantInFlightCheck, TenantTokensCheck
from .upstream import CostPerRequestCheck, TokensPerRequestCheck, UpstreamAmplificationCheck


__all__ = [
    "CHECK_TYPES",
    "NOT_APPLICABLE",
    "UNKNOWN",
    "AllAnsweredCheck",
    "CacheHitRateCheck",
    "Check",
    "CheckResult",
    "CheckSpec",
    "CostPerRequestCheck",
    "DegradedRateCheck",
    "ErrorRateCheck",
    "GoodputCheck",
    "LatencyCheck",
    "NotApplicableError",
    "RecoveryTimeCheck",
    "TenantInFlightCheck",
    "TenantTokensCheck",
    "TimeRange",
    "TokensPerRequestCheck",
    "UndecidableError",
    "UpstreamAmplificationCheck",
    "Validity",
    "Verdict",
    "WindowName",
    "evaluate",
    "evaluate_all",
]
