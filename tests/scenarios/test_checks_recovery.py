"""Recovery time after the last fault, from per-second latency and errors."""

import numpy as np
import pytest
from op_support import answered, table_of
from run_support import fault, stored_run

from benchmarks.op import ErrorKind, Outcome
from scenarios.checks import UNKNOWN, RecoveryTimeCheck


def run_recovering_at(recovered_s: float | None, *, fault_end_s: float = 10.0, duration_s=30.0):
    """Ten requests a second; slow from the fault's start until ``recovered_s``."""
    rows = []
    for t in np.arange(0, duration_s, 0.1):
        slow = t >= 5 and (recovered_s is None or t < recovered_s)
        rows.append(answered(float(t), 2.0 if slow else 0.05))
    return stored_run(table_of(rows), duration_s=duration_s, faults=(fault(5, fault_end_s),))


def check(**fields):
    return RecoveryTimeCheck(**({"max_s": 5, "max_ms": 500} | fields))


def test_recovers_within_the_bound():
    result = check().check(run_recovering_at(14.0))
    assert (result.valid, result.observed, result.limit, result.unit) == (True, 4, 5, "s")
    assert "recovery after the last fault ended at 10.0 s" in result.details


def test_recovering_too_late_fails():
    result = check(max_s=3).check(run_recovering_at(14.0))
    assert (result.valid, result.observed) == (False, 4)


def test_recovered_at_once_is_zero():
    result = check().check(run_recovering_at(8.0))
    assert (result.valid, result.observed) == (True, 0)


def test_never_recovering_fails_with_the_time_left():
    result = check().check(run_recovering_at(None))
    assert (result.valid, result.observed) == (False, 20)
    assert result.details.startswith("not recovered")


def test_a_load_ending_too_soon_after_the_fault_is_unknown():
    result = check(max_s=10).check(run_recovering_at(None, fault_end_s=20, duration_s=30))
    assert result.valid == UNKNOWN
    assert "too soon" in result.details


def test_errors_keep_a_second_unhealthy():
    rows = [answered(float(t), 0.05) for t in np.arange(0, 30, 0.1)]
    for index, row in enumerate(rows):
        if 10 <= row["intended_s"] < 16 and index % 10 == 0:
            row.update(outcome=Outcome.FAIL, error=ErrorKind.HTTP, status=503)
    run = stored_run(table_of(rows), duration_s=30, faults=(fault(5, 10),))
    assert check().check(run).observed == 6
    assert check(max_error_rate=0.1).check(run).observed == 0


def test_stable_s_needs_healthy_seconds_in_a_row():
    rows = [answered(float(t), 0.05) for t in np.arange(0, 30, 0.1)]
    for row in rows:
        if 12 <= row["intended_s"] < 13:
            row["end_s"] = row["intended_s"] + 2
    run = stored_run(table_of(rows), duration_s=30, faults=(fault(5, 10),))
    assert check(stable_s=2).check(run).observed == 0
    assert check(stable_s=3).check(run).observed == 3


def test_empty_seconds_neither_break_nor_extend_a_healthy_run():
    rows = [answered(float(t), 0.05) for t in (11.5, 13.5, 14.5, 20.5, 21.5, 22.5, 29.5)]
    run = stored_run(table_of(rows), duration_s=30, faults=(fault(5, 10),))
    assert check().check(run).observed == 1


def test_without_faults_or_with_a_fault_never_healed_it_is_unknown():
    no_faults = stored_run(table_of([answered(1.0, 0.1)]), duration_s=30)
    result = check().check(no_faults)
    assert result.valid == UNKNOWN
    assert "no faults" in result.details
    rows = [answered(float(t), 0.1) for t in range(30)]
    unhealed = stored_run(table_of(rows), duration_s=30, faults=(fault(5, None),))
    assert "never healed" in check().check(unhealed).details


def test_recovery_of_one_endpoint():
    rows = []
    for t in np.arange(0, 30, 0.1):
        rows.append(answered(float(t), 0.05, endpoint=0))
        rows.append(answered(float(t), 2.0 if t < 20 else 0.05, endpoint=1))
    table = table_of(rows, endpoints=("chat", "embeddings"))
    run = stored_run(table, duration_s=30, faults=(fault(5, 10),))
    assert check(endpoint="chat").check(run).observed == 0
    result = check(endpoint="embeddings", max_s=15).check(run)
    assert result.observed == pytest.approx(10)
    assert "endpoint embeddings" in result.details
