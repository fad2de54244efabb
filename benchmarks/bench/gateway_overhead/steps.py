"""The gateway overhead benchmark's steps (one target at one rate) and targets' outcomes."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..rate_search import capacity
from .steal import Stolen


P99_LIMIT_FACTOR = 2.0
MAX_ERROR_FRACTION = 0.01
BASELINE_RATE_RPS = 25
"""The rate of direct's p99 that sets every step's limit."""
PROCESSES = ("generator", "provider", "redis", "target")
SATURATED_SHARE = 0.9
"""A process this busy (CPU seconds per second, of one core) ran out."""
MACHINE_SATURATED_SHARE = 0.85
"""The machine ran out when every process on it together kept this share of its cores busy."""
STOLEN_SHARE_LIMIT = 0.02
"""A step from which the hypervisor took more than this share of one core (0.2 s of a 10 s
step) was disturbed: its latency and CPU tell of the host's other tenants (``steal``)."""
STOLEN_BURST_LIMIT_S = 0.03
"""A step from which the hypervisor took more than this within ``steal.BURST_WINDOW_S`` was
disturbed too: under load the bench machine loses at most 0.01 s in any 0.2 s of most steps."""


@dataclass(frozen=True)
class Step:
    """One target at one rate: what the load measured and what the target spent."""

    rate_rps: int
    duration_s: float
    achieved_rps: float
    requests: int
    errors: int
    p50_s: float
    p99_s: float
    shortfall: str | None
    cpu_s: float
    """The target's CPU time (with its child processes)."""
    peak_rss_bytes: int
    cache: Mapping[str, int] = field(default_factory=dict)
    """Responses by ``x-cache`` value (``hit``, ``miss``, ...); empty when none had the header."""
    redis_cpu_s: float | None = None
    summary: Mapping[str, Any] = field(default_factory=dict)
    processes_cpu_s: Mapping[str, float] = field(default_factory=dict)
    """CPU time of each process (``PROCESSES``): the target's is also ``cpu_s``."""
    machine_cpu_s: float | None = None
    """CPU time of the whole machine, every process on it included (``load.machine_cpu_s``)."""
    target_workers: int = 1
    """The target's processes that serve requests (each one thread)."""
    stolen: Stolen | None = None
    """CPU time the hypervisor took from the machine's cores (``steal.StealWatch``); None
    where the kernel does not count it."""

    @property
    def error_fraction(self) -> float:
        """Failed or unknown requests over those scheduled."""
        return self.errors / max(self.requests, 1)

    @property
    def cache_hit_fraction(self) -> float | None:
        """The share of requests answered from the cache; None without ``x-cache`` headers."""
        return self.cache.get("hit", 0) / max(self.requests, 1) if self.cache else None

    @property
    def healthy(self) -> bool:
        """On schedule, and fewer than ``MAX_ERROR_FRACTION`` of the requests failed."""
        return self.shortfall is None and self.error_fraction < MAX_ERROR_FRACTION

    def passes(self, p99_limit_s: float) -> bool:
        """Healthy, with p99 below ``p99_limit_s``."""
        return self.healthy and self.p99_s < p99_limit_s

    @property
    def disturbed(self) -> bool:
        """The hypervisor took more than ``STOLEN_SHARE_LIMIT`` of a core during the step, or
        more than ``STOLEN_BURST_LIMIT_S`` at once."""
        stolen = self.stolen
        return stolen is not None and (
            stolen.total_s > STOLEN_SHARE_LIMIT * self.duration_s
            or stolen.burst_s > STOLEN_BURST_LIMIT_S
        )

    def comparable(self, p99_limit_s: float) -> bool:
        """Passed and not disturbed: a step whose CPU per request a ratio may use."""
        return self.passes(p99_limit_s) and not self.disturbed

    @property
    def answered(self) -> int:
        """Requests that got an answer (at least 1, to divide by)."""
        return max(self.requests - self.errors, 1)

    def cpu_us_per_request(self, process: str = "target") -> float | None:
        """CPU microseconds per answered request of ``process``; None if not measured."""
        cpu_s = self.cpu_s if process == "target" else self.processes_cpu_s.get(process)
        return None if cpu_s is None else 1e6 * cpu_s / self.answered

    def busy(self, process: str) -> float | None:
        """CPU seconds per second of ``process`` (1.0: one core, all the time)."""
        cpu_s = self.processes_cpu_s.get(process)
        return None if cpu_s is None else cpu_s / self.duration_s

    def others_busy(self) -> float | None:
        """CPU seconds per second of everything on the machine but the measured processes."""
        if self.machine_cpu_s is None:
            return None
        return max(0.0, self.machine_cpu_s - sum(self.processes_cpu_s.values())) / self.duration_s

    def ran_out(self, cores: int) -> str | None:
        """The busiest process if it used ``SATURATED_SHARE`` of a core (the target: of each of
        its workers' cores), else ``machine`` if every process on it together used
        ``MACHINE_SATURATED_SHARE`` of every core, else None."""
        busy = {name: cpu_s / self.duration_s for name, cpu_s in self.processes_cpu_s.items()}
        if not busy:
            return None
        per_thread = {
            name: share / (self.target_workers if name == "target" else 1)
            for name, share in busy.items()
        }
        busiest = max(per_thread, key=per_thread.__getitem__)
        if per_thread[busiest] >= SATURATED_SHARE:
            return busiest
        machine = sum(busy.values()) + (self.others_busy() or 0.0)
        return "machine" if machine >= MACHINE_SATURATED_SHARE * cores else None

    def to_dict(self, p99_limit_s: float) -> dict[str, Any]:
        """The figures of the JSON report."""
        plain = {k: v for k, v in dataclasses.asdict(self).items() if k != "summary"}
        plain |= {"p50_s": _finite(self.p50_s), "p99_s": _finite(self.p99_s)}
        return plain | {
            "passed": self.passes(p99_limit_s),
            "cpu_s_per_s": self.cpu_s / self.duration_s,
            "summary": dict(self.summary),
        }


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def busy_line(step: Step) -> str:
    """Each process's CPU seconds per second: ``generator 0.41, provider 0.20, ...``."""
    return ", ".join(
        f"{process} {busy:.2f}" for process in PROCESSES if (busy := step.busy(process)) is not None
    )


def stolen_cell(step: Step) -> str:
    """The CPU seconds the hypervisor took, in all and at most at once: ``0.08 (0.07)``."""
    if step.stolen is None:
        return "-"
    return f"{step.stolen.total_s:.2f} ({step.stolen.burst_s:.2f})"


@dataclass(frozen=True)
class TargetOutcome:
    """A target's steps, or why it could not run (or go on)."""

    name: str
    steps: tuple[Step, ...] = ()
    could_not_run: str | None = None

    def step_at(self, rate_rps: int) -> Step | None:
        """The step that decided ``rate_rps``, if it was measured."""
        return next((s for s in self.final_steps() if s.rate_rps == rate_rps), None)

    def final_steps(self) -> tuple[Step, ...]:
        """The step that decided each rate (the last one run at it: ``climb_ladder``), in the
        ladder's order."""
        last = {step.rate_rps: step for step in self.steps}
        return tuple(last.values())

    def capacity_rps(self, p99_limit_s: float) -> int | None:
        """The highest passing rate below the lowest failing one; None if nothing was measured."""
        if not self.steps:
            return None
        return capacity({s.rate_rps: s.passes(p99_limit_s) for s in self.final_steps()})


def climb_ladder(
    rates: Sequence[int],
    run: Callable[[int, int], Step],
    p99_limit_s: float | None,
    steps: list[Step] | None = None,
) -> list[Step]:
    """``run(rate, attempt)`` each of ``rates`` in turn until a step fails ``p99_limit_s``
    (None: run them all). A step that failed only its p99, with its errors under the limit and on
    schedule, or that the hypervisor disturbed (``Step.disturbed``), passed or not, runs once
    more (``attempt`` 1; the first is 0) and the second run decides: a stall of the shared
    machine neither ends a ladder nor stands as a reference, a target out of capacity fails
    twice. The steps go into ``steps`` as they are run, so that a caller stopped by an error
    keeps them."""
    steps = [] if steps is None else steps
    for rate in rates:
        first = run(rate, 0)
        steps.append(first)
        stalled = p99_limit_s is not None and first.healthy and not first.passes(p99_limit_s)
        if first.disturbed or stalled:
            steps.append(run(rate, 1))
        if p99_limit_s is not None and not steps[-1].passes(p99_limit_s):
            break
    return steps


def baseline_step(direct: TargetOutcome) -> Step | None:
    """Direct's step at ``BASELINE_RATE_RPS`` (its lowest, if that rate was not run)."""
    return direct.step_at(BASELINE_RATE_RPS) or (direct.steps[0] if direct.steps else None)
