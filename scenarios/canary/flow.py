"""The canary's course: stack up, traffic shifted step by step, each step judged, a decision.

The flag's stable variant is its ``defaultVariant`` in the gateway's flags file (the file
named by the scenario's ``target.gateway.settings.flags.file``). Each step writes the split
(``stable: 100 - p, canary: p``), waits for the gateway to read it again (its ``poll_s``),
then runs the workload for ``step_s`` and judges the step (``verdict``). The scenario's fault
timeline runs beside the whole canary from the first step on. A failed step, or any error,
puts the flag back as it was; when every step passes, the flag serves the canary to all.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.event_loop import run_with_fast_loop
from faults import FaultCleanupError, run_timeline
from faults.gateway.flag_document import (
    FlagDocumentError,
    flag_of,
    read_flags,
    serving,
    splitting,
    write_flags,
)

from ..runner import RunOptions, scenario_stack
from ..schema import ScenarioSpec
from ..wiring import Wiring, stack_wiring
from .cohorts import send_step
from .verdict import Cohort, StepResult, judge, slos_of


Say = Callable[[str], None]
DEFAULT_STEPS = (10, 50, 100)
DEFAULT_POLL_S = 1.0
"""The gateway's ``flags.poll_s`` when the scenario does not set it."""
READ_MARGIN_S = 0.1


class CanaryError(Exception):
    """The canary cannot run: no flags file, no such flag or variant, a bad step list."""


@dataclass(frozen=True)
class CanaryOptions:
    """What to shift, how, and where the results go."""

    out_dir: Path
    flag: str
    to: str
    steps: tuple[int, ...] = DEFAULT_STEPS
    step_s: float = 10.0
    alpha: float = 0.01
    min_effect: float = 0.2
    """The smallest relative change of a median that counts as worse."""
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)


@dataclass(frozen=True)
class CanaryReport:
    """Every step judged, and where the flag was left."""

    scenario: str
    flag: str
    stable: str
    canary: str
    flags_file: Path
    steps: list[StepResult]

    @property
    def decision(self) -> str:
        """``promote`` when the last step promoted, else ``roll back``."""
        return "promote" if self.steps and self.steps[-1].decision == "promote" else "roll back"


@dataclass(frozen=True)
class _Flag:
    file: Path
    poll_s: float
    key: str
    definition: dict[str, Any]
    stable: str
    canary: str


def run_canary(
    spec: ScenarioSpec, options: CanaryOptions, *, say: Say = lambda _m: None
) -> CanaryReport:
    """Run the canary of ``options.flag`` to ``options.to`` with ``spec``'s workload."""
    flag = _flag(spec, options)
    run_options = RunOptions(out_dir=options.out_dir, environ=options.environ)
    with scenario_stack(spec, run_options, say=say) as stack:
        if stack is None:
            raise CanaryError("a canary needs our gateway on a stack meltproof starts")
        wiring = stack_wiring(stack, stack.api_keys)
        steps = run_with_fast_loop(_shift(spec, options, flag, wiring, say))
    return CanaryReport(spec.name, flag.key, flag.stable, flag.canary, flag.file, steps)


def check_steps(steps: tuple[int, ...]) -> tuple[int, ...]:
    """Rising percentages in 1..100 that end at 100."""
    if not steps or steps[-1] != 100 or any(not 0 < s <= 100 for s in steps):  # noqa: PLR2004
        raise CanaryError(f"steps must lie in 1..100 and end at 100, got {list(steps)}")
    if list(steps) != sorted(set(steps)):
        raise CanaryError(f"steps must rise, got {list(steps)}")
    return steps


def _flag(spec: ScenarioSpec, options: CanaryOptions) -> _Flag:
    gateway = spec.target.gateway
    section = (gateway.settings.get("flags") if gateway is not None else None) or {}
    if not isinstance(section, dict) or "file" not in section:
        raise CanaryError(
            f"{spec.name}: a canary needs our gateway with a flags file "
            "(target.gateway.settings.flags.file)"
        )
    file = Path(section["file"])
    try:
        definition = flag_of(read_flags(file), options.flag)
    except (OSError, FlagDocumentError) as exc:
        raise CanaryError(f"flags file {file}: {exc}") from None
    stable = definition.get("defaultVariant")
    variants = definition.get("variants") or {}
    if not isinstance(stable, str) or options.to not in variants or options.to == stable:
        raise CanaryError(
            f"flag {options.flag!r} must have a default variant (the stable one, here "
            f"{stable!r}) and a variant {options.to!r} besides it; it has: "
            f"{', '.join(variants)}"
        )
    check_steps(options.steps)
    poll_s = float(section.get("poll_s", DEFAULT_POLL_S))
    return _Flag(file, poll_s, options.flag, definition, stable, options.to)


async def _shift(
    spec: ScenarioSpec, options: CanaryOptions, flag: _Flag, wiring: Wiring, say: Say
) -> list[StepResult]:
    wait_s = flag.poll_s + READ_MARGIN_S
    timeline = asyncio.create_task(
        run_timeline(
            spec.faults,
            wiring.faults,
            time_zero=time.time(),
            duration_s=len(options.steps) * (wait_s + options.step_s),
        )
    )
    results: list[StepResult] = []
    try:
        results = await _steps(spec, options, flag, wiring, wait_s, say)
    finally:
        promoted = bool(results) and results[-1].decision == "promote"
        _write(flag, serving(flag.definition, flag.canary) if promoted else flag.definition)
        say(f"flag {flag.key}: serves {flag.canary if promoted else 'as before the canary'}")
        timeline.cancel()
        with contextlib.suppress(asyncio.CancelledError, FaultCleanupError):
            await timeline
    return results


async def _steps(
    spec: ScenarioSpec,
    options: CanaryOptions,
    flag: _Flag,
    wiring: Wiring,
    wait_s: float,
    say: Say,
) -> list[StepResult]:
    slos = slos_of(spec)
    results: list[StepResult] = []
    stable_before: Cohort | None = None
    for number, percent in enumerate(options.steps):
        weights = {flag.stable: 100 - percent, flag.canary: percent}
        _write(flag, splitting(flag.definition, weights))
        say(f"step {number + 1}: {percent}% to {flag.canary}")
        await asyncio.sleep(wait_s)
        load = await send_step(
            spec.workload.build(seed=spec.seed + number, api_keys=dict(wiring.api_keys)),
            options.step_s,
            base_url=wiring.base_url,
            headers=wiring.headers,
            timeout_s=spec.target.timeout_s,
            flag=flag.key,
        )
        stable = Cohort.of(load, flag.stable, options.step_s)
        if not stable.requests and stable_before is not None:
            stable = stable_before
        result = judge(
            percent,
            stable,
            Cohort.of(load, flag.canary, options.step_s),
            slos,
            last=number == len(options.steps) - 1,
            alpha=options.alpha,
            min_effect=options.min_effect,
            unassigned=sum(v not in (flag.stable, flag.canary) for v in load.variants),
        )
        results.append(result)
        say(f"step {number + 1}: {result.decision}" + "".join(f"; {r}" for r in result.reasons))
        if result.decision == "roll back":
            break
        stable_before = stable
    return results


def _write(flag: _Flag, definition: Mapping[str, Any]) -> None:
    document = read_flags(flag.file)
    document["flags"][flag.key] = dict(definition)
    write_flags(flag.file, document)
