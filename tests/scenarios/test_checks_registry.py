"""The check registry, the tagged union for scenario files, and never-raising evaluation."""

from typing import Literal

import pytest
from op_support import answered, table_of
from pydantic import BaseModel, ValidationError
from run_support import stored_run

from scenarios.checks import (
    CHECK_TYPES,
    UNKNOWN,
    Check,
    CheckResult,
    CheckSpec,
    ErrorRateCheck,
    LatencyCheck,
    evaluate,
    evaluate_all,
)


class Checks(BaseModel):
    """As a scenario file embeds checks."""

    checks: dict[str, CheckSpec]


class Broken(Check):
    kind: Literal["broken"] = "broken"

    def verdict(self, run):
        return len(run.table) / 0


RUN = stored_run(table_of([answered(float(i), 0.1) for i in range(10)]))


def test_every_kind_is_registered_under_its_own_name():
    assert len(CHECK_TYPES) >= 12
    for kind, cls in CHECK_TYPES.items():
        assert cls.model_fields["kind"].default == kind


def test_the_union_picks_the_class_by_kind():
    parsed = Checks.model_validate(
        {"checks": {"p95": {"kind": "latency", "percentile": 95, "max_ms": 650}}}
    )
    assert parsed.checks["p95"] == LatencyCheck(percentile=95, max_ms=650)


@pytest.mark.parametrize(
    ("entry", "location", "message"),
    [
        ({"kind": "latency", "percentile": 120, "max_ms": 5}, "percentile", "less than 100"),
        ({"kind": "latency", "percentile": 95, "max_ms": 0}, "max_ms", "greater than 0"),
        ({"kind": "error_rate", "max": 1.5}, "max", "less than or equal to 1"),
        ({"kind": "error_rate", "max": 0.1, "maxx": 1}, "maxx", "Extra inputs"),
        ({"kind": "tenant_in_flight", "max": {"a": 0}}, "max.a", "greater than or equal to 1"),
        ({"kind": "latency_p95", "max_ms": 5}, "", "does not match any of the expected tags"),
    ],
)
def test_schema_errors_name_the_field(entry, location, message):
    with pytest.raises(ValidationError) as caught:
        Checks.model_validate({"checks": {"p95": entry}})
    (error,) = caught.value.errors()
    assert ".".join(str(part) for part in error["loc"]).endswith(location)
    assert error["loc"][:2] == ("checks", "p95")
    assert message in error["msg"]


def test_checks_are_immutable():
    check = ErrorRateCheck(max=0.1)
    with pytest.raises(ValidationError):
        check.max = 0.2  # type: ignore[misc]


def test_a_check_that_raises_reads_unknown_with_the_exception():
    result = evaluate("broken", Broken(), RUN)
    assert (result.name, result.kind, result.valid) == ("broken", "broken", UNKNOWN)
    assert result.details == "the check raised ZeroDivisionError: division by zero"


def test_evaluating_something_that_is_not_a_check_reads_unknown():
    result = evaluate("errors", {"kind": "error_rate", "max": 0.1}, RUN)  # type: ignore[arg-type]
    assert (result.name, result.valid) == ("errors", UNKNOWN)
    assert result.details.startswith("the check raised AttributeError")


def test_evaluate_all_keeps_the_mappings_order():
    checks = {
        "errors": ErrorRateCheck(max=0.1),
        "broken": Broken(),
        "p50": LatencyCheck(percentile=50, max_ms=50),
    }
    results = evaluate_all(checks, RUN)
    assert [(r.name, r.valid) for r in results] == [
        ("errors", True),
        ("broken", UNKNOWN),
        ("p50", False),
    ]


def test_results_round_trip_through_dicts():
    result = evaluate("p50", LatencyCheck(percentile=50, max_ms=50), RUN)
    assert CheckResult.from_dict(result.to_dict()) == result
