"""The plan of a timeline: windows (at, for, every, cut at the end) and actions in order."""

import pytest

from faults import FaultEvent
from faults.schedule import Step, actions, windows


def _event(**fields):
    fault = fields.pop("fault", {"kind": "latency", "link": "redis", "latency_ms": 100})
    return FaultEvent.model_validate({"fault": fault, **fields})


def test_a_single_window_runs_from_at_for_its_length():
    (window,) = windows([_event(at_s=2, for_s=3)], duration_s=10)
    assert (window.start_s, window.end_s) == (2, 5)


def test_without_a_length_a_window_lasts_until_the_end_of_the_load():
    (window,) = windows([_event(at_s=2)], duration_s=10)
    assert (window.start_s, window.end_s) == (2, 10)


def test_a_window_is_cut_at_the_end_and_one_starting_after_it_never_runs():
    plan = windows([_event(at_s=8, for_s=5), _event(at_s=10, for_s=1)], duration_s=10)
    assert [(w.start_s, w.end_s) for w in plan] == [(8, 10)]


def test_a_repeated_event_starts_every_period_while_before_the_end():
    plan = windows([_event(at_s=1, for_s=1, every_s=3)], duration_s=8)
    assert [(w.start_s, w.end_s) for w in plan] == [(1, 2), (4, 5), (7, 8)]


def test_windows_of_several_events_are_numbered_in_start_order():
    plan = windows([_event(at_s=5, for_s=1), _event(at_s=1, for_s=1)], duration_s=10)
    assert [(w.index, w.start_s) for w in plan] == [(0, 1), (1, 5)]


def test_a_ramp_injects_at_the_first_step_and_climbs_in_equal_steps():
    brownout = {"kind": "brownout", "latency_multiplier": 5}
    plan = actions(windows([_event(fault=brownout, at_s=2, for_s=4, ramp_steps=4)], 20))
    assert [(a.at_s, a.step, a.fraction) for a in plan] == [
        (2, Step.INJECT, 0.25),
        (3, Step.RAMP, 0.5),
        (4, Step.RAMP, 0.75),
        (5, Step.RAMP, 1.0),
        (6, Step.HEAL, 1.0),
    ]


def test_ramp_steps_after_the_end_of_the_load_are_dropped():
    brownout = {"kind": "brownout", "latency_multiplier": 5}
    plan = actions(windows([_event(fault=brownout, at_s=0, for_s=4, ramp_steps=4)], 2.5))
    assert [(a.at_s, a.step) for a in plan] == [
        (0, Step.INJECT), (1, Step.RAMP), (2, Step.RAMP), (2.5, Step.HEAL)
    ]  # fmt: skip


def test_at_the_same_instant_a_heal_comes_before_an_injection():
    plan = actions(windows([_event(at_s=3, for_s=2), _event(at_s=0, for_s=3)], 10))
    assert [(a.at_s, a.step, a.window.start_s) for a in plan] == [
        (0, Step.INJECT, 0),
        (3, Step.HEAL, 0),
        (3, Step.INJECT, 3),
        (5, Step.HEAL, 3),
    ]


@pytest.mark.parametrize("duration_s", [0.5, 7, 30])
def test_every_window_is_injected_once_and_healed_once(duration_s):
    events = [_event(at_s=0.2, for_s=1, every_s=2), _event(at_s=0, for_s=2, ramp_steps=3)]
    plan = actions(windows(events, duration_s))
    for step in (Step.INJECT, Step.HEAL):
        indices = [a.window.index for a in plan if a.step is step]
        assert sorted(indices) == sorted(set(indices))
    assert [a.at_s for a in plan] == sorted(a.at_s for a in plan)
