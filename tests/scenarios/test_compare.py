"""Result sets from stored runs, their comparison, the gate's baseline."""

import json
import math
from pathlib import Path

import pytest
from result_set_support import result_set

from scenarios.cli.compare_command import write_comparison
from scenarios.compare.comparison import compare
from scenarios.compare.gate import read_baseline, write_baseline
from scenarios.compare.result_set import ResultSetError, load_result_set


def test_a_result_set_groups_runs_by_scenario_and_profile(tmp_path: Path) -> None:
    found = load_result_set(result_set(tmp_path / "a", 0.1, 3))
    assert found.runs == 3
    assert list(found.samples) == ["steady[hardened]"]
    samples = found.samples["steady[hardened]"]
    assert len(samples["p95_ms"]) == 3
    assert samples["cache_hit_rate"] == [0.5, 0.5, 0.5]
    assert found.testbed["services"] == {"redis": "redis 7"}


def test_a_slower_candidate_is_worse_and_exits_2(tmp_path: Path) -> None:
    base = load_result_set(result_set(tmp_path / "base", 0.100, 6))
    cand = load_result_set(result_set(tmp_path / "cand", 0.130, 6, seed=100))
    comparison = compare(base, cand)
    verdicts = {m.metric: m.verdict for m in comparison.scenarios[0].metrics}
    assert verdicts["p95_ms"] == "worse"
    assert verdicts["p50_ms"] == "worse"
    assert verdicts["error_rate"] == "same"
    assert verdicts["cache_hit_rate"] == "same"
    assert "cost_per_request_usd" not in verdicts  # no ground truth on either side
    assert "amplification" not in verdicts
    assert comparison.verdict == "worse"
    assert write_comparison(comparison, tmp_path / "out") == 2
    text = (tmp_path / "out" / "comparison.md").read_text()
    assert text.startswith("## meltproof comparison: WORSE")
    assert "| p95_ms |" in text
    assert json.loads((tmp_path / "out" / "comparison.json").read_text())["verdict"] == "worse"


def test_the_same_code_is_the_same_and_too_few_runs_is_unknown(tmp_path: Path) -> None:
    base = load_result_set(result_set(tmp_path / "base", 0.1, 6))
    cand = load_result_set(result_set(tmp_path / "cand", 0.1, 6, seed=50))
    assert compare(base, cand).verdict == "same"
    few = compare(
        load_result_set(result_set(tmp_path / "b2", 0.1, 2)),
        load_result_set(result_set(tmp_path / "c2", 0.2, 2, seed=9)),
    )
    assert few.verdict == "unknown"
    p95 = next(m for m in few.scenarios[0].metrics if m.metric == "p95_ms")
    assert p95.more_runs_needed > 0
    assert write_comparison(few, tmp_path / "few") == 3


def test_a_metric_one_side_did_not_measure_is_left_out_not_unknown(tmp_path: Path) -> None:
    old = load_result_set(result_set(tmp_path / "old", 0.1, 6))  # stored before CPU was measured
    new = load_result_set(result_set(tmp_path / "new", 0.1, 6, seed=50, cpu_s=0.05))
    assert new.samples["steady[hardened]"]["cpu_ms_per_request"] == [1.0] * 6
    comparison = compare(old, new)
    compared = {m.metric for m in comparison.scenarios[0].metrics}
    assert "cpu_ms_per_request" not in compared
    assert "p95_ms" in compared
    assert comparison.verdict == "same"


def test_sets_from_different_testbeds_are_refused_unless_forced(tmp_path: Path) -> None:
    base = load_result_set(result_set(tmp_path / "base", 0.1, 3))
    cand = load_result_set(result_set(tmp_path / "cand", 0.1, 3, services="redis 8"))
    with pytest.raises(ResultSetError, match="different testbeds"):
        compare(base, cand)
    assert compare(base, cand, force=True).scenarios


def test_a_folder_without_runs_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ResultSetError, match="no scenario runs"):
        load_result_set(tmp_path)


def test_the_baseline_file_round_trips_with_missing_values(tmp_path: Path) -> None:
    found = load_result_set(result_set(tmp_path / "runs", 0.1, 3))
    path = tmp_path / "baseline.json"
    write_baseline(found, path)
    stored = json.loads(path.read_text())
    assert stored["samples"]["steady[hardened]"]["cost_per_request_usd"] == [None] * 3
    again = read_baseline(path)
    assert again.testbed == found.testbed
    assert (
        again.samples["steady[hardened]"]["p95_ms"] == found.samples["steady[hardened]"]["p95_ms"]
    )
    assert all(math.isnan(v) for v in again.samples["steady[hardened]"]["cost_per_request_usd"])
    with pytest.raises(ResultSetError, match="update-baseline"):
        read_baseline(tmp_path / "missing.json")
