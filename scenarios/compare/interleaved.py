"""Baseline and candidate runs, interleaved on one machine: A B A B ...

The baseline's gateway runs from another source tree (a git worktree of the baseline ref)
with this checkout's harness, so the two sides differ only in the system under test.
Interleaving spreads the machine's drift (thermal, other tenants) over both sides instead of
loading it onto whichever ran second. Both sides replay the same seeded schedule.

``extra_latency_ms`` slows the candidate's provider link by a constant latency toxic: a known
regression, to calibrate the gate.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

from faults import FaultEvent, LatencyFault

from ..runner import HarnessError, RunOptions, run_scenario
from ..schema import ScenarioSpec


SIDES = ("baseline", "candidate")
Say = Callable[[str], None]


def with_extra_latency(spec: ScenarioSpec, latency_ms: int) -> ScenarioSpec:
    """``spec`` with the provider link ``latency_ms`` slower for the whole load."""
    slow = FaultEvent(
        name="calibration latency",
        fault=LatencyFault(link="provider", latency_ms=latency_ms),
        at_s=0.0,
    )
    return spec.model_copy(update={"faults": [*spec.faults, slow]})


def run_interleaved(
    specs: Sequence[ScenarioSpec],
    *,
    out: Path,
    runs: int,
    baseline_source: Path | None,
    extra_latency_ms: int | None = None,
    say: Say = lambda _message: None,
) -> tuple[Path, Path]:
    """Run every scenario ``runs`` times per side, alternating sides; the two sets' folders."""
    for index in range(runs):
        for side in SIDES:
            for spec in specs:
                candidate = side == "candidate"
                run_spec = with_extra_latency(spec, extra_latency_ms) if (
                    candidate and extra_latency_ms) else spec  # fmt: skip
                say(f"run {index + 1}/{runs}: {side} {spec.name}")
                outcome = run_scenario(
                    run_spec,
                    RunOptions(
                        out / side / f"{index:02d}" / spec.name,
                        gateway_source=None if candidate else baseline_source,
                    ),
                )
                say(f"  {side} {spec.name}: {outcome.verdict}")
    return out / "baseline", out / "candidate"


def worktree(ref: str, path: Path) -> Path:
    """A detached git worktree of ``ref`` at ``path`` (replacing one left from before)."""
    if path.exists():
        subprocess.run(  # noqa: S603 - git with our own arguments
            ["git", "worktree", "remove", "--force", str(path)],  # noqa: S607
            check=False, capture_output=True,
        )  # fmt: skip
    done = subprocess.run(  # noqa: S603
        ["git", "worktree", "add", "--detach", str(path), ref],  # noqa: S607
        check=False, capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode != 0:
        raise HarnessError(f"cannot check out {ref!r} as the baseline: {done.stderr.strip()}")
    if not (path / "reference_impl").is_dir():
        raise HarnessError(f"{ref!r} has no reference_impl package to run as the baseline")
    return path
