"""The workload: seeded schedules, the request mix, fan-out, and the dict form."""

import dataclasses
import json
import math

import numpy as np
import pytest

from benchmarks.arrivals import Arrivals, Constant, Ramp, Sine, Stage, Stages
from benchmarks.popularity import PromptCatalogue
from benchmarks.workload import EndpointShare, FanOut, TenantShare, Workload


COLUMNS = ("intended_s", "tenant", "endpoint", "prompt", "click", "part", "row")
MIX = Workload(
    Arrivals(Constant(2000.0)),
    tenants=(TenantShare("small", 1.0), TenantShare("big", 3.0, api_key="sk-big")),
    endpoints=(EndpointShare("chat", 3.0), EndpointShare("embeddings", 1.0)),
    prompts=PromptCatalogue(templates=8, entities=40, skew=1.2),
    fanout=FanOut(1, 4),
    seed=7,
)


def assert_same(a, b, columns=COLUMNS):
    for name in columns:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


def within_four_sigma(hits, n, p):
    return abs(hits / n - p) <= 4 * math.sqrt(p * (1 - p) / n)


@pytest.fixture(scope="module")
def mixed():
    return MIX.schedule(10.0)


def test_the_schedule_has_typed_sorted_columns(mixed):
    assert mixed.intended_s.dtype == np.float64
    assert mixed.tenant.dtype == np.uint16
    assert mixed.endpoint.dtype == np.uint8
    assert mixed.prompt.dtype == np.int32
    assert mixed.click.dtype == np.int32
    assert mixed.part.dtype == np.uint8
    np.testing.assert_array_equal(mixed.row, np.arange(len(mixed)))
    assert np.all(np.diff(mixed.intended_s) >= 0)
    assert mixed.tenants == ("small", "big")
    assert mixed.endpoints == ("chat", "embeddings")
    assert mixed.duration_s == 10.0
    assert mixed.intended_s[-1] < 10.0


def test_same_seed_same_schedule(mixed):
    again = dataclasses.replace(MIX).schedule(10.0)
    assert_same(mixed, again)


def test_another_seed_another_schedule(mixed):
    other = dataclasses.replace(MIX, seed=8).schedule(10.0)
    assert not np.array_equal(mixed.intended_s[:50], other.intended_s[:50])
    assert not np.array_equal(mixed.prompt[:50], other.prompt[:50])


def test_changing_the_tenants_changes_nothing_else(mixed):
    other = dataclasses.replace(MIX, tenants=(TenantShare("x", 5.0), TenantShare("y", 1.0)))
    got = other.schedule(10.0)
    assert_same(mixed, got, ("intended_s", "endpoint", "prompt", "click", "part"))
    assert not np.array_equal(mixed.tenant, got.tenant)


def test_changing_the_endpoints_changes_nothing_else(mixed):
    got = dataclasses.replace(MIX, endpoints=(EndpointShare("chat_stream", 1.0),)).schedule(10.0)
    assert_same(mixed, got, ("intended_s", "tenant", "prompt", "click", "part"))
    assert np.all(got.endpoint == 0)


def test_changing_the_fan_out_keeps_the_clicks(mixed):
    got = dataclasses.replace(MIX, fanout=FanOut(2, 2)).schedule(10.0)
    first, other_first = mixed.part == 0, got.part == 0
    for name in ("intended_s", "tenant", "endpoint", "prompt"):
        np.testing.assert_array_equal(getattr(mixed, name)[first], getattr(got, name)[other_first])


def test_a_longer_run_begins_with_the_same_requests(mixed):
    longer = MIX.schedule(20.0)
    early = longer.intended_s < 10.0
    for name in COLUMNS:
        np.testing.assert_array_equal(getattr(longer, name)[early], getattr(mixed, name))


def test_tenants_and_endpoints_follow_their_weights(mixed):
    first = mixed.part == 0
    clicks = int(first.sum())
    assert within_four_sigma(int(np.sum(mixed.tenant[first] == 1)), clicks, 0.75)
    assert within_four_sigma(int(np.sum(mixed.endpoint[first] == 0)), clicks, 0.75)


def test_a_noisy_tenant_takes_its_share():
    noisy = MIX.with_noisy_tenant(0.6, api_key="sk-noisy")
    added = noisy.tenants[-1]
    assert (added.name, added.api_key) == ("noisy", "sk-noisy")
    assert added.weight == pytest.approx(6.0)  # 0.6 of the total weight of 1 + 3 + 6
    got = noisy.schedule(10.0)
    first = got.part == 0
    assert got.tenants == ("small", "big", "noisy")
    assert within_four_sigma(int(np.sum(got.tenant[first] == 2)), int(first.sum()), 0.6)


@pytest.mark.parametrize("share", [0.0, 1.0, -0.5, math.nan])
def test_a_noisy_share_must_be_a_fraction(share):
    with pytest.raises(ValueError, match="share"):
        MIX.with_noisy_tenant(share)


def test_fan_out_sizes_are_uniform(mixed):
    parts = np.bincount(mixed.click)
    assert parts.min() == 1
    assert parts.max() == 4
    for k in range(1, 5):
        assert within_four_sigma(int(np.sum(parts == k)), len(parts), 0.25)


def test_the_parts_of_a_click_ask_about_one_entity_with_successive_templates(mixed):
    clicks = mixed.click
    assert clicks[0] == 0
    assert set(np.diff(clicks).tolist()) <= {0, 1}
    starts = np.flatnonzero(np.r_[True, np.diff(clicks) == 1])
    start_of_row = np.repeat(starts, np.diff(np.r_[starts, len(clicks)]))
    np.testing.assert_array_equal(mixed.part, np.arange(len(clicks)) - start_of_row)
    for name in ("intended_s", "tenant", "endpoint"):
        column = getattr(mixed, name)
        np.testing.assert_array_equal(column, column[start_of_row], err_msg=name)
    template, entity = np.divmod(mixed.prompt, 40)
    np.testing.assert_array_equal(entity, entity[start_of_row])
    np.testing.assert_array_equal(template, (template[start_of_row] + mixed.part) % 8)


def test_prompts_repeat_as_the_popularity_says(mixed):
    first = mixed.part == 0
    top = MIX.prompts.id_for_rank(np.array([0]))[0]
    p1 = MIX.prompts.probabilities()[0]
    assert within_four_sigma(int(np.sum(mixed.prompt[first] == top)), int(first.sum()), p1)


def test_an_empty_run_has_an_empty_schedule():
    got = MIX.schedule(0.0)
    assert len(got) == 0
    assert got.tenants == ("small", "big")


SHAPES = [
    Constant(5.0),
    Ramp(1.0, 9.0, 3.0),
    Stages((Stage(1.0, 4.0), Stage(2.0, 0.0), Stage(1.5, 8.0, ramp=True))),
    Sine(6.0, 2.5, 4.0),
]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: type(s).__name__)
@pytest.mark.parametrize("process", ["regular", "poisson"])
def test_the_dict_form_round_trips_through_json(shape, process):
    workload = dataclasses.replace(MIX, arrivals=Arrivals(shape, process), max_tokens=128)
    data = json.loads(json.dumps(workload.to_dict()))
    assert data == workload.to_dict()
    assert data["arrivals"]["shape"]["kind"] == type(shape).__name__.lower()
    again = Workload.from_dict(data)
    assert again == workload
    assert_same(again.schedule(5.0), workload.schedule(5.0))


def test_the_dict_form_fills_in_defaults():
    got = Workload.from_dict({"arrivals": {"shape": {"kind": "constant", "rate_rps": 3}}})
    assert got == Workload(Arrivals(Constant(3.0)))


def test_a_shape_without_a_kind_cannot_be_written():
    class Custom:
        def rate_rps_at(self, t_s):
            return t_s

        def expected_count(self, t_s):
            return t_s * t_s / 2

    with pytest.raises(ValueError, match="cannot serialise rate shape"):
        Workload(Arrivals(Custom())).to_dict()


CONSTANT = {"shape": {"kind": "constant", "rate_rps": 3}}


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ([], "workload must be a mapping"),
        ({}, "workload.arrivals is required"),
        ({"arrivals": CONSTANT, "sed": 1}, r"workload has unknown keys \['sed'\]"),
        ({"arrivals": {"shape": {"kind": "square"}}}, r"workload.arrivals.shape.kind must be one"),
        ({"arrivals": {"shape": {"rate_rps": 3}}}, r"workload.arrivals.shape.kind must be one"),
        ({"arrivals": {"shape": {"kind": "constant"}}}, "shape.rate_rps is required"),
        (
            {"arrivals": {"shape": {"kind": "constant", "rate_rps": True}}},
            "shape.rate_rps must be a number",
        ),
        (
            {"arrivals": {"shape": {"kind": "constant", "rate_rps": -3}}},
            "workload.arrivals.shape: rate_rps must be a finite rate",
        ),
        (
            {"arrivals": {"shape": {"kind": "stages", "stages": []}}},
            "stages must not be empty",
        ),
        (
            {"arrivals": {"shape": {"kind": "stages", "stages": {"duration_s": 1}}}},
            "shape.stages must be a list",
        ),
        (
            {"arrivals": {"shape": {"kind": "stages", "stages": [{"duration_s": 1, "rate": 2}]}}},
            r"shape.stages\[0\] has unknown keys \['rate'\]",
        ),
        ({"arrivals": {**CONSTANT, "process": "bursty"}}, "process must be one of"),
        ({"arrivals": CONSTANT, "tenants": [{"name": "a", "weight": "2"}]}, "weight must be a"),
        ({"arrivals": CONSTANT, "tenants": [{"weight": 2}]}, r"tenants\[0\].name is required"),
        ({"arrivals": CONSTANT, "tenants": []}, "tenants must have 1 to"),
        ({"arrivals": CONSTANT, "endpoints": "chat"}, "workload.endpoints must be a list"),
        ({"arrivals": CONSTANT, "max_tokens": 1.5}, "max_tokens must be an integer"),
        ({"arrivals": CONSTANT, "prompts": {"skew": -1}}, "workload.prompts: skew"),
        ({"arrivals": CONSTANT, "fanout": {"min_parts": 3}}, "workload.fanout: need"),
    ],
)
def test_bad_dict_forms_say_what_and_where(data, match):
    with pytest.raises(ValueError, match=match):
        Workload.from_dict(data)


ARRIVALS = Arrivals(Constant(1.0))


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: TenantShare("", 1.0), "tenant name must be a non-empty string"),
        (lambda: TenantShare("t", 0.0), "weight of tenant 't' must be finite and > 0"),
        (lambda: TenantShare("t", math.inf), "weight of tenant 't'"),
        (lambda: TenantShare("t", 1.0, api_key=""), "api_key of tenant 't'"),
        (lambda: EndpointShare("", 1.0), "endpoint name"),
        (lambda: EndpointShare("chat", -1.0), "weight of endpoint 'chat'"),
        (lambda: FanOut(0, 1), "min_parts"),
        (lambda: FanOut(3, 2), "min_parts"),
        (lambda: FanOut(1, 256), "max_parts"),
        (lambda: Workload(ARRIVALS, tenants=()), "tenants must have 1 to 65536 entries"),
        (
            lambda: Workload(ARRIVALS, tenants=(TenantShare("a", 1.0), TenantShare("a", 2.0))),
            "tenants must have distinct names",
        ),
        (lambda: Workload(ARRIVALS, endpoints=()), "endpoints must have 1 to 256 entries"),
        (
            lambda: Workload(ARRIVALS, fanout=FanOut(1, 21)),
            r"fanout.max_parts \(21\) must not exceed prompts.templates \(20\)",
        ),
        (lambda: Workload(ARRIVALS, model=""), "model"),
        (lambda: Workload(ARRIVALS, max_tokens=0), "max_tokens"),
        (lambda: Workload(ARRIVALS, seed=-1), "seed"),
    ],
)
def test_bad_parameters_are_named(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_wrong_types_are_named():
    with pytest.raises(TypeError, match="tenants must hold TenantShare values"):
        Workload(ARRIVALS, tenants=("a",))
    with pytest.raises(TypeError, match="arrivals must hold Arrivals values"):
        Workload(Constant(1.0))
