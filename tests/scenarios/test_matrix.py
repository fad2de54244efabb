"""The matrix document: each cell's figures from its stored run, the targets' versions, the
verdict, and cells that did not run."""

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import pytest
from op_support import answered, table_of
from run_support import counters, fault, provider_stats, stored_run

from benchmarks.op import Outcome
from scenarios.checks import UNKNOWN, CheckResult
from scenarios.checks.result import NOT_APPLICABLE
from scenarios.matrix import (
    Cell,
    Column,
    Figures,
    Status,
    build_document,
    cell_of_outcome,
    checks_reason,
    p95_during_faults_s,
    target_info,
    verdict_of,
)
from scenarios.report import ReportPaths
from scenarios.runner import RunOutcome
from scenarios.stored_run import StoredRun


PASSED = CheckResult("errors", "error_rate", True, 0.0, 0.01, "fraction")
FAILED = CheckResult("p95", "latency", False, 950.0, 800.0, "ms")
UNDECIDED = CheckResult("recovery", "recovery_time", UNKNOWN)
NOT_FOR_THIS_TARGET = CheckResult("cost", "cost_per_request", NOT_APPLICABLE)


def slow_during_fault_run(**kwargs: Any) -> StoredRun:
    """100 requests at 10/s: 100 ms each, but 1 s from 4 s to 6 s, where a fault acted; the
    last five requests failed."""
    rows = [answered(i * 0.1, 1.0 if 40 <= i < 60 else 0.1) for i in range(100)]
    for row in rows[95:]:
        row |= {"outcome": Outcome.FAIL, "status": 503}
    return stored_run(table_of(rows), faults=(fault(4.0, 6.0),), **kwargs)


def outcome(run: StoredRun, root: Path, results: list[CheckResult]) -> RunOutcome:
    report = root / "naive" / "steady" / "run"
    paths = ReportPaths(report / "report.json", report / "report.md", report / "report.html")
    return RunOutcome(run, results, paths)


def test_p95_is_taken_over_the_requests_that_arrived_during_the_faults() -> None:
    run = slow_during_fault_run()
    assert p95_during_faults_s(run) == pytest.approx(1.0)
    figures = Figures.of(run)
    assert figures.p95_window == "during_faults"
    assert figures.p95_s == pytest.approx(1.0)
    assert figures.error_rate == pytest.approx(0.05)


def test_without_faults_p95_is_the_whole_runs() -> None:
    rows = [answered(i * 0.1, 0.2 if i < 90 else 3.0) for i in range(100)]
    figures = Figures.of(stored_run(table_of(rows)))
    assert figures.p95_window == "all"
    assert figures.p95_s == pytest.approx(3.0)


def test_amplification_and_cost_are_per_client_request_from_the_ground_truth() -> None:
    truth = provider_stats(
        models={"gpt-4o-mini": counters(requests=150, prompt_tokens=100_000)},
        total=counters(requests=150, prompt_tokens=100_000),
    )
    figures = Figures.of(slow_during_fault_run(provider=truth))
    assert figures.client_requests == 100
    assert figures.upstream_calls == 150
    assert figures.calls_per_request == pytest.approx(1.5)
    assert figures.cost_per_request_usd == pytest.approx(100_000 * 0.15 / 1e6 / 100)


def test_a_target_without_ground_truth_has_no_amplification_or_cost() -> None:
    cell = Cell("pass", figures=Figures.of(slow_during_fault_run())).to_dict()
    assert cell["figures"]["calls_per_request"] is None
    assert cell["figures"]["cost_per_request_usd"] is None
    assert math.isclose(cell["figures"]["p95_s"], 1.0)


def test_a_finished_run_becomes_a_cell_linking_its_report(tmp_path: Path) -> None:
    cell = cell_of_outcome(outcome(slow_during_fault_run(), tmp_path, [PASSED, FAILED]), tmp_path)
    assert cell.status == "fail"
    assert cell.reason == "failed: p95"
    assert cell.report == "naive/steady/run/report.html"
    assert cell.figures is not None


def test_the_reason_names_the_checks_that_did_not_pass_by_validity() -> None:
    assert checks_reason([PASSED]) == ""
    assert checks_reason([FAILED, UNDECIDED, NOT_FOR_THIS_TARGET, PASSED]) == (
        "failed: p95; undecided: recovery; not applicable: cost"
    )


def test_our_gateways_version_is_the_packages_and_its_commit() -> None:
    run = dataclasses.replace(
        slow_during_fault_run(),
        gateway={"profile": "naive", "workers": 1, "commit": "0123456789abcdef", "dirty": True},
    )
    run.history.meta["testbed"]["meltproof"] = "0.1.0"
    info = target_info(run)
    assert info["kind"] == "gateway"
    assert info["name"] == "meltproof gateway (naive)"
    assert info["version"] == "meltproof 0.1.0 (commit 0123456789ab, uncommitted changes)"
    assert info["facts"]["profile"] == "naive"


def test_another_targets_version_is_what_the_run_recorded_of_it() -> None:
    recorded = {"kind": "peer", "name": "litellm", "version": "1.74.0", "files": ["config.yaml"]}
    info = target_info(dataclasses.replace(slow_during_fault_run(), target=recorded))
    assert (info["kind"], info["name"], info["version"]) == ("peer", "litellm", "1.74.0")
    assert info["facts"] == recorded
    unversioned = {"kind": "command", "name": "passthrough", "version": None}
    assert (
        target_info(dataclasses.replace(slow_during_fault_run(), target=unversioned))["version"]
        == "unknown"
    )


def test_the_document_holds_every_cell_the_targets_and_the_testbed(tmp_path: Path) -> None:
    ran = cell_of_outcome(outcome(slow_during_fault_run(), tmp_path, [PASSED]), tmp_path)
    cells = {
        ("steady", "naive"): ran,
        ("steady", "gw"): Cell("n/a", "fault 'x' acts on the redis link"),
        ("storm", "naive"): Cell("error", "StackError: redis did not start"),
    }
    document = build_document(
        ["steady", "storm"],
        [Column("naive", "naive"), Column("gw", "targets/gw.yaml")],
        cells,
        command="meltproof matrix --targets naive,targets/gw.yaml",
        testbed={"cpu_count": 2, "load_average": {"start": [0.5, 0.4, 0.3], "end": [1, 1, 1]}},
        started_at=0.0,
        elapsed_s=12.5,
    )
    json.dumps(document, allow_nan=False)
    assert document["schema_version"] == 1
    assert document["verdict"] == "unknown"
    assert not document["complete"]
    assert (document["cells_done"], document["cells_planned"]) == (3, 4)
    assert document["command"] == "meltproof matrix --targets naive,targets/gw.yaml"
    assert document["testbed"]["load_average"]["start"] == [0.5, 0.4, 0.3]
    naive, gw = document["targets"]
    assert (naive["label"], naive["value"], naive["kind"]) == ("naive", "naive", "gateway")
    assert naive["version"].startswith("meltproof ")
    assert gw == {"label": "gw", "value": "targets/gw.yaml", "version": "not run"}
    steady, storm = document["rows"]
    assert steady["scenario"] == "steady"
    assert steady["cells"]["naive"]["status"] == "pass"
    assert steady["cells"]["naive"]["report"] == "naive/steady/run/report.html"
    assert steady["cells"]["gw"]["status"] == "n/a"
    assert storm["cells"] == {
        "naive": Cell("error", "StackError: redis did not start").to_dict(),
        "gw": None,
    }


@pytest.mark.parametrize(
    ("statuses", "verdict"),
    [
        (["pass", "n/a", "pass"], "pass"),
        ([], "pass"),
        (["pass", "error"], "unknown"),
        (["unknown", "n/a"], "unknown"),
        (["error", "fail", "pass"], "fail"),
    ],
)
def test_the_verdict_fails_on_any_failure_and_is_unknown_on_errors(
    statuses: list[Status], verdict: str
) -> None:
    assert verdict_of(statuses) == verdict
