"""The gate's two baselines, the testbed key a stored baseline is matched on, the gate's exit
codes, and the calibration's counts and table."""

import contextlib
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from result_set_support import result_set, store_run

from scenarios.cli import gate_command
from scenarios.cli.gate_command import gate_exit_code
from scenarios.compare.calibration import Calibration, Round, markdown
from scenarios.compare.comparison import require_same_testbed
from scenarios.compare.gate import (
    GateConfig,
    load_gate_config,
    read_baseline,
    scenario_names,
    write_baseline,
)
from scenarios.compare.result_set import ResultSetError, comparable_testbed, load_result_set
from scenarios.runner import RunOptions


TESTBED = {
    "cpu_model": "Intel(R) Xeon(R) CPU E5-2673 v4 @ 2.30GHz",
    "cpu_count": 2,
    "machine": "x86_64",
    "python": "3.11",
    "services": {"redis": "Redis 7.0.15", "toxiproxy": "v2.12.0"},
}


def test_the_comparable_testbed_ignores_clock_suffixes_and_patch_releases() -> None:
    other = TESTBED | {
        "cpu_model": "Intel(R) Xeon(R) CPU E5-2673 v4  @ 2.40GHz",
        "services": {"redis": "Redis 7.0.16", "toxiproxy": "v2.12.1"},
    }
    assert comparable_testbed(other) == comparable_testbed(TESTBED)
    require_same_testbed(TESTBED, other)


@pytest.mark.parametrize(
    "change",
    [
        {"cpu_count": 4},
        {"cpu_model": "AMD EPYC 7763 64-Core Processor"},
        {"python": "3.12"},
        {"services": {"redis": "Redis 7.2.4", "toxiproxy": "v2.12.0"}},
    ],
)
def test_what_matters_makes_another_testbed(change: dict) -> None:
    with pytest.raises(ResultSetError, match="--force"):
        require_same_testbed(TESTBED, TESTBED | change)


def test_the_shipped_gate_compares_with_a_reference_ref_by_default() -> None:
    config = load_gate_config(Path(__file__).parents[2] / "perf" / "gate.yaml")
    assert (config.mode, config.reference, config.runs) == ("ab", "HEAD~1", 6)


def test_gate_scenarios_are_files_beside_the_config_or_built_in_names(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text("")
    config_path = tmp_path / "gate.yaml"
    config_path.write_text("scenarios: [mine.yaml, steady_chat]\n")
    names = scenario_names(load_gate_config(config_path), tmp_path)
    assert names == [str(tmp_path / "mine.yaml"), "steady_chat"]


@pytest.mark.parametrize(
    ("verdicts", "comparison_code", "expected"),
    [
        (["pass", "pass"], 0, 0),
        (["pass", "pass"], 2, 2),
        (["pass", "pass"], 3, 0),  # too few runs to decide is reported, not failed
        (["pass", "fail"], 2, 1),
        (["fail", "unknown"], 2, 3),
    ],
)
def test_the_gates_exit_code(verdicts: list[str], comparison_code: int, expected: int) -> None:
    assert gate_exit_code(verdicts, comparison_code) == expected


def _calibration(aa: list[str], ab: list[str]) -> Calibration:
    rounds = [
        Round(i, a, 0.01, b, 0.09, ("p95_ms",) if b == "worse" else ())
        for i, (a, b) in enumerate(zip(aa, ab, strict=True))
    ]
    return Calibration("steady_chat", 6, 0.05, 0.05, 250.0, 25, rounds)


def test_the_calibration_counts_false_alarms_and_detections_with_intervals() -> None:
    found = _calibration(["same"] * 19 + ["worse"], ["worse"] * 18 + ["same", "unknown"])
    assert (found.false_alarms, found.detections) == (1, 18)
    document = found.to_dict()
    low, high = document["false_alarms"]["ci95"]
    assert low == pytest.approx(0.00127, abs=1e-5)
    assert high == pytest.approx(0.24873, abs=1e-5)
    text = markdown(found)
    assert "false alarms 1/20 (95% CI 0.1% to 24.9%)" in text
    assert "detections 18/20" in text
    assert "| 20 | worse | +1.0% | unknown | +9.0% | — |" in text


class FakeSuite:
    """``against_stored`` on a fake stack (Redis 7.0.15 on this machine) whose runs store a
    hand-made run and return ``verdicts`` in turn; ``log`` says what happened, in order."""

    def __init__(self) -> None:
        self.log: list[str] = []
        self.verdicts = ["pass"] * 6

    @contextlib.contextmanager
    def stack(self, _spec: object, _options: object) -> Iterator[SimpleNamespace]:
        self.log.append("stack")
        yield SimpleNamespace(
            services={"redis": SimpleNamespace(version="redis 7.0.15")},
            backend="embedded",
            images={},
        )

    def run(self, _spec: object, options: RunOptions, _stack: object) -> SimpleNamespace:
        self.log.append("run")
        store_run(options.out_dir / "run", 0.1, seed=len(self.log), services="redis 7.0.15")
        return SimpleNamespace(verdict=self.verdicts[self.log.count("run") - 1])


@pytest.fixture
def suite(monkeypatch) -> FakeSuite:
    fake = FakeSuite()
    monkeypatch.setattr(gate_command, "scenario_stack", fake.stack)
    monkeypatch.setattr(gate_command, "run_on_stack", fake.run)
    monkeypatch.setattr(gate_command, "say", lambda _message: None)
    return fake


def _stored(tmp_path: Path, *, redis: str) -> Path:
    """A baseline file measured on this machine with Redis ``redis``."""
    path = tmp_path / "baseline.json"
    write_baseline(load_result_set(result_set(tmp_path / "old", 0.1, 6, services=redis)), path)
    return path


def _gate(baseline: Path, runs: Path, **options: bool):
    config = GateConfig(scenarios=["steady"], mode="stored")
    spec = SimpleNamespace(name="steady")
    return gate_command.against_stored([spec], config, baseline, runs, **options)


def test_a_stored_baseline_of_this_testbed_is_compared(suite: FakeSuite, tmp_path: Path) -> None:
    baseline = _stored(tmp_path, redis="redis 7.0.11")  # a patch release apart
    outcomes, comparison = _gate(baseline, tmp_path / "runs", update=False, force=False)
    assert suite.log == ["stack"] + ["run"] * 6
    assert comparison is not None
    assert comparison.verdict == "same"
    assert len(outcomes) == 6


def test_a_stored_baseline_of_another_testbed_is_refused_before_any_load(
    suite: FakeSuite, tmp_path: Path
) -> None:
    baseline = _stored(tmp_path, redis="redis 6.2.1")
    with pytest.raises(ResultSetError, match="different testbeds"):
        _gate(baseline, tmp_path / "runs", update=False, force=False)
    assert suite.log == ["stack"]
    _, comparison = _gate(baseline, tmp_path / "forced", update=False, force=True)
    assert comparison is not None


def test_update_stores_a_baseline_only_when_every_run_passed(
    suite: FakeSuite, tmp_path: Path
) -> None:
    path = tmp_path / "new-baseline.json"
    suite.verdicts = ["pass"] * 5 + ["fail"]
    _, comparison = _gate(path, tmp_path / "a", update=True, force=False)
    assert comparison is None
    assert not path.exists()
    suite.log.clear()
    suite.verdicts = ["pass"] * 6
    _gate(path, tmp_path / "b", update=True, force=False)
    assert read_baseline(path).runs == 6
