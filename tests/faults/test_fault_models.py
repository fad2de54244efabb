"""Fault models: parameters validated with the field named, an explicit complete registry."""

import inspect
import typing

import pytest
from pydantic import ValidationError

import faults
from faults import FAULT_TYPES, FaultEvent, FaultModel, FaultSpec


def _all_subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _all_subclasses(sub)


def test_the_registry_names_every_concrete_fault_model_under_its_kind():
    concrete = {cls for cls in _all_subclasses(FaultModel) if not inspect.isabstract(cls)}
    assert set(FAULT_TYPES.values()) == concrete
    for kind, model in FAULT_TYPES.items():
        assert model.model_fields["kind"].default == kind


def test_the_fault_spec_union_holds_exactly_the_registered_models():
    union = typing.get_args(FaultSpec)[0]
    assert set(typing.get_args(union)) == set(FAULT_TYPES.values())


def test_the_brief_kinds_are_all_there():
    assert set(FAULT_TYPES) >= {
        "latency", "bandwidth", "slow_close", "timeout", "reset_peer", "slicer", "limit_data",
        "link_down", "provider_errors", "brownout", "stream_stall", "stream_truncation",
        "freeze", "kill_restart",
    }  # fmt: skip


def test_every_registered_model_is_exported_by_the_package():
    for model in FAULT_TYPES.values():
        assert getattr(faults, model.__name__) is model


def _event(fault: dict) -> dict:
    return {"fault": fault, "at_s": 0}


INVALID = [
    ({"kind": "latency", "link": "redis", "latency_ms": 0}, "latency_ms"),
    ({"kind": "latency", "link": "redis", "latency_ms": 5, "jitter_ms": -1}, "jitter_ms"),
    ({"kind": "latency", "link": "redis", "latency_ms": 5, "toxicity": 1.5}, "toxicity"),
    ({"kind": "latency", "link": "mysql", "latency_ms": 5}, "link"),
    ({"kind": "latency", "link": "redis", "latency_ms": 5, "stream": "both"}, "stream"),
    ({"kind": "latency", "link": "redis", "latency_s": 5}, "latency_s"),
    ({"kind": "bandwidth", "link": "redis", "rate_kbps": 0}, "rate_kbps"),
    ({"kind": "slow_close", "link": "redis", "delay_ms": 0}, "delay_ms"),
    ({"kind": "timeout", "link": "redis", "timeout_ms": -1}, "timeout_ms"),
    ({"kind": "reset_peer", "link": "redis", "timeout_ms": -5}, "timeout_ms"),
    ({"kind": "slicer", "link": "redis", "average_size_bytes": 0}, "average_size_bytes"),
    (
        {"kind": "slicer", "link": "redis", "average_size_bytes": 8, "size_variation_bytes": 8},
        "size_variation_bytes",
    ),
    ({"kind": "slicer", "link": "redis", "average_size_bytes": 8, "delay_us": -1}, "delay_us"),
    ({"kind": "limit_data", "link": "redis", "bytes": -1}, "bytes"),
    ({"kind": "link_down"}, "link"),
    ({"kind": "provider_errors", "rates": {418: 1.0}}, "rates"),
    ({"kind": "provider_errors", "rates": {429: 1.5}}, "rates"),
    ({"kind": "provider_errors", "rates": {500: 0.6, 503: 0.6}}, "rates"),
    ({"kind": "provider_errors", "rates": {}}, "rates"),
    ({"kind": "provider_errors", "rates": {429: 1}, "retry_after_s": -1}, "retry_after_s"),
    ({"kind": "provider_errors", "rates": {429: 1}, "model": ""}, "model"),
    ({"kind": "brownout", "latency_multiplier": 0.5}, "latency_multiplier"),
    ({"kind": "stream_stall", "stall_after_tokens": -1, "stall_ms": 5}, "stall_after_tokens"),
    ({"kind": "stream_stall", "stall_after_tokens": 1, "stall_ms": 0}, "stall_ms"),
    (
        {"kind": "stream_stall", "stall_after_tokens": 1, "stall_ms": 5, "probability": 2},
        "probability",
    ),
    ({"kind": "stream_truncation", "truncate_after_tokens": -1}, "truncate_after_tokens"),
    ({"kind": "freeze", "service": "mysql"}, "service"),
    ({"kind": "kill_restart", "service": "redis", "restart_timeout_s": 0}, "restart_timeout_s"),
]


@pytest.mark.parametrize(("fault", "field"), INVALID, ids=[f"{f['kind']}-{n}" for f, n in INVALID])
def test_an_invalid_parameter_is_reported_under_its_field(fault, field):
    with pytest.raises(ValidationError) as info:
        FaultEvent.model_validate(_event(fault))
    locations = [error["loc"] for error in info.value.errors()]
    assert ("fault", fault["kind"], field) in locations


def test_an_unknown_kind_is_reported_under_the_fault():
    with pytest.raises(ValidationError) as info:
        FaultEvent.model_validate(_event({"kind": "meteor"}))
    assert info.value.errors()[0]["loc"] == ("fault",)
    assert "latency" in str(info.value)


def test_a_provider_errors_rate_key_may_be_a_string_as_in_json():
    event = FaultEvent.model_validate(_event({"kind": "provider_errors", "rates": {"429": 0.5}}))
    assert event.fault.rates == {429: 0.5}


RAMPS = [
    ({"kind": "latency", "link": "redis", "latency_ms": 200}, "latency_ms", 0.25, 50),
    ({"kind": "slow_close", "link": "redis", "delay_ms": 100}, "delay_ms", 0.5, 50),
    ({"kind": "provider_errors", "rates": {500: 0.4, 503: 0.2}}, "rates", 0.5,
     {500: 0.2, 503: 0.1}),
    ({"kind": "brownout", "latency_multiplier": 5}, "latency_multiplier", 0.25, 2.0),
    ({"kind": "stream_stall", "stall_after_tokens": 3, "stall_ms": 800}, "stall_ms", 0.5, 400),
    ({"kind": "stream_truncation", "truncate_after_tokens": 3, "probability": 0.8},
     "probability", 0.5, 0.4),
]  # fmt: skip


@pytest.mark.parametrize(("fault", "field", "fraction", "expected"), RAMPS)
def test_a_ramp_moves_the_declared_parameter_from_its_start_value(fault, field, fraction, expected):
    model = FAULT_TYPES[fault["kind"]].model_validate(fault)
    ramped = model.at_intensity(fraction)
    assert getattr(ramped, field) == pytest.approx(expected)
    assert type(getattr(ramped, field)) is type(getattr(model, field))
    assert model.at_intensity(1.0) == model


def test_only_kinds_that_declare_a_ramp_can_ramp():
    rampable = {kind for kind, model in FAULT_TYPES.items() if model.ramp_field}
    assert rampable == {fault["kind"] for fault, *_ in RAMPS}


def test_params_are_plain_json_without_the_kind():
    fault = FAULT_TYPES["provider_errors"].model_validate(
        {"kind": "provider_errors", "rates": {429: 1.0}, "model": "gpt-4o"}
    )
    assert fault.params() == {"model": "gpt-4o", "rates": {"429": 1.0}, "retry_after_s": 1.0}


def test_targets_and_slots_name_what_a_fault_acts_on():
    latency = faults.LatencyFault(link="redis", latency_ms=5, stream="upstream")
    assert latency.target == "redis"
    assert latency.slot == ("link", "redis", "meltproof-latency-upstream")
    assert faults.LinkDownFault(link="postgres").slot == ("link", "postgres", "enabled")
    assert faults.BrownoutFault(latency_multiplier=2).target is None
    assert faults.BrownoutFault(latency_multiplier=2, model="gpt-4o").target == "gpt-4o"
    errors = faults.ProviderErrorsFault(rates={429: 1}, model="gpt-4o")
    assert errors.slot == faults.BrownoutFault(latency_multiplier=2, model="gpt-4o").slot
    assert faults.FreezeFault(service="redis").slot == faults.KillRestartFault(service="redis").slot


def test_fault_models_are_frozen():
    fault = faults.LatencyFault(link="redis", latency_ms=5)
    with pytest.raises(ValidationError):
        fault.latency_ms = 10
