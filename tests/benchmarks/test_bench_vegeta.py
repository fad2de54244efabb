"""vegeta's side of the agreement benchmark: its report, its target, the comparison."""

import base64
import json
import math

import pytest

from benchmarks.bench.agreement import Agreement, Pair
from benchmarks.bench.engine_run import EngineLoad, EngineRun, bench_request
from benchmarks.bench.vegeta import ENV, PROGRAM, VegetaReport, find_vegeta, target_line
from benchmarks.recording import OpRecorder
from benchmarks.summary import Percentiles, Summary
from stack.errors import StackStartError


# `vegeta report -type json` of an attack (vegeta v12.13.0) on two targets, one refusing.
CAPTURED_REPORT = """
{"latencies":{"total":9489569,"mean":474478,"50th":432402,"90th":630150,"95th":1049140,
"99th":1404862,"max":1404862,"min":256080},"bytes_in":{"total":2420,"mean":121},
"bytes_out":{"total":130,"mean":6.5},"earliest":"2026-11-27T18:58:08.63480381Z",
"latest":"2026-11-27T18:58:09.584996154Z","end":"2026-11-27T18:58:09.585521063Z",
"duration":950192344,"wait":524909,"requests":20,"rate":21.048369970869814,
"throughput":10.518374383598148,"success":0.5,"status_codes":{"0":10,"200":10},
"errors":["Post \\"http://127.0.0.1:18472/v1/chat/completions\\": dial tcp
 0.0.0.0:0->127.0.0.1:18472: connect: connection refused"]}
""".replace("\n", "")


def test_a_captured_report_is_read_in_seconds():
    report = VegetaReport.from_json(json.loads(CAPTURED_REPORT))
    assert report.requests == 20
    assert report.rate_rps == pytest.approx(21.0484, rel=1e-4)
    assert report.throughput_rps == pytest.approx(10.5184, rel=1e-4)
    assert report.p50_s == pytest.approx(432.402e-6)
    assert report.p90_s == pytest.approx(630.150e-6)
    assert report.p99_s == pytest.approx(1.404862e-3)
    assert report.max_s == pytest.approx(1.404862e-3)
    assert report.mean_s == pytest.approx(474.478e-6)
    assert report.status_codes == {"0": 10, "200": 10}
    assert report.failed == 10  # status 0: no answer
    assert "connection refused" in report.errors[0]


def test_a_clean_report_has_no_failures():
    data = json.loads(CAPTURED_REPORT) | {"status_codes": {"200": 20}, "errors": []}
    report = VegetaReport.from_json(data)
    assert report.failed == 0
    assert report.errors == ()


def test_vegeta_sends_the_engines_request_byte_for_byte():
    load = EngineLoad("http://127.0.0.1:9", rate_rps=10, duration_s=1, model="bench", max_tokens=16)
    plan = load.plan()
    recorder = OpRecorder(plan.workload, plan.workload.schedule(1), api_key=plan.target.api_key)
    sent = recorder.request(0)
    assert sent == bench_request("bench", 16)
    target = json.loads(target_line("http://127.0.0.1:9/", sent))
    assert target["method"] == "POST"
    assert target["url"] == "http://127.0.0.1:9/v1/chat/completions"
    assert base64.b64decode(target["body"]) == sent.body
    assert target["header"] == {name: [value] for name, value in sent.headers.items()}
    assert target["header"]["Authorization"] == ["Bearer sk-bench"]


def test_vegeta_named_by_the_environment_must_exist(tmp_path):
    missing = tmp_path / "vegeta"
    with pytest.raises(StackStartError) as info:
        find_vegeta(tmp_path / "cache", environ={ENV: str(missing)})
    assert info.value.service == "vegeta"
    assert str(missing) in info.value.cause
    assert ENV in info.value.fix


def test_vegeta_named_by_the_environment_wins(tmp_path):
    binary = tmp_path / "vegeta"
    binary.write_text("")
    assert find_vegeta(tmp_path / "cache", environ={ENV: str(binary)}).path == binary


def test_a_cached_build_is_used_without_go(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # neither vegeta nor go
    cached = PROGRAM.cached_path(tmp_path)
    cached.parent.mkdir(parents=True)
    cached.write_text("")
    found = find_vegeta(tmp_path, environ={})
    assert found.path == cached
    assert found.version == PROGRAM.version


def _percentiles(p50_s: float, p99_s: float) -> Percentiles:
    return Percentiles(100, p50_s, p50_s, p99_s, p99_s, p99_s, p99_s, p50_s)


def _pair(ours: tuple[float, float], vegeta: tuple[float, float], repetition: int = 0) -> Pair:
    latency = _percentiles(*ours)
    nan = _percentiles(math.nan, math.nan)
    summary = Summary(
        10.0, 100, 10.0, 10.0, 100, 0, 0, 0, 0.0, {}, latency, latency, latency, nan, nan, nan, nan
    )
    report = VegetaReport(100, 10.0, 10.0, vegeta[0], vegeta[0], vegeta[1], vegeta[1], vegeta[0],
                          {"200": 100}, ())  # fmt: skip
    counts = {"meltproof": 100, "vegeta": 100}
    return Pair(
        10, repetition, "vegeta", EngineRun(summary, None, 0.1, "uvloop.Loop"), report, counts
    )


def test_agreement_compares_medians_over_repetitions_relative_to_vegeta():
    pairs = [_pair((0.100, 0.200), (0.100, 0.200)), _pair((0.104, 0.190), (0.100, 0.200), 1),
             _pair((0.300, 0.500), (0.100, 0.200), 2)]  # fmt: skip
    agreement = Agreement.of(10, pairs)
    assert agreement.ours_p50_s == pytest.approx(0.104)
    assert agreement.p50_difference == pytest.approx(0.04)
    assert agreement.p99_difference == pytest.approx(0.0)
    assert agreement.agrees


def test_a_difference_over_five_percent_disagrees():
    agreement = Agreement.of(10, [_pair((0.100, 0.211), (0.100, 0.200))])
    assert agreement.p99_difference == pytest.approx(0.055)
    assert not agreement.agrees
    assert agreement.row()[-1] == "DISAGREE"
    assert agreement.to_dict()["agrees"] is False
