"""A fault record becomes an entry of the stored fault log that FaultWindow reads."""

from faults import FaultRecord
from scenarios.stored_run import FaultWindow


def test_the_window_dict_has_times_relative_to_time_zero_and_reads_back():
    record = FaultRecord(
        name="slow provider",
        kind="latency",
        target="provider",
        planned_at_s=5.0,
        started_at=1005.25,
        ended_at=1010.5,
        params={"latency_ms": 200},
    )
    entry = record.to_window_dict(1000.0)
    assert entry == {
        "name": "slow provider",
        "kind": "latency",
        "target": "provider",
        "planned_at_s": 5.0,
        "started_s": 5.25,
        "ended_s": 10.5,
        "error": None,
        "params": {"latency_ms": 200},
    }
    window = FaultWindow.from_dict(entry)
    assert (window.started_s, window.ended_s, window.kind) == (5.25, 10.5, "latency")


def test_a_fault_that_never_healed_has_no_end():
    record = FaultRecord("x", "freeze", "redis", 1.0, started_at=101.0, error="heal failed: boom")
    window = FaultWindow.from_dict(record.to_window_dict(100.0))
    assert window.ended_s is None
    assert window.error == "heal failed: boom"
