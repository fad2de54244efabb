"""``--threshold`` expressions: parsing, every mistake's message, evaluation on a summary."""

import math
import re
from dataclasses import replace

import pytest
from op_support import answered, table_of

from benchmarks.hdr import DurationHistogram
from benchmarks.op import ErrorKind, Outcome
from benchmarks.summary import Summary
from scenarios.thresholds import evaluate, figure, parse_threshold


@pytest.mark.parametrize(
    ("expression", "metric", "op", "limit"),
    [
        ("p99<500ms", "p99", "<", 0.5),
        ("p95 <= 1.5s", "p95", "<=", 1.5),
        ("p99.9<2s", "p99.9", "<", 2.0),
        ("P50<.5S", "p50", "<", 0.5),
        ("max<30s", "max", "<", 30.0),
        ("mean>=10ms", "mean", ">=", 0.01),
        ("p90>0ms", "p90", ">", 0.0),
        ("error_rate<1%", "error_rate", "<", 0.01),
        ("error_rate <= 0.02", "error_rate", "<=", 0.02),
        ("unknown_rate<0.5 %", "unknown_rate", "<", 0.005),
        ("rps>=95", "rps", ">=", 95.0),
        ("rps>12.5", "rps", ">", 12.5),
    ],
)
def test_valid_expressions(expression: str, metric: str, op: str, limit: float) -> None:
    threshold = parse_threshold(expression)
    assert (threshold.metric, threshold.op) == (metric, op)
    assert threshold.limit == pytest.approx(limit)
    assert threshold.expression == expression.strip()


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("", "expected METRIC OP VALUE such as 'p99<500ms'"),
        ("p99", "expected METRIC OP VALUE"),
        ("p99=500ms", "OP one of <, <=, >, >="),
        ("p99==500ms", "OP one of <, <=, >, >="),
        ("<500ms", "expected METRIC OP VALUE"),
        ("p98<500ms", "unknown metric 'p98'; known: p50, p90, p95, p99, p99.9, max, mean"),
        ("latency<500ms", "unknown metric 'latency'"),
        ("p99<", "a value is missing after '<'"),
        ("p99<fast", "'fast' is not a number with an optional unit"),
        ("p99<-5ms", "'-5ms' is not a number"),
        ("p99<<5ms", "'<5ms' is not a number"),
        ("p99<500", "p99 is a latency: give it in ms or s, e.g. 'p99<500ms'"),
        ("p99<500us", "p99 is a latency: give it in ms or s"),
        ("p99<5%", "p99 is a latency"),
        ("error_rate<1ms", "error_rate is a rate: give a percentage up to 100% or a fraction"),
        ("error_rate<5", "error_rate is a rate"),
        ("unknown_rate<101%", "unknown_rate is a rate"),
        ("rps>95%", "rps is a plain number of requests per second, e.g. 'rps>=95'"),
        ("rps>95rps", "rps is a plain number"),
    ],
)
def test_malformed_expressions_say_what_is_expected(expression: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_threshold(expression)


def _summary() -> Summary:
    """100 requests in 10 s: 96 ok in 50 ms, 3 failed, 1 given up after 30 s."""
    rows = [answered(0.1 * i, 0.05) for i in range(96)]
    rows += [answered(9.6, 0.02, outcome=Outcome.FAIL, error=ErrorKind.HTTP, status=429)] * 2
    rows += [answered(9.7, 0.0, outcome=Outcome.FAIL, error=ErrorKind.CONNECT, status=0)]
    rows += [answered(9.8, 30.0, outcome=Outcome.INFO, error=ErrorKind.TIMEOUT, status=0)]
    return Summary.of(table_of(rows), DurationHistogram(), duration_s=10.0)


def _check(*expressions: str, summary: Summary | None = None) -> list[tuple[float, bool]]:
    thresholds = [parse_threshold(e) for e in expressions]
    return [(r.observed, r.passed) for r in evaluate(thresholds, summary or _summary())]


def test_latency_thresholds_read_the_summary_percentiles() -> None:
    summary = _summary()
    (p50, p50_held), (top, top_held) = _check("p50<60ms", "max<10s", summary=summary)
    assert p50 == summary.latency_s.p50_s
    assert p50 == pytest.approx(0.05, rel=1e-2)
    assert p50_held
    assert top == summary.latency_s.max_s
    assert not top_held  # the timed-out request stays in the tail


def test_rate_and_throughput_thresholds() -> None:
    (errors, errors_held), (unknown, unknown_held), (rps, rps_held) = _check(
        "error_rate<=3%", "unknown_rate<1%", "rps>=10"
    )
    assert errors == pytest.approx(0.03)
    assert errors_held  # <= holds at the limit
    assert unknown == pytest.approx(0.01)
    assert not unknown_held  # < does not
    assert rps == pytest.approx(10.0)
    assert rps_held


def test_every_operator_at_and_around_the_limit() -> None:
    results = _check("rps<10", "rps<=10", "rps>10", "rps>=10", "rps>9.9", "rps<10.1")
    assert [held for _, held in results] == [False, True, False, True, True, True]


def test_a_figure_the_run_lacks_fails() -> None:
    nothing_answered = replace(_summary(), error_rate=math.nan)
    [(observed, held)] = _check("error_rate<100%", summary=nothing_answered)
    assert math.isnan(observed)
    assert not held


def test_figures_are_written_as_the_summary_writes_them() -> None:
    assert figure("latency", 0.4123) == "412.3 ms"
    assert figure("rate", 0.0231) == "2.31%"
    assert figure("throughput", 1234.5) == "1,234.5 req/s"
    assert figure("latency", math.nan) == "—"


def test_the_kind_follows_the_metric() -> None:
    assert parse_threshold("p99<1s").kind == "latency"
    assert parse_threshold("unknown_rate<1%").kind == "rate"
    assert parse_threshold("rps>1").kind == "throughput"
