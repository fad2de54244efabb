"""A scenario run as stored on disk, the one input of checks and reports.

A run directory is a load history (``benchmarks.history``: ``ops.npz`` and ``run.json``)
whose ``run.json`` also carries, under ``scenario_run``:

- ``scenario``: the scenario as run (plain JSON);
- ``faults``: the fault log, each entry with ``started_s`` / ``ended_s`` in seconds from the
  load's time zero (``ended_s`` null if the fault never healed);
- ``provider``: the simulated provider's ground-truth counters for the load phase
  (``/_control/stats``: total, per tenant, per model), or null for a foreign target;
  since the provider reports them, also per endpoint kind (``endpoints``) and its calls per
  second since the reset before the load (``timeline``, see ``stack.provider.timeline``);
- ``prices``: USD per 1M tokens per model, for cost;
- ``steady_state``: the probes before and after the load, each ``{"verdict": "pass" |
  "fail" | "unknown", "checks": [...], "shortfall": ..., "path": ...}``;
- ``gateway``: the profile and workers of our gateway, and where its code came from
  (``code_path``, ``commit``, ``dirty``), or null for a foreign target;
- ``target_cpu_s``: the CPU time the target's processes spent during the load phase (user
  and system, the whole process tree, from ``/proc``), or null when meltproof did not start
  the target;
- ``services``: the version of every service the stack ran (part of the testbed);
- ``backend``: where the stack's servers ran (``embedded`` or ``containers``; null without a
  stack of meltproof's), and ``images``: per service run in a container, the image (``name``,
  ``id``, ``repo_digest``, ``built_from``; ``stack.containers.images.ImageRecord``);
- ``harness``: what went wrong on the harness's side (``shortfall``: the generator fell
  behind; ``fault_cleanup_error``: healing at the end failed), empty when nothing did;
- ``traces``: for a traced run, the spans of its slowest requests as the traces receiver
  had them after the load (``scenarios.traces``), else null.

Reports are written into the same directory afterwards; a run can be re-checked later.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.history import LoadHistory, read_history
from benchmarks.op import OpTable

from .traces import RunTraces


RUN_KEY = "scenario_run"


@dataclass(frozen=True)
class FaultWindow:
    """When one fault really acted, in seconds from the load's time zero."""

    name: str
    kind: str
    target: str | None
    planned_at_s: float
    started_s: float
    ended_s: float | None
    """None when the fault was still active (never healed) at the end of the run."""
    error: str | None = None
    """Why injecting or healing failed, if it did."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FaultWindow:
        """From an entry of the stored fault log."""
        ended = data.get("ended_s")
        return cls(
            name=str(data["name"]),
            kind=str(data["kind"]),
            target=data.get("target"),
            planned_at_s=float(data["planned_at_s"]),
            started_s=float(data["started_s"]),
            ended_s=None if ended is None else float(ended),
            error=data.get("error"),
        )

    def end_or(self, horizon_s: float) -> float:
        """The end of the window, or ``horizon_s`` if the fault never healed."""
        return horizon_s if self.ended_s is None else self.ended_s


@dataclass(frozen=True, eq=False)
class StoredRun:
    """A stored scenario run: the load history plus what the scenario runner recorded."""

    history: LoadHistory
    scenario: Mapping[str, Any]
    faults: tuple[FaultWindow, ...]
    provider: Mapping[str, Any] | None
    prices: Mapping[str, Mapping[str, float]]
    steady_state: Mapping[str, Any]
    gateway: Mapping[str, Any] | None
    harness: Mapping[str, Any] = field(default_factory=dict)
    target_cpu_s: float | None = None
    target: Mapping[str, Any] | None = None
    """A target other than our gateway: its kind, name, version, files (None: ours)."""
    traces: RunTraces | None = None
    """The slowest requests' spans of a traced run (None: the run was not traced)."""
    backend: str | None = None
    """Where the stack's servers ran; None without a stack of meltproof's."""
    images: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Service -> the image its container ran (the container backend)."""

    @property
    def path(self) -> Path:
        """The run directory."""
        return self.history.path

    @property
    def table(self) -> OpTable:
        """Every request of the load phase."""
        return self.history.table

    @property
    def duration_s(self) -> float:
        """The load's scheduled duration."""
        return float(self.history.plan.duration_s)

    @property
    def name(self) -> str:
        """The scenario's name."""
        return str(self.scenario.get("name", self.path.name))

    @property
    def target_kind(self) -> str:
        """Which kind of target ran: ``gateway`` (ours, also when the scenario names none, as
        its default is), ``command``, ``peer`` or ``url``."""
        target: Mapping[str, Any] = self.scenario.get("target") or {}
        foreign = ("command", "peer", "url")
        return next((kind for kind in foreign if target.get(kind) is not None), "gateway")

    def cost_usd(self, model: str, *, prompt_tokens: int, completion_tokens: int) -> float:
        """What ``model``'s tokens cost at the run's prices (NaN for a model without one)."""
        price = self.prices.get(model)
        if price is None:
            return math.nan
        return (
            prompt_tokens * price.get("input_per_mtok_usd", 0.0)
            + completion_tokens * price.get("output_per_mtok_usd", 0.0)
        ) / 1e6


def read_run(path: Path) -> StoredRun:
    """The stored run in ``path``; ``HistoryError`` if it is not one."""
    history = read_history(path)
    recorded: Mapping[str, Any] = history.meta.get(RUN_KEY) or {}
    return StoredRun(
        history=history,
        scenario=recorded.get("scenario") or {},
        faults=tuple(FaultWindow.from_dict(f) for f in recorded.get("faults") or ()),
        provider=recorded.get("provider"),
        prices=recorded.get("prices") or {},
        steady_state=recorded.get("steady_state") or {},
        gateway=recorded.get("gateway"),
        harness=recorded.get("harness") or {},
        target_cpu_s=recorded.get("target_cpu_s"),
        target=recorded.get("target"),
        traces=RunTraces.from_dict(recorded["traces"]) if recorded.get("traces") else None,
        backend=recorded.get("backend", "embedded" if recorded.get("services") else None),
        images=recorded.get("images") or {},
    )
