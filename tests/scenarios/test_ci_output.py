"""CI outputs: JUnit XML valid against Jenkins' schema, GitHub summaries and annotations, and
the ``--junit`` option of ``meltproof run`` and ``meltproof check``."""

import io
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from lxml import etree
from op_support import answered, table_of

from benchmarks.arrivals import Arrivals, Constant
from benchmarks.hdr import DurationHistogram
from benchmarks.history import write_history
from benchmarks.plan import LoadPlan, LoadResult
from benchmarks.stats import compare_metrics
from benchmarks.target import Target
from benchmarks.workload import Workload
from scenarios.checks import UNKNOWN, CheckResult
from scenarios.ci_output import (
    annotate,
    annotate_checks,
    annotate_comparison,
    append_step_summary,
    on_github_actions,
    suite_of_checks,
    suite_of_comparison,
    suite_of_harness_error,
    suite_of_steady_state_failure,
    write_junit,
)
from scenarios.cli import main, run_command
from scenarios.compare.comparison import Comparison, ScenarioComparison
from scenarios.compare.result_set import ResultSet
from scenarios.report import write_reports
from scenarios.run_record import RUN_KEY
from scenarios.runner import HarnessError, RunOptions, RunOutcome, SteadyStateError, all_results
from scenarios.schema import ScenarioSpec
from scenarios.stored_run import read_run


JUNIT_SCHEMA = etree.XMLSchema(etree.parse(str(Path(__file__).parent / "data" / "junit.xsd")))
ON_GITHUB = {"GITHUB_ACTIONS": "true"}
COUNTS = ("tests", "failures", "errors", "skipped")

FAILED = CheckResult("p95", "latency", False, 950.0, 800.0, "ms", "p95 of 120 = 950 ms > 800 ms")
UNDECIDED = CheckResult("recovery", "recovery_time", UNKNOWN, details="no fault\nended")
PASSED = CheckResult("errors", "error_rate", True, 0.002, 0.01, "fraction", "0.20% <= 1.00%")


def valid_junit(path: Path) -> Any:
    """The root of the JUnit file at ``path``, after checking it against the schema."""
    document = etree.parse(str(path))
    JUNIT_SCHEMA.assertValid(document)
    return document.getroot()


def counts(element: Any) -> dict[str, str | None]:
    return {name: element.get(name) for name in COUNTS}


def test_checks_make_a_valid_file_with_a_case_per_check(tmp_path: Path) -> None:
    suites = [
        suite_of_checks("redis_outage", [PASSED, FAILED, UNDECIDED], time_s=42.5),
        suite_of_steady_state_failure("monday_peak", "the probe's p95 was 1,200 ms"),
        suite_of_harness_error("noisy_tenant", "StackError: redis did not start"),
    ]
    write_junit(tmp_path / "junit.xml", suites)
    root = valid_junit(tmp_path / "junit.xml")
    assert root.tag == "testsuites"
    assert counts(root) == {"tests": "5", "failures": "2", "errors": "2", "skipped": None}
    assert root.get("time") == "42.500"
    outage, peak, noisy = root.findall("testsuite")
    assert counts(outage) == {"tests": "3", "failures": "1", "errors": "1", "skipped": "0"}
    assert outage.get("name") == "redis_outage"
    assert outage.get("time") == "42.500"
    passed, failed, undecided = outage.findall("testcase")
    assert [case.get("name") for case in (passed, failed, undecided)] == [
        "errors",
        "p95",
        "recovery",
    ]
    assert passed.find("failure") is None
    assert passed.find("error") is None
    assert passed.findtext("system-out") == "0.20% <= 1.00%"
    assert failed.get("classname") == "redis_outage"
    assert failed.find("failure").get("message") == "observed 950 ms, limit 800 ms"
    assert failed.findtext("failure") == "p95 of 120 = 950 ms > 800 ms"
    assert undecided.find("failure") is None
    assert undecided.find("error").get("message") == "no fault\nended"
    assert counts(peak) == {"tests": "1", "failures": "1", "errors": "0", "skipped": "0"}
    assert peak.find("testcase/failure").get("message") == "the probe's p95 was 1,200 ms"
    assert counts(noisy) == {"tests": "1", "failures": "0", "errors": "1", "skipped": "0"}
    assert noisy.find("testcase/error").get("message") == "StackError: redis did not start"


def test_special_characters_survive_and_forbidden_ones_are_replaced(tmp_path: Path) -> None:
    name = 'p95 <&"> ∑ café'
    details = "\x1b[31mred\x1b[0m, nul \x00, lone \ud800\nnext line"
    result = CheckResult(name, "latency", False, 1.0, 0.5, "s", details)
    write_junit(tmp_path / "junit.xml", [suite_of_checks("tab\there", [result])])
    raw = (tmp_path / "junit.xml").read_bytes()
    assert raw.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    assert "café".encode() in raw
    case = valid_junit(tmp_path / "junit.xml").find("testsuite/testcase")
    assert case.get("name") == name
    assert case.get("classname") == "tab\there"
    expected = "\ufffd[31mred\ufffd[0m, nul \ufffd, lone \ufffd\nnext line"
    assert case.findtext("failure") == expected


def result_set(name: str, scenario: str) -> ResultSet:
    return ResultSet(Path(name), {scenario: {}}, {}, runs=8)


def a_comparison(*, only_in_baseline: str | None = None) -> Comparison:
    """p95 clearly worse over 8 runs per side, the error rate unknown (2 runs), the hit rate
    the same."""
    metrics = compare_metrics(
        {
            "p95_ms": ([100.0 + i for i in range(8)], [150.0 + i for i in range(8)], False),
            "error_rate": ([0.01, 0.02], [0.02, 0.03], False),
            "cache_hit_rate": ([0.5] * 8, [0.5] * 8, True),
        }
    )
    baseline = result_set("base", "steady")
    if only_in_baseline:
        baseline = ResultSet(Path("base"), {"steady": {}, only_in_baseline: {}}, {}, runs=8)
    only = [only_in_baseline] if only_in_baseline else []
    return Comparison(
        baseline=baseline,
        candidate=result_set("cand", "steady"),
        scenarios=[ScenarioComparison("steady", metrics)],
        only_in_one=only,
        alpha=0.05,
        min_effect=0.05,
    )


def test_a_comparison_has_a_failure_per_worse_and_a_skip_per_unknown_metric(
    tmp_path: Path,
) -> None:
    write_junit(tmp_path / "junit.xml", [suite_of_comparison(a_comparison())])
    suite = valid_junit(tmp_path / "junit.xml").find("testsuite")
    assert counts(suite) == {"tests": "3", "failures": "1", "errors": "0", "skipped": "1"}
    assert suite.get("name") == "comparison of cand with base"
    cases = {case.get("name"): case for case in suite.findall("testcase")}
    assert list(cases) == ["steady: p95_ms", "steady: error_rate", "steady: cache_hit_rate"]
    message = cases["steady: p95_ms"].find("failure").get("message")
    assert message.startswith("median rose from 103.5 to 153.5 (+48.3%), adjusted p = ")
    assert "shift 50 (95% CI" in cases["steady: p95_ms"].findtext("failure")
    skipped = cases["steady: error_rate"].find("skipped").get("message")
    assert skipped.startswith("only 2 baseline and 2 candidate runs, fewer than 3 per side")
    assert len(cases["steady: cache_hit_rate"]) == 1  # its system-out, no verdict element
    assert cases["steady: cache_hit_rate"].findtext("system-out").startswith("same: ")


def test_a_scenario_only_one_set_has_is_skipped(tmp_path: Path) -> None:
    comparison = a_comparison(only_in_baseline="noisy")
    write_junit(tmp_path / "junit.xml", [suite_of_comparison(comparison)])
    suite = valid_junit(tmp_path / "junit.xml").find("testsuite")
    assert counts(suite) == {"tests": "4", "failures": "1", "errors": "0", "skipped": "2"}
    last = suite.findall("testcase")[-1]
    assert last.get("name") == "noisy: all metrics"
    assert last.find("skipped").get("message") == "only in the baseline set"


def test_annotations_are_workflow_commands_with_github_escaping() -> None:
    stream = io.StringIO()
    annotate("notice", "p95: 50%, twice", "50% of\r\nrequests: slow, late", stream, ON_GITHUB)
    assert stream.getvalue() == (
        "::notice title=p95%3A 50%25%2C twice::50%25 of%0D%0Arequests: slow, late\n"
    )


def test_failed_checks_are_errors_and_undecided_ones_warnings() -> None:
    stream = io.StringIO()
    annotate_checks("redis_outage", [PASSED, FAILED, UNDECIDED], stream, ON_GITHUB)
    assert stream.getvalue().splitlines() == [
        (
            "::error title=redis_outage%3A p95 failed::"
            "observed 950 ms, limit 800 ms; p95 of 120 = 950 ms > 800 ms"
        ),
        "::warning title=redis_outage%3A recovery undecided::no fault%0Aended",
    ]


def test_a_worse_metric_is_an_error_and_an_unknown_one_a_warning() -> None:
    stream = io.StringIO()
    annotate_comparison(a_comparison(), stream, ON_GITHUB)
    worse, unknown = stream.getvalue().splitlines()
    assert worse.startswith(
        "::error title=steady%3A p95_ms worse::median rose from 103.5 to 153.5 (+48.3%25), "
    )
    assert unknown.startswith(
        "::warning title=steady%3A error_rate unknown::only 2 baseline and 2 candidate runs, "
    )


def test_the_step_summary_gets_each_markdown_and_a_blank_line(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n", encoding="utf-8")
    environ = ON_GITHUB | {"GITHUB_STEP_SUMMARY": str(summary)}
    append_step_summary("# redis_outage: pass ✓\n", environ)
    append_step_summary("# noisy_tenant: fail", environ)
    assert summary.read_text(encoding="utf-8") == (
        "earlier step\n# redis_outage: pass ✓\n\n# noisy_tenant: fail\n\n"
    )


@pytest.mark.parametrize("actions", [None, "false"])
def test_off_github_actions_nothing_is_written(tmp_path: Path, actions: str | None) -> None:
    summary = tmp_path / "summary.md"
    environ = {"GITHUB_STEP_SUMMARY": str(summary)}
    if actions is not None:
        environ["GITHUB_ACTIONS"] = actions
    stream = io.StringIO()
    assert not on_github_actions(environ)
    append_step_summary("# redis_outage", environ)
    annotate("error", "title", "message", stream, environ)
    annotate_checks("redis_outage", [FAILED, UNDECIDED], stream, environ)
    annotate_comparison(a_comparison(), stream, environ)
    assert not summary.exists()
    assert stream.getvalue() == ""


SCENARIO: dict[str, Any] = {
    "name": "steady",
    "duration_s": 5,
    "workload": {"arrivals": {"shape": {"kind": "constant", "rate_rps": 10}}},
    "checks": {
        "p95": {"kind": "latency", "percentile": 95, "max_ms": 800},
        "p50_tight": {"kind": "latency", "percentile": 50, "max_ms": 50},
        "p95_during_faults": {
            "kind": "latency",
            "percentile": 95,
            "max_ms": 800,
            "window": "during_faults",
        },
    },
}
"""Over 50 requests of 100 ms: p95 passes, p50_tight fails, p95_during_faults is undecided
(no faults); the harness adds a passing ``generator`` check."""


def store_run(path: Path) -> Path:
    """A stored run of ``SCENARIO``: 50 requests of 100 ms each."""
    spec = ScenarioSpec.model_validate(SCENARIO)
    plan = LoadPlan(Workload(arrivals=Arrivals(Constant(10.0))), 5.0, Target("http://127.0.0.1:9"))
    table = table_of([answered(i * 0.1, 0.1) for i in range(50)])
    recorded = {"scenario": spec.model_dump(mode="json"), "provider": None, "gateway": None}
    write_history(
        LoadResult(plan, table, DurationHistogram(), 0.0), path, extra={RUN_KEY: recorded}
    )
    return path


def github_env(summary: Path) -> dict[str, str | None]:
    return {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)}


def test_check_writes_junit_and_publishes_on_github(tmp_path: Path) -> None:
    run_dir = store_run(tmp_path / "run")
    summary = tmp_path / "summary.md"
    result = CliRunner(env=github_env(summary)).invoke(
        main, ["check", str(run_dir), "--junit", str(tmp_path / "out" / "junit.xml")]
    )
    assert result.exit_code == 1, result.output
    suite = valid_junit(tmp_path / "out" / "junit.xml").find("testsuite")
    assert suite.get("name") == "steady"
    assert counts(suite) == {"tests": "4", "failures": "1", "errors": "1", "skipped": "0"}
    report = (run_dir / "report.md").read_text(encoding="utf-8")
    assert summary.read_text(encoding="utf-8") == report.rstrip("\n") + "\n\n"
    annotations = [line for line in result.stdout.splitlines() if line.startswith("::")]
    assert annotations == [
        (
            "::error title=steady%3A p50_tight failed::observed 100 ms, limit 50 ms; "
            "p50 of 50 ended requests (whole run) = 100 ms > 50 ms"
        ),
        (
            "::warning title=steady%3A p95_during_faults undecided::"
            "the run had no faults, so it has no during faults window"
        ),
    ]


def test_run_writes_a_suite_per_scenario_also_for_stopped_runs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    stored = store_run(tmp_path / "stored")
    files = []
    for name in ("steady", "stalled", "broken"):
        files.append(tmp_path / f"{name}.yaml")
        files[-1].write_text(yaml.safe_dump(SCENARIO | {"name": name}), encoding="utf-8")

    def run_with_progress(spec: ScenarioSpec, options: RunOptions) -> RunOutcome:
        if spec.name == "stalled":
            raise SteadyStateError("the probe's error rate was 40%")
        if spec.name == "broken":
            raise HarnessError("the stack did not start")
        run = read_run(stored)
        results = all_results(spec, run)
        return RunOutcome(run, results, write_reports(run, results, options.out_dir))

    monkeypatch.setattr(run_command, "interrupt_on_signals", lambda: None)
    monkeypatch.setattr(run_command, "run_with_progress", run_with_progress)
    summary = tmp_path / "summary.md"
    junit = tmp_path / "junit.xml"
    result = CliRunner(env=github_env(summary)).invoke(
        main, ["run", *map(str, files), "--out", str(tmp_path / "runs"), "--junit", str(junit)]
    )
    assert result.exit_code == 1, result.output
    root = valid_junit(junit)
    assert counts(root) == {"tests": "6", "failures": "2", "errors": "2", "skipped": None}
    steady, stalled, broken = root.findall("testsuite")
    assert [s.get("name") for s in (steady, stalled, broken)] == ["steady", "stalled", "broken"]
    assert counts(steady) == {"tests": "4", "failures": "1", "errors": "1", "skipped": "0"}
    stalled_failure = stalled.find("testcase/failure")
    assert stalled_failure.get("message") == "the probe's error rate was 40%"
    broken_error = broken.find("testcase/error")
    assert broken_error.get("message") == "HarnessError: the stack did not start"
    text = summary.read_text(encoding="utf-8")
    assert text.startswith((tmp_path / "runs" / "steady" / "report.md").read_text().rstrip())
    assert "# stalled: steady state failed\n\nthe probe's error rate was 40%\n\n" in text
    assert text.endswith("# broken: harness error\n\nHarnessError: the stack did not start\n\n")
    annotations = [line for line in result.stdout.splitlines() if line.startswith("::")]
    assert annotations[2:] == [
        "::error title=stalled%3A steady state failed::the probe's error rate was 40%25",
        "::error title=broken%3A harness error::HarnessError: the stack did not start",
    ]


def test_run_without_junit_or_github_writes_neither(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    scenario = tmp_path / "broken.yaml"
    scenario.write_text(yaml.safe_dump(SCENARIO | {"name": "broken"}), encoding="utf-8")

    def run_with_progress(_spec: ScenarioSpec, _options: RunOptions) -> RunOutcome:
        raise HarnessError("the stack did not start")

    monkeypatch.setattr(run_command, "interrupt_on_signals", lambda: None)
    monkeypatch.setattr(run_command, "run_with_progress", run_with_progress)
    summary = tmp_path / "summary.md"
    result = CliRunner(env={"GITHUB_ACTIONS": None, "GITHUB_STEP_SUMMARY": str(summary)}).invoke(
        main, ["run", str(scenario), "--out", str(tmp_path / "runs")]
    )
    assert result.exit_code == 3, result.output
    assert "::" not in result.stdout
    assert not summary.exists()
    assert list(tmp_path.glob("*.xml")) == []
