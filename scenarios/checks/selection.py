"""Which requests a check looks at: an endpoint, a tenant and a time window.

Windows select requests by their intended send time, so a window holds the users who
arrived in it, however late their answer came:

- ``all``: the whole run;
- ``before_faults``: from time zero to the first fault's start;
- ``during_faults``: the union of the fault windows (a fault never healed lasts to the end
  of the load);
- ``after_recovery``: from the last fault's end plus ``settle_s`` to the end of the load;
- ``{from_s, to_s}``: a fixed span in seconds from the load's time zero.

A selector that matches nothing (a window without requests, a fault window of a run without
faults, an endpoint the run never called) makes the check ``unknown``, saying why.

Requests the generator itself failed (``ErrorKind.CLIENT`` / ``INTERNAL``) say nothing of the
target; ``target_ended`` leaves them out, as the run summary does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Self

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

from benchmarks.op import ErrorKind, OpArray, OpTable, Outcome
from scenarios.stored_run import StoredRun

from .base import Check, UndecidableError
from .wording import span


Mask = npt.NDArray[np.bool_]
WindowName = Literal["all", "before_faults", "during_faults", "after_recovery"]


class TimeRange(BaseModel):
    """A fixed window, in seconds from the load's time zero: ``from_s <= intended < to_s``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    from_s: float = Field(ge=0)
    to_s: float = Field(gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.to_s <= self.from_s:
            raise ValueError("to_s must be greater than from_s")
        return self


def _window_form(value: Any) -> str:
    return "name" if isinstance(value, str) else "span"


Window = Annotated[
    Annotated[WindowName, Tag("name")] | Annotated[TimeRange, Tag("span")],
    Discriminator(_window_form),
]
"""A named window or a ``{from_s, to_s}`` span; a mistake reports against one form only."""


class Scoped(Check):
    """A check over the requests of one endpoint and/or one tenant (all by default)."""

    endpoint: str | None = None
    tenant: str | None = None


class Windowed(Scoped):
    """A check over the requests of a scope that arrived in a time window."""

    window: Window = "all"
    settle_s: float = Field(5.0, ge=0)
    """How long after the last fault's end the ``after_recovery`` window begins."""

    def select(self, run: StoredRun) -> Selection:
        """The requests this check looks at; ``UndecidableError`` if there are none."""
        mask, labels = scope_mask(run.table, endpoint=self.endpoint, tenant=self.tenant)
        intervals, label = window_intervals(run, self.window, settle_s=self.settle_s)
        if intervals is not None:
            mask &= in_intervals(run.table.ops["intended_s"], intervals)
            span_s = sum(end - start for start, end in intervals)
        else:
            span_s = run.duration_s
        selection = Selection(mask, ", ".join([*labels, label]), span_s, intervals)
        if not selection.count:
            raise UndecidableError(f"no requests in scope ({selection.scope})")
        return selection


@dataclass(frozen=True, eq=False)
class Selection:
    """The rows a check looks at, the scope in words, and the window's length."""

    mask: Mask
    scope: str
    """E.g. ``endpoint chat, during faults 20.0-50.0 s``."""
    span_s: float
    intervals: list[tuple[float, float]] | None = None
    """The window's spans in seconds from the load's time zero; None for the whole run."""

    @property
    def count(self) -> int:
        """How many requests are selected."""
        return int(self.mask.sum())


def scope_mask(
    table: OpTable, *, endpoint: str | None, tenant: str | None
) -> tuple[Mask, list[str]]:
    """The rows of ``endpoint`` and ``tenant`` (each: all when None), and their labels."""
    mask = np.ones(len(table), dtype=np.bool_)
    labels: list[str] = []
    for column, names, wanted in (
        ("endpoint", table.endpoints, endpoint),
        ("tenant", table.tenants, tenant),
    ):
        if wanted is None:
            continue
        if wanted not in names:
            raise UndecidableError(
                f"no {column} {wanted!r} in this run ({column}s: {', '.join(names) or 'none'})"
            )
        mask &= table.ops[column] == names.index(wanted)
        labels.append(f"{column} {wanted}")
    return mask, labels


def window_intervals(
    run: StoredRun, window: WindowName | TimeRange, *, settle_s: float
) -> tuple[list[tuple[float, float]] | None, str]:
    """The half-open spans of ``window`` (None for the whole run) and its label."""
    end_s = run.duration_s
    if isinstance(window, TimeRange):
        return [(window.from_s, min(window.to_s, end_s))], span(window.from_s, window.to_s)
    if window == "all":
        return None, "whole run"
    if not run.faults:
        name = window.replace("_", " ")
        raise UndecidableError(f"the run had no faults, so it has no {name} window")
    if window == "before_faults":
        first_s = min(f.started_s for f in run.faults)
        return [(0.0, first_s)], f"before faults {span(0.0, first_s)}"
    if window == "during_faults":
        merged = merge_intervals([(f.started_s, f.end_or(end_s)) for f in run.faults])
        return merged, "during faults " + ", ".join(span(a, b) for a, b in merged)
    never_healed = [f.name for f in run.faults if f.ended_s is None]
    if never_healed:
        raise UndecidableError(
            f"fault {', '.join(never_healed)} never healed, so the run has no after-recovery window"
        )
    start_s = max(f.end_or(end_s) for f in run.faults) + settle_s
    if start_s >= end_s:
        raise UndecidableError(
            f"the load ended at {end_s:.1f} s, before the after-recovery window "
            f"(last fault's end + {settle_s:g} s settle) began at {start_s:.1f} s"
        )
    return [(start_s, end_s)], f"after recovery {span(start_s, end_s)}"


def merge_intervals(intervals: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """The union of half-open intervals, as disjoint intervals in time order."""
    merged: list[tuple[float, float]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def in_intervals(
    times_s: npt.NDArray[np.float64], intervals: Sequence[tuple[float, float]]
) -> Mask:
    """Which times fall in one of the half-open ``intervals``."""
    mask = np.zeros(len(times_s), dtype=np.bool_)
    for start, end in intervals:
        mask |= (times_s >= start) & (times_s < end)
    return mask


def ok_answers(selection: Selection, ops: OpArray) -> Mask:
    """The OK answers in ``selection``; ``UndecidableError`` if there is none."""
    ok = selection.mask & (ops["outcome"] == Outcome.OK)
    if not ok.any():
        raise UndecidableError(f"no OK answers in scope ({selection.scope})")
    return np.asarray(ok, dtype=np.bool_)


def target_ended(ops: OpArray) -> Mask:
    """Requests that ended (any outcome but PENDING), leaving out those the generator failed."""
    by_generator = np.isin(ops["error"], [ErrorKind.CLIENT, ErrorKind.INTERNAL])
    return np.asarray((ops["outcome"] != Outcome.PENDING) & ~by_generator, dtype=np.bool_)
