"""A fault record becomes a window of the stored fault log, which reads back the same."""

from faults import FaultRecord, FaultWindow


def test_the_window_has_times_relative_to_time_zero_and_reads_back():
    record = FaultRecord(
        name="slow provider",
        kind="latency",
        target="provider",
        planned_at_s=5.0,
        started_at=1005.25,
        ended_at=1010.5,
        params={"latency_ms": 200},
    )
    window = record.window(1000.0)
    entry = window.to_dict()
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
    assert FaultWindow.from_dict(entry) == window


def test_a_fault_that_never_healed_has_no_end():
    record = FaultRecord("x", "freeze", "redis", 1.0, started_at=101.0, error="heal failed: boom")
    window = FaultWindow.from_dict(record.window(100.0).to_dict())
    assert window.ended_s is None
    assert window.error == "heal failed: boom"


def test_a_window_stored_before_params_were_kept_reads_with_none():
    entry = {"name": "x", "kind": "latency", "target": "redis", "planned_at_s": 1.0,
             "started_s": 1.0, "ended_s": 2.0}  # fmt: skip
    assert FaultWindow.from_dict(entry).params == {}
