"""A run's verdict from its checks' results."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from .result import HARNESS_KINDS, NOT_APPLICABLE, UNKNOWN, CheckResult


RunVerdict = Literal["pass", "fail", "unknown"]


def verdict_of(results: Sequence[CheckResult]) -> RunVerdict:
    """Fail if any check failed, else unknown if any is undecided or none ran, else pass:
    checks that are not applicable to the target neither pass nor fail a run, but a run none
    of whose own checks applied (the harness's aside) judged nothing, and is unknown."""
    if any(result.valid is False for result in results):
        return "fail"
    if not results or any(result.valid == UNKNOWN for result in results):
        return "unknown"
    judged = [result for result in results if result.kind not in HARNESS_KINDS]
    if judged and all(result.valid == NOT_APPLICABLE for result in judged):
        return "unknown"
    return "pass"
