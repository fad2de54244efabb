"""FaultEvent: defaults, and validation errors that name the field."""

import pytest
from pydantic import ValidationError

from faults import FaultEvent, LatencyFault


LATENCY = {"kind": "latency", "link": "provider", "latency_ms": 100}


def _errors(**fields):
    with pytest.raises(ValidationError) as info:
        FaultEvent.model_validate({"fault": LATENCY, "at_s": 1, **fields})
    return info.value.errors()


def test_the_name_defaults_to_the_kind():
    assert FaultEvent.model_validate({"fault": LATENCY, "at_s": 0}).name == "latency"
    assert FaultEvent(fault=LatencyFault(link="redis", latency_ms=1), at_s=0).name == "latency"
    named = FaultEvent.model_validate({"name": "slow provider", "fault": LATENCY, "at_s": 0})
    assert named.name == "slow provider"
    assert named.label == "slow provider"


def test_a_negative_start_is_refused():
    assert [e["loc"] for e in _errors(at_s=-1)] == [("at_s",)]


def test_a_window_must_be_positive():
    assert [e["loc"] for e in _errors(for_s=0)] == [("for_s",)]


def test_a_repeat_needs_a_window_shorter_than_its_period():
    errors = _errors(for_s=5, every_s=5)
    assert [e["loc"] for e in errors] == [("every_s",)]
    assert "for_s" in errors[0]["msg"]
    errors = _errors(every_s=5)
    assert [e["loc"] for e in errors] == [("every_s",)]
    assert "needs for_s" in errors[0]["msg"]


def test_a_ramp_needs_at_least_two_steps_and_a_window():
    assert [e["loc"] for e in _errors(for_s=4, ramp_steps=1)] == [("ramp_steps",)]
    errors = _errors(ramp_steps=3)
    assert [e["loc"] for e in errors] == [("ramp_steps",)]
    assert "needs for_s" in errors[0]["msg"]


def test_a_kind_that_cannot_ramp_is_named():
    with pytest.raises(ValidationError) as info:
        FaultEvent.model_validate(
            {"fault": {"kind": "link_down", "link": "redis"}, "at_s": 0, "for_s": 2,
             "ramp_steps": 2}
        )  # fmt: skip
    (error,) = info.value.errors()
    assert error["loc"] == ("ramp_steps",)
    assert "'link_down' cannot ramp" in error["msg"]


def test_unknown_fields_are_refused():
    assert [e["loc"] for e in _errors(duration_s=3)] == [("duration_s",)]


def test_non_finite_times_are_refused():
    assert [e["loc"] for e in _errors(at_s=float("inf"))] == [("at_s",)]
