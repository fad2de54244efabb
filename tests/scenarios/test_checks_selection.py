"""Endpoint, tenant and time-window selectors of request-based checks."""

import numpy as np
import pytest
from op_support import answered, table_of
from pydantic import ValidationError
from run_support import fault, stored_run

from scenarios.checks import UNKNOWN, ErrorRateCheck, LatencyCheck, TimeRange


SLOW_S, FAST_S = 1.0, 0.01


def faulted_run(*faults, duration_s: float = 20.0):
    """Ten requests a second; slow while a fault acts, fast otherwise."""
    rows = []
    for t in np.arange(0, duration_s, 0.1):
        slow = any(f.started_s <= t < f.end_or(duration_s) for f in faults)
        rows.append(answered(float(t), SLOW_S if slow else FAST_S))
    return stored_run(table_of(rows), duration_s=duration_s, faults=tuple(faults))


def p50(window, run, **fields):
    return LatencyCheck(percentile=50, max_ms=100, window=window, **fields).check(run)


def test_during_faults_is_the_union_of_fault_windows():
    run = faulted_run(fault(4, 8), fault(6, 10), fault(14, 15))
    result = p50("during_faults", run)
    assert result.valid is False
    assert result.observed == pytest.approx(1000)
    assert "(during faults 4.0-10.0 s, 14.0-15.0 s)" in result.details
    assert "of 70 ended requests" in result.details


def test_before_faults_and_after_recovery_exclude_the_faults():
    run = faulted_run(fault(4, 8), fault(10, 12))
    before = p50("before_faults", run)
    after = p50("after_recovery", run, settle_s=2)
    assert (before.valid, after.valid) == (True, True)
    assert "(before faults 0.0-4.0 s)" in before.details
    assert "of 40 ended requests" in before.details
    assert "(after recovery 14.0-20.0 s)" in after.details
    assert "of 60 ended requests" in after.details


def test_after_recovery_without_settling_sees_the_slow_tail():
    rows = [answered(float(t), 1.0 if t < 16 else FAST_S) for t in np.arange(0, 20, 0.1)]
    run = stored_run(table_of(rows), duration_s=20, faults=(fault(4, 10),))
    assert p50("after_recovery", run, settle_s=0).valid is False
    assert p50("after_recovery", run, settle_s=6).valid is True


def test_a_fault_never_healed_lasts_to_the_end():
    run = faulted_run(fault(15, None))
    during = p50("during_faults", run)
    assert during.valid is False
    assert "(during faults 15.0-20.0 s)" in during.details
    after = p50("after_recovery", run)
    assert after.valid == UNKNOWN
    assert "never healed" in after.details


def test_fault_windows_of_a_run_without_faults_are_unknown():
    run = faulted_run()
    for window in ("before_faults", "during_faults", "after_recovery"):
        result = p50(window, run)
        assert result.valid == UNKNOWN
        assert "no faults" in result.details
    assert p50("all", run).valid is True


def test_after_recovery_beginning_after_the_load_is_unknown():
    run = faulted_run(fault(4, 18))
    result = p50("after_recovery", run, settle_s=5)
    assert result.valid == UNKNOWN
    assert "began at 23.0 s" in result.details


def test_a_fixed_window_selects_by_intended_time():
    run = faulted_run(fault(4, 8))
    assert p50({"from_s": 4, "to_s": 8}, run).valid is False
    result = p50(TimeRange(from_s=0, to_s=3.95), run)
    assert result.valid is True
    assert "of 40 ended requests (0.0-4.0 s)" in result.details


def test_a_window_without_requests_is_unknown():
    result = p50({"from_s": 30, "to_s": 40}, faulted_run())
    assert result.valid == UNKNOWN
    assert result.details == "no requests in scope (30.0-40.0 s)"


def test_endpoint_and_tenant_filters():
    rows = [
        answered(0.0, 2.0, endpoint=1, tenant=0),
        answered(1.0, FAST_S, endpoint=0, tenant=0),
        answered(2.0, FAST_S, endpoint=0, tenant=1),
        answered(3.0, 3.0, endpoint=0, tenant=1),
    ]
    table = table_of(rows, tenants=("acme", "globex"), endpoints=("chat", "embeddings"))
    run = stored_run(table)
    chat = LatencyCheck(percentile=50, max_ms=100, endpoint="chat")
    assert chat.check(run).valid is True
    acme = LatencyCheck(percentile=99, max_ms=100, tenant="acme")
    assert acme.check(run).valid is False
    both = LatencyCheck(percentile=99, max_ms=100, tenant="acme", endpoint="chat").check(run)
    assert both.valid is True
    assert "(endpoint chat, tenant acme, whole run)" in both.details


def test_a_name_the_run_does_not_have_is_unknown():
    run = stored_run(table_of([answered(0.0, FAST_S)]))
    result = ErrorRateCheck(max=0.1, endpoint="images").check(run)
    assert result.valid == UNKNOWN
    assert result.details == "no endpoint 'images' in this run (endpoints: chat)"
    assert ErrorRateCheck(max=0.1, tenant="nobody").check(run).valid == UNKNOWN


def test_window_schema_errors_name_the_field():
    with pytest.raises(ValidationError, match="to_s must be greater than from_s"):
        LatencyCheck(percentile=50, max_ms=1, window={"from_s": 5, "to_s": 5})
    with pytest.raises(ValidationError, match=r"window\.name\n.*'during_faults'"):
        LatencyCheck(percentile=50, max_ms=1, window="while_faults")
    with pytest.raises(ValidationError, match="settle_s"):
        LatencyCheck(percentile=50, max_ms=1, settle_s=-1)
