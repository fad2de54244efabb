"""A check not applicable to the target: neither a pass nor a failure, and not ``unknown``;
how the verdict, the harness, JUnit, GitHub annotations and the CLI treat it."""

import io
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from lxml import etree
from op_support import answered, table_of
from run_support import stored_run

from benchmarks.arrivals import Arrivals, Constant
from benchmarks.hdr import DurationHistogram
from benchmarks.history import write_history
from benchmarks.plan import LoadPlan, LoadResult
from benchmarks.target import Target
from benchmarks.workload import Workload
from scenarios.checks import (
    NOT_APPLICABLE,
    UNKNOWN,
    Check,
    CheckResult,
    NotApplicableError,
    Validity,
    Verdict,
)
from scenarios.checks.run_verdict import verdict_of
from scenarios.ci_output import annotate_checks, suite_of_checks, write_junit
from scenarios.cli import main
from scenarios.harness_checks import harness_results
from scenarios.report import build_report, render_html
from scenarios.run_record import RUN_KEY
from scenarios.schema import ScenarioSpec
from scenarios.stored_run import StoredRun


JUNIT_SCHEMA = etree.XMLSchema(etree.parse(str(Path(__file__).parent / "data" / "junit.xsd")))
NOT_FOR_THIS_TARGET = CheckResult(
    "cost", "cost_per_request", NOT_APPLICABLE, details="the run has no provider counters"
)
PASSED = CheckResult("errors", "error_rate", True, 0.0, 0.01, "fraction", "0.00% <= 1.00%")


class NeverApplies(Check):
    kind: str = "never"

    def verdict(self, run: StoredRun) -> Verdict:  # noqa: ARG002 - the run has no say
        raise NotApplicableError("the target has no such figure")


def test_a_check_raising_not_applicable_reads_not_applicable_with_the_reason() -> None:
    result = NeverApplies().check(stored_run(table_of([])), name="x")
    assert (result.name, result.valid, result.details) == (
        "x",
        NOT_APPLICABLE,
        "the target has no such figure",
    )


@pytest.mark.parametrize(
    ("validities", "verdict"),
    [
        ((True, NOT_APPLICABLE), "pass"),
        ((NOT_APPLICABLE,), "unknown"),  # nothing of the scenario's judged
        ((NOT_APPLICABLE, UNKNOWN), "unknown"),
        ((NOT_APPLICABLE, False), "fail"),
    ],
)
def test_not_applicable_checks_neither_pass_nor_fail_a_run(
    validities: tuple[Validity, ...], verdict: str
) -> None:
    results = [CheckResult(f"c{i}", "k", valid) for i, valid in enumerate(validities)]
    assert verdict_of(results) == verdict
    harness = CheckResult("generator", "harness", True)
    assert verdict_of([*results, harness]) == verdict


def probe_after(*checks: dict[str, Any]) -> StoredRun:
    after = {"verdict": "pass", "checks": list(checks)}
    return replace(stored_run(table_of([])), steady_state={"after": after})


def test_the_probe_after_the_load_meets_its_checks_when_the_rest_do_not_apply() -> None:
    run = probe_after(
        {"name": "errors", "valid": True}, {"name": "degraded", "valid": NOT_APPLICABLE}
    )
    (steady, *_) = harness_results(run)
    assert (steady.name, steady.valid) == ("steady_state_after", True)
    assert steady.details == (
        "the probe after the load met its checks (not applicable to the target: degraded)"
    )


def test_the_html_report_marks_a_check_not_applicable_and_says_what_that_means() -> None:
    page = render_html(build_report(stored_run(table_of([])), [PASSED, NOT_FOR_THIS_TARGET]))
    assert '<header class="pass">' in page
    assert '<td class="not-applicable">N/A</td>' in page
    assert '<p class="note">N/A: the target cannot give the check&#x27;s figure' in page


def test_junit_skips_a_check_not_applicable_to_the_target(tmp_path: Path) -> None:
    write_junit(tmp_path / "junit.xml", [suite_of_checks("foreign", [PASSED, NOT_FOR_THIS_TARGET])])
    document = etree.parse(str(tmp_path / "junit.xml"))
    JUNIT_SCHEMA.assertValid(document)
    suite = document.getroot().find("testsuite")
    assert (suite.get("skipped"), suite.get("errors"), suite.get("failures")) == ("1", "0", "0")
    skipped = suite.findall("testcase")[1].find("skipped")
    assert skipped.get("message") == "not applicable: the run has no provider counters"


def test_github_gets_a_notice_for_a_check_not_applicable_to_the_target() -> None:
    stream = io.StringIO()
    environ = {"GITHUB_ACTIONS": "true"}
    annotate_checks("foreign", [PASSED, NOT_FOR_THIS_TARGET], stream, environ)
    assert stream.getvalue() == (
        "::notice title=foreign%3A cost not applicable::the run has no provider counters\n"
    )


def store_foreign_run(path: Path) -> Path:
    """A stored run of a URL target: 20 fast answers, no provider ground truth."""
    spec = ScenarioSpec.model_validate(
        {
            "name": "foreign",
            "duration_s": 2,
            "target": {"url": "http://127.0.0.1:1"},
            "workload": {"arrivals": {"shape": {"kind": "constant", "rate_rps": 10}}},
            "checks": {
                "p95": {"kind": "latency", "percentile": 95, "max_ms": 800},
                "cost": {"kind": "cost_per_request", "max_usd": 0.01},
            },
        }
    )
    plan = LoadPlan(Workload(arrivals=Arrivals(Constant(10.0))), 2.0, Target("http://127.0.0.1:1"))
    table = table_of([answered(i * 0.1, 0.1) for i in range(20)])
    recorded = {"scenario": spec.model_dump(mode="json"), "provider": None, "gateway": None}
    result = LoadResult(plan, table, DurationHistogram(), 0.0)
    write_history(result, path, extra={RUN_KEY: recorded})
    return path


def test_check_passes_a_run_whose_other_checks_are_not_applicable(tmp_path: Path) -> None:
    run_dir = store_foreign_run(tmp_path / "run")
    result = CliRunner().invoke(main, ["check", str(run_dir)])
    assert result.exit_code == 0, result.output
    cost_line = next(line for line in result.output.splitlines() if line.startswith("cost "))
    assert "N/A" in cost_line
    assert "verdict: pass (1 check not applicable to the target)" in result.output
    report = (run_dir / "report.md").read_text(encoding="utf-8")
    assert "| cost | cost_per_request | N/A | — | — | the run has no provider counters" in report
    assert "_N/A: the target cannot give the check's figure" in report
