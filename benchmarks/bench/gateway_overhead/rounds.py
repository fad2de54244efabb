"""CPU per request compared in alternated rounds: the pass-through, a miss and a hit, one after
another at each rate, several times over.

A ladder measures each target minutes after the one before, and the speed of a shared machine
drifts over minutes, so a ratio of two ladders' CPU per request carries that drift. In a round
the three targets run back to back at one rate (each process started once, idle while the
others run), so a ratio compares steps seconds apart, and the median over the rounds drops a
round that an outlier spoiled. The CPU checks use these medians; the ladders' own CPU figures
stay in the tables.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..common import format_table
from .steps import Step, TargetOutcome


CPU_RATES_RPS = (250, 500)
"""Where CPU per request is compared: rates every target passes, below any saturation."""
ROUND_TARGETS = ("passthrough", "gateway_miss", "gateway_hit")
"""The targets of a round, in the order they run; the first is the others' reference."""
CpuRound = Mapping[str, TargetOutcome]
"""One round: each target's steps at ``CPU_RATES_RPS``."""


@dataclass(frozen=True)
class RoundRatios:
    """``ours`` over ``other`` in CPU per request at one rate, one ratio per round in which
    both passed."""

    rate_rps: int
    ratios: tuple[float, ...]

    @property
    def median(self) -> float:
        """The median over the rounds."""
        return statistics.median(self.ratios)

    def describe(self) -> str:
        """``2.10 x at 250/s (rounds 2.08, 2.10, 2.15)``."""
        each = ", ".join(f"{ratio:.2f}" for ratio in self.ratios)
        return f"{self.median:.2f} x at {self.rate_rps:,}/s (rounds {each})"


def round_ratios(
    rounds: Sequence[CpuRound], ours: str, other: str, p99_limit_s: float
) -> list[RoundRatios]:
    """At each of ``CPU_RATES_RPS``, ``ours``'s CPU per request over ``other``'s in every
    round whose two steps passed undisturbed (``Step.comparable``); rates with no such round
    are left out."""
    found = []
    for rate in CPU_RATES_RPS:
        ratios = tuple(
            ratio
            for one in rounds
            if (ratio := _ratio(one, ours, other, rate, p99_limit_s)) is not None
        )
        if ratios:
            found.append(RoundRatios(rate, ratios))
    return found


def _ratio(one: CpuRound, ours: str, other: str, rate: int, p99_limit_s: float) -> float | None:
    mine, theirs = round_step(one, ours, rate), round_step(one, other, rate)
    if mine is None or theirs is None:
        return None
    if not (mine.comparable(p99_limit_s) and theirs.comparable(p99_limit_s)):
        return None
    return (mine.cpu_us_per_request() or 0.0) / (theirs.cpu_us_per_request() or 1.0)


def round_step(one: CpuRound, name: str, rate: int) -> Step | None:
    """``name``'s step at ``rate`` in the round ``one``, if it ran."""
    outcome = one.get(name)
    return None if outcome is None else outcome.step_at(rate)


def rounds_table(rounds: Sequence[CpuRound], p99_limit_s: float) -> str:
    """A row per round and rate: each target's CPU per request, and the others' multiple of
    the first's."""
    reference, *others = ROUND_TARGETS
    headers = ["round", "rate/s", f"{reference} µs/req", *(f"{name} µs/req (x)" for name in others)]
    rows = []
    for index, one in enumerate(rounds, start=1):
        for rate in CPU_RATES_RPS:
            cells = [str(index), f"{rate:,}", _cpu_cell(one, reference, rate, p99_limit_s)]
            for name in others:
                ratio = _ratio(one, name, reference, rate, p99_limit_s)
                cell = _cpu_cell(one, name, rate, p99_limit_s)
                cells.append(cell if ratio is None else f"{cell} ({ratio:.2f})")
            rows.append(cells)
    return format_table(
        headers,
        rows,
        title="CPU per request in alternated rounds (the checks use the median of the rounds;"
        " FAIL: over the p99 limit, STOLEN: disturbed, the hypervisor took the cores; either"
        " leaves the round's ratio out)",
    )


def _cpu_cell(one: CpuRound, name: str, rate: int, p99_limit_s: float) -> str:
    step = round_step(one, name, rate)
    if step is None:
        return "-"
    marks = ("" if step.passes(p99_limit_s) else " FAIL") + (" STOLEN" if step.disturbed else "")
    return f"{step.cpu_us_per_request():.0f}{marks}"


def rounds_figures(rounds: Sequence[CpuRound], p99_limit_s: float) -> dict[str, Any]:
    """The rounds for the JSON report: each target's steps, as the ladders report theirs, and
    each other target's ratios to the first's per rate, with their median (what the checks
    use, and what ``overhead_compare`` compares)."""
    reference, *others = ROUND_TARGETS
    return {
        "steps": [
            {name: [s.to_dict(p99_limit_s) for s in outcome.steps] for name, outcome in one.items()}
            for one in rounds
        ],
        "ratios": {
            name: [
                {"rate_rps": found.rate_rps, "ratios": list(found.ratios), "median": found.median}
                for found in round_ratios(rounds, name, reference, p99_limit_s)
            ]
            for name in others
        },
    }
