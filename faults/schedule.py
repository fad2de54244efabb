"""The plan of a timeline: every activation window of the events, and the actions in order.

Pure functions of the events and the load's duration, so scheduling is tested without a clock.
An activation is cut at the end of the load; one that would start at or after it never runs.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

from .event import FaultEvent


@dataclass(frozen=True)
class Window:
    """One activation of an event, in seconds from time zero."""

    index: int
    """Unique within the plan, in start order."""
    event: FaultEvent
    start_s: float
    end_s: float


class Step(IntEnum):
    """What an action does; at the same instant heals come first, so that a slot is free."""

    HEAL = 0
    INJECT = 1
    RAMP = 2


@dataclass(frozen=True)
class Action:
    """Inject a window's fault, raise its intensity to ``fraction``, or heal it."""

    at_s: float
    step: Step
    window: Window
    fraction: float = 1.0


def windows(events: Sequence[FaultEvent], duration_s: float) -> list[Window]:
    """Every activation of ``events`` that starts before ``duration_s``, in start order."""
    spans: list[tuple[float, FaultEvent]] = []
    for event in events:
        for repeat in itertools.count():
            start_s = event.at_s + repeat * (event.every_s or 0.0)
            if start_s >= duration_s:
                break
            spans.append((start_s, event))
            if event.every_s is None:
                break
    spans.sort(key=lambda span: span[0])
    return [
        Window(index, event, start_s, min(start_s + (event.for_s or duration_s), duration_s))
        for index, (start_s, event) in enumerate(spans)
    ]


def actions(plan: Sequence[Window]) -> list[Action]:
    """Inject, ramp steps and heal of every window, in the order they must happen."""
    todo: list[Action] = []
    for window in plan:
        steps = window.event.ramp_steps or 1
        todo.append(Action(window.start_s, Step.INJECT, window, 1.0 / steps))
        step_s = (window.event.for_s or 0.0) / steps
        for number in range(2, steps + 1):
            at_s = window.start_s + (number - 1) * step_s
            if at_s < window.end_s:
                todo.append(Action(at_s, Step.RAMP, window, number / steps))
        todo.append(Action(window.end_s, Step.HEAL, window))
    todo.sort(key=lambda action: (action.at_s, action.step, action.window.index))
    return todo
