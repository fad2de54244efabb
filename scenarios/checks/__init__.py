"""SLO checks: pure, three-valued functions over a stored run.

Each kind is a frozen pydantic model (``kind`` plus its bounds and selectors) whose
``check(run)`` returns a ``CheckResult`` that is ``True``, ``False`` or ``"unknown"`` with the
observed figure, the limit, its unit and one sentence of details. Checks never raise: a run
that cannot decide a check (no requests in scope, no faults, no provider counters) and a check
that breaks both read ``unknown``, saying why.

Request-based checks select by ``endpoint``, ``tenant`` and ``window`` (see ``selection``);
provider-based ones read the simulated provider's ground-truth counters.
"""

from .base import Check, UndecidableError, Verdict
from .cache import CacheHitRateCheck
from .errors import DegradedRateCheck, ErrorRateCheck
from .goodput import GoodputCheck
from .latency import AllAnsweredCheck, LatencyCheck
from .recovery import RecoveryTimeCheck
from .registry import CHECK_TYPES, CheckSpec, evaluate, evaluate_all
from .result import UNKNOWN, CheckResult, Validity
from .selection import TimeRange, WindowName
from .tenants import TenantInFlightCheck, TenantTokensCheck
from .upstream import CostPerRequestCheck, TokensPerRequestCheck, UpstreamAmplificationCheck


__all__ = [
    "CHECK_TYPES",
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
