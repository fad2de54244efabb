"""A canary step's verdict and its table, from synthetic cohorts."""

from __future__ import annotations

import json

import pytest
from op_support import answered, table_of

from benchmarks.op import Outcome
from scenarios.canary import CanaryReport, canary_json, canary_markdown
from scenarios.canary.cohorts import StepLoad, variant_of
from scenarios.canary.flow import CanaryError, check_steps
from scenarios.canary.verdict import Cohort, Slo, judge


STEP_S = 8.0
P95 = Slo("p95", 95.0, 400.0)
ERRORS = Slo("errors", None, 0.05)


def step(stable_ms: float, canary_ms: float, *, canary_fails: bool = False) -> StepLoad:
    """80 requests over the step, every fourth one to the canary, latencies spread a little."""
    rows, variants = [], []
    for i in range(80):
        canary = i % 4 == 0
        base = canary_ms if canary else stable_ms
        fields = {"outcome": Outcome.FAIL, "status": 503} if canary and canary_fails else {}
        rows.append(answered(i * STEP_S / 80, (base + i % 7) / 1000, **fields))
        variants.append("canary" if canary else "stable")
    return StepLoad(table_of(rows), tuple(variants))


def judged(load: StepLoad, *, last: bool = False):
    return judge(
        10,
        Cohort.of(load, "stable", STEP_S),
        Cohort.of(load, "canary", STEP_S),
        [P95, ERRORS],
        last=last,
        alpha=0.01,
        min_effect=0.2,
    )


def test_a_slower_canary_rolls_back_on_latency_and_its_slo() -> None:
    result = judged(step(30, 450))
    assert result.decision == "roll back"
    assert {c.metric: c.verdict for c in result.comparisons}["latency_ms"] == "worse"
    assert any("breaks p95" in reason for reason in result.reasons)


def test_a_failing_canary_rolls_back_on_its_error_rate() -> None:
    result = judged(step(30, 30, canary_fails=True))
    assert result.decision == "roll back"
    assert {c.metric: c.verdict for c in result.comparisons}["error_rate"] == "worse"
    assert any("breaks errors" in reason for reason in result.reasons)


def test_a_canary_like_the_stable_cohort_goes_on_and_is_promoted_at_the_last_step() -> None:
    assert judged(step(30, 31)).decision == "continue"
    assert judged(step(30, 31), last=True).decision == "promote"


def test_a_canary_that_got_no_request_is_rolled_back() -> None:
    load = step(30, 30)
    nobody = StepLoad(load.table, tuple("stable" for _ in load.variants))
    result = judge(
        10,
        Cohort.of(nobody, "stable", STEP_S),
        Cohort.of(nobody, "canary", STEP_S),
        [],
        last=False,
        alpha=0.01,
        min_effect=0.2,
    )
    assert result.decision == "roll back"
    assert "no request was served the canary" in result.reasons


def test_the_variant_of_a_flag_is_read_from_the_header() -> None:
    assert variant_of("model=canary,prompt-version=v2", "model") == "canary"
    assert variant_of("prompt-version=v2", "model") == ""
    assert variant_of("", "model") == ""


@pytest.mark.parametrize("steps", [(), (10, 50), (50, 10, 100), (0, 100), (10, 150)])
def test_steps_rise_within_1_to_100_and_end_at_100(steps: tuple[int, ...]) -> None:
    with pytest.raises(CanaryError):
        check_steps(steps)
    assert check_steps((10, 50, 100)) == (10, 50, 100)


def test_the_table_has_a_row_per_step_and_says_where_the_flag_was_left(tmp_path) -> None:
    report = CanaryReport(
        "s", "model", "stable", "canary", tmp_path / "flags.json", [judged(step(30, 450))]
    )
    document = canary_json(report)
    json.dumps(document, allow_nan=False)
    assert document["decision"] == "roll back"
    markdown = canary_markdown(document)
    assert "| 10% | 60 / 20 |" in markdown
    assert "| worse |" in markdown
    assert "is back as it was before the canary" in markdown
