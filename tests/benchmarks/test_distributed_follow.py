"""Following the master's results file: time zero as soon as it is set, live counts, and lines
still being written left for later."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from benchmarks.arrivals import Arrivals, Constant
from benchmarks.distributed.convert import ResultsError
from benchmarks.distributed.follow import ResultsFollower
from benchmarks.op import Outcome
from benchmarks.workload import Workload


SCHEDULE = Workload(arrivals=Arrivals(Constant(10.0), "regular")).schedule(1.0)


def _line(kind: str, **fields: Any) -> bytes:
    return (json.dumps({"kind": kind, **fields}) + "\n").encode()


def _ops(worker: int, sent: int, rows: list[int], outcomes: list[Outcome]) -> bytes:
    end_s = [float(SCHEDULE.intended_s[row]) + 0.25 for row in rows]
    columns = {"row": rows, "outcome": [int(o) for o in outcomes], "end_s": end_s}
    return _line("ops", worker=worker, sent=sent, models=[], columns=columns)


def test_it_sees_time_zero_and_counts_what_the_workers_reported(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    with ResultsFollower(path, SCHEDULE) as follower:
        follower.read()  # the master has not created the file yet
        assert follower.started_at is None
        first = _line("plan", workers=2) + _line("start", started_at=1_700_000_000.5)
        ops = _ops(0, 3, [0, 2], [Outcome.OK, Outcome.FAIL])
        path.write_bytes(first + ops[:10])
        follower.read()
        assert follower.started_at == 1_700_000_000.5
        assert follower.live.done == 0  # half a line is not read yet
        with path.open("ab") as results:
            results.write(ops[10:] + _ops(1, 2, [1], [Outcome.INFO]))
            results.write(_ops(0, 4, [4], [Outcome.OK]))
        follower.read()
    live = follower.live
    assert (live.scheduled, live.sent, live.done) == (10, 6, 4)
    assert (live.failed, live.unknown) == (1, 1)
    assert live.latency.count == 4
    assert math.isclose(live.latency.percentile_s(50), 0.25, rel_tol=0.01)


def test_a_malformed_line_is_a_results_error(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    path.write_bytes(_line("start"))  # without its started_at
    with (
        ResultsFollower(path, SCHEDULE) as follower,
        pytest.raises(ResultsError, match="malformed"),
    ):
        follower.read()
