"""Load plans, targets and the generator-shortfall verdict."""

import re

import pytest
from op_support import answered, table_of

from benchmarks.arrivals import Arrivals, Constant
from benchmarks.hdr import DurationHistogram
from benchmarks.op import ErrorKind, Outcome
from benchmarks.plan import LoadPlan, LoadResult
from benchmarks.target import Target
from benchmarks.workload import Workload


def _plan(duration_s: float = 10.0) -> LoadPlan:
    return LoadPlan(Workload(arrivals=Arrivals(Constant(10))), duration_s, Target("http://x"))


def test_a_generator_that_kept_up_has_no_shortfall() -> None:
    table = table_of([answered(0.1 * i, 0.5, sent_s=0.1 * i + 0.002) for i in range(100)])
    assert LoadResult(_plan(), table, DurationHistogram(), 0.0).shortfall() is None


def test_a_generator_that_fell_behind_says_by_how_much() -> None:
    table = table_of([answered(0.1 * i, 0.5, sent_s=0.2 * i) for i in range(100)])
    shortfall = LoadResult(_plan(), table, DurationHistogram(), 0.0).shortfall()
    assert shortfall is not None
    assert "sent 51 of 100" in shortfall
    assert "--processes" in shortfall


@pytest.mark.parametrize(("duration_s", "processes"), [(0, 1), (-1, 1), (float("inf"), 1), (1, 0)])
def test_a_plan_is_validated(duration_s: float, processes: int) -> None:
    with pytest.raises(ValueError, match=r"duration_s|processes"):
        LoadPlan(
            Workload(arrivals=Arrivals(Constant(1))),
            duration_s,
            Target("http://127.0.0.1:1"),
            processes,
        )


def test_requests_the_generator_could_not_make_fail_the_run() -> None:
    rows = [answered(0.1 * i, 0.5) for i in range(99)]
    rows.append(answered(9.9, 0.0, outcome=Outcome.INFO, error=ErrorKind.CLIENT, status=0))
    shortfall = LoadResult(_plan(), table_of(rows), DurationHistogram(), 0.0).shortfall()
    assert shortfall is not None
    assert "could not make 1 requests" in shortfall


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("127.0.0.1:8080", "http:// or https://"),
        ("localhost:8080", "http:// or https://"),
        ("http://", "http:// or https://"),
        ("http://127.0.0.1:8080/v1", "ends in /v1"),
        ("http://127.0.0.1:8080/?a=1", "query"),
    ],
)
def test_a_target_url_is_validated(url: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=re.escape(complaint)):
        Target(url)


def test_a_target_timeout_must_fit_the_histograms() -> None:
    with pytest.raises(ValueError, match="timeout_s"):
        Target("http://127.0.0.1:1", timeout_s=7200)
