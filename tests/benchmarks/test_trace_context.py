"""Load requests with a W3C traceparent: a fresh sampled trace each, kept with its row."""

from __future__ import annotations

import re

import numpy as np
from aiohttp import web

from benchmarks.arrivals import Arrivals, Constant
from benchmarks.bench.trivial_server import BODY
from benchmarks.distributed.wire import plan_from_dict, plan_to_dict
from benchmarks.engine import OpenLoopEngine
from benchmarks.history import OPS_FILE, read_history, write_history
from benchmarks.plan import LoadPlan, LoadResult
from benchmarks.recording import OpRecorder
from benchmarks.target import Target
from benchmarks.workload import Workload


TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-01$")


def _workload() -> Workload:
    return Workload(arrivals=Arrivals(Constant(40), "regular"), seed=7)


def _recorder(*, traced: bool) -> OpRecorder:
    workload = _workload()
    return OpRecorder(workload, workload.schedule(1.0), api_key="sk-test", traced=traced)


def test_each_traced_request_starts_a_fresh_sampled_trace_kept_with_its_row():
    recorder = _recorder(traced=True)
    trace_ids = []
    for index in range(len(recorder.schedule)):
        header = recorder.request(index).headers["traceparent"]
        match = TRACEPARENT.match(header)
        assert match is not None, header
        assert set(match[1]) != {"0"}
        assert set(match[2]) != {"0"}
        assert recorder.table().op(index).trace_id == match[1]
        trace_ids.append(match[1])
    assert len(set(trace_ids)) == len(trace_ids) == 40


def test_two_recorders_of_one_seeded_schedule_send_different_traces():
    first, second = _recorder(traced=True), _recorder(traced=True)
    assert first.request(0).headers["traceparent"] != second.request(0).headers["traceparent"]


def test_an_untraced_request_has_no_traceparent_and_no_trace_id():
    recorder = _recorder(traced=False)
    assert "traceparent" not in recorder.request(0).headers
    assert recorder.table().op(0).trace_id is None


def _result(tmp_path, *, traced: bool) -> LoadResult:
    workload = _workload()
    recorder = OpRecorder(workload, workload.schedule(1.0), api_key=None, traced=traced)
    for index in range(len(recorder.schedule)):
        recorder.request(index)
    plan = LoadPlan(workload, 1.0, Target("http://127.0.0.1:9", traceparent=traced))
    return LoadResult(plan, recorder.table(), recorder.itl(), 0.0)


def test_trace_ids_survive_the_history(tmp_path):
    result = _result(tmp_path, traced=True)
    history = read_history(write_history(result, tmp_path / "h").path)
    assert history.plan.target.traceparent
    assert [op.trace_id for op in history.table] == [op.trace_id for op in result.table]


def test_a_history_written_before_trace_ids_reads_as_untraced(tmp_path):
    path = write_history(_result(tmp_path, traced=False), tmp_path / "h").path
    with np.load(path / OPS_FILE) as stored:
        columns = {name: stored[name] for name in stored.files if not name.startswith("trace_")}
    np.savez_compressed(path / OPS_FILE, **columns)
    assert {op.trace_id for op in read_history(path).table} == {None}


def test_a_distributed_plan_keeps_the_traceparent_switch():
    plan = LoadPlan(_workload(), 1.0, Target("http://127.0.0.1:9", traceparent=True))
    assert plan_from_dict(plan_to_dict(plan)).target.traceparent


async def test_the_engine_sends_each_row_its_trace(aiohttp_server):
    received: list[str] = []

    async def completion(request: web.Request) -> web.Response:
        received.append(request.headers.get("traceparent", ""))
        return web.Response(body=BODY, content_type="application/json")

    app = web.Application()
    app.router.add_post("/v1/chat/completions", completion)
    server = await aiohttp_server(app)
    workload = _workload()
    target = Target(str(server.make_url("")).rstrip("/"), traceparent=True)
    engine = OpenLoopEngine(workload, workload.schedule(0.5), target)
    result = await engine.run()
    sent = {match[1] for header in received if (match := TRACEPARENT.match(header))}
    assert len(sent) == len(received) == len(result.table) == 20
    assert sent == {op.trace_id for op in result.table}
