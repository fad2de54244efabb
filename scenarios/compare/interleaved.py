"""Baseline and candidate runs, interleaved on one machine: A B A B ...

Each side's gateway runs from its own source tree: the baseline's from a git worktree of the
baseline ref, the candidate's from this checkout (the git work tree the harness is started
in, when it holds ``reference_impl``; the installed package otherwise). The stack imports
each side's gateway from its tree and nothing else (``stack.python_service``), records the
folder and the commit in every run, and refuses to start a side whose code would come from
elsewhere. The harness is this checkout's for both, so only the system under test differs.

Interleaving spreads the machine's drift (thermal, other tenants) over both sides instead of
loading it onto whichever ran second. Both sides replay the same seeded schedule. Each side
keeps one stack up for all its runs of a scenario (the provider's counters and Redis are
reset before each load), so a run costs its load, not a stack start.

``extra_latency_ms`` slows the candidate's provider link by a constant latency toxic: a known
regression, to calibrate the gate.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from faults import FaultEvent, LatencyFault
from stack import Stack

from ..runner import HarnessError, RunOptions, RunOutcome, run_on_stack, scenario_stack
from ..schema import ScenarioSpec


Say = Callable[[str], None]
EXISTING_SERVERS = ("DATABASE_URL", "REDIS_URL", "TOXIPROXY_URL")


@dataclass(frozen=True)
class Side:
    """One side of an interleaved comparison: its name (its folder), where its gateway's
    code comes from (None: the installed package), and a calibration slowdown."""

    name: str
    source: Path | None
    extra_latency_ms: int | None = None

    def spec(self, spec: ScenarioSpec) -> ScenarioSpec:
        """``spec`` as this side runs it."""
        if not self.extra_latency_ms:
            return spec
        return with_extra_latency(spec, self.extra_latency_ms)


def baseline_and_candidate(
    baseline: Path | None, candidate: Path | None, *, extra_latency_ms: int | None = None
) -> list[Side]:
    """The two sides of a comparison (``extra_latency_ms`` slows the candidate)."""
    return [Side("baseline", baseline), Side("candidate", candidate, extra_latency_ms)]


def with_extra_latency(spec: ScenarioSpec, latency_ms: int) -> ScenarioSpec:
    """``spec`` with the provider link ``latency_ms`` slower for the whole load."""
    slow = FaultEvent(
        name="calibration latency",
        fault=LatencyFault(link="provider", latency_ms=latency_ms),
        at_s=0.0,
    )
    return spec.model_copy(update={"faults": [*spec.faults, slow]})


@dataclass(frozen=True)
class SideRuns:
    """One side's runs: the folder that holds them (a result set) and their outcomes."""

    folder: Path
    outcomes: list[RunOutcome] = field(default_factory=list)


def run_interleaved(
    specs: Sequence[ScenarioSpec],
    sides: Sequence[Side],
    *,
    out: Path,
    runs: int,
    say: Say = lambda _message: None,
    environ: Mapping[str, str] = os.environ,
) -> dict[str, SideRuns]:
    """Run every scenario ``runs`` times per side, the sides in turn; each side's runs.

    Every side's stack is up at once, so the scenarios must target our gateway on stacks of
    meltproof's own (``HarnessError`` otherwise, before anything starts).
    """
    _require_own_stacks(specs, environ)
    done = {side.name: SideRuns(out / side.name) for side in sides}
    for spec in specs:
        with ExitStack() as running:
            stacks: dict[str, Stack | None] = {}
            for side in sides:
                say(f"starting the {side.name}'s stack for {spec.name}")
                options = RunOptions(
                    out / "stacks" / side.name / spec.name, gateway_source=side.source
                )
                stacks[side.name] = running.enter_context(scenario_stack(side.spec(spec), options))
                _say_code(side.name, stacks[side.name], say)
            for index in range(runs):
                for side in sides:
                    say(f"run {index + 1}/{runs}: {side.name} {spec.name}")
                    outcome = run_on_stack(
                        side.spec(spec),
                        RunOptions(done[side.name].folder / f"{index:02d}" / spec.name),
                        stacks[side.name],
                    )
                    done[side.name].outcomes.append(outcome)
                    say(f"  {side.name} {spec.name}: {outcome.verdict}")
    return done


def _require_own_stacks(specs: Sequence[ScenarioSpec], environ: Mapping[str, str]) -> None:
    foreign = [f"{spec.name} ({spec.target.label})" for spec in specs if not spec.target.gateway]
    if foreign:
        raise HarnessError(
            f"{', '.join(foreign)}: this target is the same code on both sides; ab runs "
            "meltproof's gateway from each side's tree (compare other targets with "
            "meltproof matrix, or meltproof compare over two folders of runs)"
        )
    shared = [name for name in EXISTING_SERVERS if environ.get(name)]
    if shared:
        raise HarnessError(
            f"{', '.join(shared)} set: the sides' stacks run side by side and would share "
            "(and reconfigure) that server; unset it to compare"
        )


def _say_code(side: str, stack: Stack | None, say: Say) -> None:
    if stack is not None:
        say(f"  the {side}'s gateway runs {stack.services['gateway'].code_path}")
