"""``meltproof matrix`` with the runs faked: the order of the cells, n/a and harness errors in
their cells, exit codes, an interrupted matrix, JUnit and the GitHub step summary."""

import json
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from lxml import etree
from op_support import answered, table_of
from run_support import fault, stored_run

from scenarios.checks import CheckResult
from scenarios.cli import compare_command, main, matrix_command
from scenarios.loader import builtin_names
from scenarios.report import ReportPaths
from scenarios.runner import HarnessError, RunOptions, RunOutcome
from scenarios.schema import ScenarioSpec, SuiteError, UnfitTargetError


JUNIT_SCHEMA = etree.XMLSchema(etree.parse(str(Path(__file__).parent / "data" / "junit.xsd")))
PASSED = [CheckResult("errors", "error_rate", True, 0.0, 0.01, "fraction")]
FAILED = [CheckResult("errors", "error_rate", False, 0.2, 0.01, "fraction")]
GATEWAY = {"command": {"name": "gw", "argv": ["gw", "--port", "{port}", "--up", "{provider_url}"]}}


def scenario(name: str, link: str) -> dict[str, Any]:
    return {
        "name": name,
        "duration_s": 5,
        "workload": {"arrivals": {"shape": {"kind": "constant", "rate_rps": 10}}},
        "faults": [{"at_s": 1, "for_s": 2, "fault": {"kind": "latency", "link": link,
                                                    "latency_ms": 100}}],
        "checks": {"errors": {"kind": "error_rate", "max": 0.01}},
    }  # fmt: skip


Behaviour = list[CheckResult] | BaseException


class FakeRuns:
    """``run_with_progress`` stand-in: each cell's checks, or what it raises (default: pass)."""

    def __init__(self, behaviours: dict[tuple[str, str], Behaviour]) -> None:
        self.behaviours = behaviours
        self.cells: list[tuple[str, str]] = []

    def __call__(self, spec: ScenarioSpec, options: RunOptions) -> RunOutcome:
        cell = (spec.target.label, spec.name)
        self.cells.append(cell)
        assert options.out_dir.parts[-2:] == cell
        behaviour = self.behaviours.get(cell, PASSED)
        if isinstance(behaviour, BaseException):
            raise behaviour
        rows = [answered(i * 0.1, 0.1) for i in range(50)]
        run = stored_run(table_of(rows), faults=(fault(1.0, 3.0),))
        html = options.out_dir / "run" / "report.html"
        return RunOutcome(run, behaviour, ReportPaths(html, html, html))


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Two scenarios (storm: a provider fault; outage: a Redis fault) and a command target
    (gw.yaml) that uses only the provider link."""
    (tmp_path / "storm.yaml").write_text(yaml.safe_dump(scenario("storm", "provider")))
    (tmp_path / "outage.yaml").write_text(yaml.safe_dump(scenario("outage", "redis")))
    (tmp_path / "gw.yaml").write_text(yaml.safe_dump({"target": GATEWAY}))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(compare_command, "interrupt_on_signals", lambda: None)
    return tmp_path


def matrix(
    monkeypatch: pytest.MonkeyPatch, runs: FakeRuns, *args: str, env: dict[str, str] | None = None
) -> Result:
    monkeypatch.setattr(matrix_command, "run_with_progress", runs)
    monkeypatch.setattr(sys, "argv", ["meltproof", "matrix", *args])
    return CliRunner(env=env).invoke(main, ["matrix", *args], prog_name="meltproof")


def cells(out: Path) -> dict[tuple[str, str], str]:
    document = json.loads((out / "matrix.json").read_text())
    return {
        (label, row["scenario"]): cell and cell["status"]
        for row in document["rows"]
        for label, cell in row["cells"].items()
    }


def test_every_scenario_runs_against_every_target_and_the_matrix_is_written(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = FakeRuns({
        ("naive", "outage"): FAILED,
        ("hardened", "outage"): HarnessError("the stack did not start"),
    })  # fmt: skip
    summary = workdir / "summary.md"
    env = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)}
    args = ("storm.yaml", "outage.yaml", "--targets", "naive,hardened,gw.yaml", "--out", "out")
    result = matrix(monkeypatch, runs, *args, "--junit", "junit.xml", env=env)
    assert result.exit_code == 1, result.output
    assert runs.cells == [
        ("naive", "storm"), ("hardened", "storm"), ("gw", "storm"),
        ("naive", "outage"), ("hardened", "outage"),
    ]  # fmt: skip
    assert "[2/6] hardened \N{MULTIPLICATION SIGN} storm" in result.output
    assert cells(workdir / "out") == {
        ("naive", "storm"): "pass", ("hardened", "storm"): "pass", ("gw", "storm"): "pass",
        ("naive", "outage"): "fail", ("hardened", "outage"): "error", ("gw", "outage"): "n/a",
    }  # fmt: skip
    document = json.loads((workdir / "out" / "matrix.json").read_text())
    assert document["command"] == "meltproof matrix " + " ".join(args) + " --junit junit.xml"
    assert set(document["testbed"]["load_average"]) == {"start", "end"}
    outage = document["rows"][1]["cells"]
    assert outage["hardened"]["reason"] == "HarnessError: the stack did not start"
    assert "acts on the redis link" in outage["gw"]["reason"]
    assert document["rows"][0]["cells"]["gw"]["report"] == "gw/storm/run/report.html"
    text = (workdir / "out" / "matrix.md").read_text()
    assert (workdir / "out" / "matrix.html").is_file()
    assert summary.read_text() == text.rstrip("\n") + "\n\n"
    annotations = [line for line in result.stdout.splitlines() if line.startswith("::error")]
    assert len(annotations) == 2
    JUNIT_SCHEMA.assertValid(etree.parse(str(workdir / "junit.xml")))


@pytest.mark.parametrize(
    ("behaviour", "code"),
    [
        (PASSED, 0),
        (UnfitTargetError("storm clicks the copilot endpoints"), 0),
        (HarnessError("the stack did not start"), 3),
        (SuiteError("target.command.auth.key_env names KEY, which is not set"), 3),
        ([CheckResult("recovery", "recovery_time", "unknown")], 3),
    ],
)
def test_the_exit_code_says_pass_or_na_failure_or_harness_error(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, behaviour: Behaviour, code: int
) -> None:
    runs = FakeRuns({("hardened", "storm"): behaviour})
    result = matrix(monkeypatch, runs, "storm.yaml", "--targets", "naive,hardened", "--out", "o")
    assert result.exit_code == code, result.output


@pytest.mark.parametrize("stop", [KeyboardInterrupt(), SystemExit(130)])
def test_an_interrupted_matrix_keeps_the_cells_that_finished(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, stop: BaseException
) -> None:
    runs = FakeRuns({("hardened", "storm"): stop})
    result = matrix(monkeypatch, runs, "storm.yaml", "outage.yaml", "--targets", "naive,hardened",
                    "--out", "out")  # fmt: skip
    assert result.exit_code == 130, result.output
    assert runs.cells == [("naive", "storm"), ("hardened", "storm")]
    assert cells(workdir / "out") == {
        ("naive", "storm"): "pass", ("hardened", "storm"): None,
        ("naive", "outage"): None, ("hardened", "outage"): None,
    }  # fmt: skip
    assert (workdir / "out" / "matrix.md").read_text().startswith("# Fault matrix: interrupted")


@pytest.mark.parametrize(
    ("targets", "message"),
    [
        ("naive,missing.yaml", "--target missing.yaml: not naive, hardened"),
        ("naive,gw.yaml,other/gw.yaml", "more than one target named gw"),
        (" , ", "name at least one target"),
    ],
)
def test_targets_that_cannot_be_columns_stop_the_matrix_before_it_runs(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, targets: str, message: str
) -> None:
    (workdir / "other").mkdir()
    (workdir / "other" / "gw.yaml").write_text(yaml.safe_dump(GATEWAY))
    runs = FakeRuns({})
    result = matrix(monkeypatch, runs, "storm.yaml", "--targets", targets, "--out", "out")
    assert result.exit_code == 3
    assert message in " ".join(result.output.split())
    assert runs.cells == []
    assert not (workdir / "out").exists()


def test_runs_are_never_overwritten(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (workdir / "out" / "hardened" / "storm").mkdir(parents=True)
    runs = FakeRuns({})
    result = matrix(monkeypatch, runs, "storm.yaml", "--targets", "naive,hardened", "--out", "out")
    assert result.exit_code == 3
    assert "hardened/storm exists; runs are never overwritten" in result.output
    assert runs.cells == []


def test_by_default_every_built_in_scenario_runs(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = FakeRuns({})
    result = matrix(monkeypatch, runs, "--targets", "naive", "--out", "out")
    assert result.exit_code == 0, result.output
    assert runs.cells == [("naive", name) for name in builtin_names()]
    assert len(runs.cells) == 10
