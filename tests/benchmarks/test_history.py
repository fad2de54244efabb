"""Run histories on disk: round trip, atomic write, clear errors."""

import json

import pytest

from benchmarks.arrivals import Arrivals, Constant
from benchmarks.hdr import DurationHistogram
from benchmarks.history import HistoryError, read_history, write_history
from benchmarks.op import OpTable, Outcome, empty_ops
from benchmarks.plan import LoadPlan, LoadResult
from benchmarks.target import Target
from benchmarks.workload import TenantShare, Workload


def _result(duration_s: float = 2.0) -> LoadResult:
    workload = Workload(
        arrivals=Arrivals(Constant(20), "regular"),
        tenants=(TenantShare("acme", 1, api_key="sk-secret"), TenantShare("globex", 1)),
        seed=5,
    )
    target = Target("http://127.0.0.1:9", api_key="sk-secret", headers={"x-token": "tok-secret"})
    plan = LoadPlan(workload, duration_s, target)
    schedule = workload.schedule(duration_s)
    ops = empty_ops(len(schedule))
    for name in ("row", "tenant", "endpoint", "prompt", "click", "part", "intended_s"):
        ops[name] = getattr(schedule, name)
    ops["sent_s"] = ops["intended_s"] + 0.001
    ops["end_s"] = ops["intended_s"] + 0.05
    ops["status"] = 200
    ops["outcome"] = Outcome.OK
    ops["model"] = 0
    itl = DurationHistogram()
    itl.record_many([0.01, 0.02])
    table = OpTable(ops, schedule.tenants, schedule.endpoints, ("gpt-4o-mini",))
    return LoadResult(plan, table, itl, started_at=1_800_000_000.0)


def test_a_history_reads_back_as_written(tmp_path):
    result = _result()
    written = write_history(result, tmp_path / "run")
    history = read_history(tmp_path / "run")
    assert history.table.ops.tobytes() == result.table.ops.tobytes()  # NaNs included
    assert history.table.models == ("gpt-4o-mini",)
    assert history.plan.workload.schedule(2.0).intended_s.tolist() == (
        result.table.ops["intended_s"].tolist()
    )
    assert history.summary.to_dict() == written.summary.to_dict()
    assert history.summary.ok == 40
    assert history.itl.count == 2
    assert history.started_at == result.started_at
    assert len(history.meta["timeseries"]) == 2
    assert history.meta["oracle"]["distinct_requests"] > 0


def test_api_keys_and_header_values_are_not_stored(tmp_path):
    write_history(_result(), tmp_path / "run")
    stored = (tmp_path / "run" / "run.json").read_text()
    assert "sk-secret" not in stored
    assert "tok-secret" not in stored
    assert read_history(tmp_path / "run").plan.target.headers == {"x-token": ""}


def test_a_history_is_never_overwritten(tmp_path):
    write_history(_result(), tmp_path / "run")
    with pytest.raises(FileExistsError, match="never overwritten"):
        write_history(_result(), tmp_path / "run")


def test_no_partial_history_is_left_when_writing_fails(tmp_path):
    bad = _result()
    object.__setattr__(bad, "started_at", float("nan"))  # JSON refuses NaN
    with pytest.raises(ValueError, match="JSON"):
        write_history(bad, tmp_path / "run")
    assert list(tmp_path.iterdir()) == []


def test_a_missing_history_names_the_missing_file(tmp_path):
    with pytest.raises(HistoryError, match=r"run\.json"):
        read_history(tmp_path)


def test_another_schema_version_is_refused(tmp_path):
    write_history(_result(), tmp_path / "run")
    run_file = tmp_path / "run" / "run.json"
    run = json.loads(run_file.read_text())
    run["schema_version"] = 99
    run_file.write_text(json.dumps(run))
    with pytest.raises(HistoryError, match="schema_version 99"):
        read_history(tmp_path / "run")


def test_a_corrupt_ops_file_is_a_history_error(tmp_path):
    write_history(_result(), tmp_path / "run")
    (tmp_path / "run" / "ops.npz").write_bytes(b"not a zip")
    with pytest.raises(HistoryError, match="cannot read"):
        read_history(tmp_path / "run")
