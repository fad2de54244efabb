"""A scenario run as stored on disk, the one input of checks and reports.

A run directory is a load history (``benchmarks.history``: ``ops.npz`` and ``run.json``)
whose ``run.json`` also carries, under ``scenario_run``, a ``RunRecord``
(``scenarios.run_record``, versioned; ``StoredRun`` is that record with its history):

- ``version``: of the record (see ``run_record``);
- ``scenario``: the scenario as run (plain JSON);
- ``faults``: the fault log (``faults.FaultWindow``), each entry with ``started_s`` /
  ``ended_s`` in seconds from the load's time zero (``ended_s`` null if the fault never
  healed) and the fault's ``params``;
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
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from benchmarks.history import HistoryError, LoadHistory, read_history
from benchmarks.op import OpTable

from .run_record import RUN_KEY, RunRecord, RunRecordError


@dataclass(frozen=True, eq=False, kw_only=True)
class StoredRun(RunRecord):
    """A stored scenario run: the load history plus what the scenario runner recorded."""

    history: LoadHistory

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
    """The stored run in ``path``; ``HistoryError`` if it is not one this meltproof reads."""
    history = read_history(path)
    try:
        record = RunRecord.from_dict(history.meta.get(RUN_KEY) or {})
    except RunRecordError as exc:
        raise HistoryError(f"{path}: {exc}") from None
    return StoredRun(history=history, **{f.name: getattr(record, f.name) for f in fields(record)})
