"""What the Locust master collected, as a ``LoadResult`` and then as a load history.

The master appends one JSON object per line to its results file; ``kind`` says which:

- ``plan``: the plan in ``wire``'s form, API keys left out;
- ``start``: ``started_at``, the wall-clock time (Unix seconds) of every worker's time zero;
- ``ops``: ``worker``, ``sent`` (how many requests it has sent so far), ``models`` (the names
  its model codes index) and ``columns``, measured ``op.OP_DTYPE`` columns of a batch of
  rows, ``row`` saying which (null stands for NaN);
- ``done``: ``worker`` and ``itl_hdr``, its inter-token gaps (HDR, base64).

The schedule's own columns (tenant, endpoint, prompt, intended time, ...) never travel: they
are rebuilt from the workload's seed. Rows that no worker reported (a worker died, or the
master gave up waiting) stay PENDING, and ``Collected`` says how many.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.errors import BenchmarkError
from benchmarks.hdr import DurationHistogram
from benchmarks.history import LoadHistory, write_history
from benchmarks.op import OP_DTYPE, SCHEDULE_COLUMNS, OpArray, OpTable, Outcome, ops_for
from benchmarks.plan import LoadResult

from .wire import plan_from_dict


class ResultsError(BenchmarkError):
    """The master's results file is missing, malformed, or has no plan or start."""


@dataclass(frozen=True, eq=False)
class Collected:
    """A distributed run as one ``LoadResult``, and what is missing from it."""

    result: LoadResult
    pending_rows: int
    """Scheduled requests that no worker reported."""
    silent_workers: tuple[int, ...]
    """Workers that never said they were done (they died, or the master gave up on them)."""

    def problems(self) -> str | None:
        """What went missing, or None if every worker reported every request."""
        if not (self.pending_rows or self.silent_workers):
            return None
        silent = ", ".join(map(str, self.silent_workers)) or "none"
        return (
            f"{self.pending_rows:,} of {len(self.result.table):,} scheduled requests were not "
            f"reported and stay pending; workers that did not finish: {silent}. Their logs "
            "say why."
        )


def read_results(path: Path) -> Collected:
    """The run recorded in the master's results file ``path``."""
    try:
        records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        return _collect(records)
    except FileNotFoundError:
        raise ResultsError(f"{path} does not exist: the master recorded nothing") from None
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise ResultsError(f"{path}: malformed results: {exc!r}") from None


def store(collected: Collected, history: Path) -> LoadHistory:
    """Write ``collected`` as the history directory ``history`` (which must not exist), with
    what went missing under ``distributed``."""
    distributed = {
        "workers": collected.result.plan.processes,
        "pending_rows": collected.pending_rows,
        "silent_workers": list(collected.silent_workers),
    }
    return write_history(collected.result, history, extra={"distributed": distributed})


def _collect(records: Sequence[Mapping[str, Any]]) -> Collected:
    kinds: dict[str, list[Mapping[str, Any]]] = {"plan": [], "start": [], "ops": [], "done": []}
    for record in records:
        kinds[record["kind"]].append(record)
    for kind in ("plan", "start"):
        if len(kinds[kind]) != 1:
            raise ResultsError(f"expected one {kind!r} record, found {len(kinds[kind])}")
    plan = plan_from_dict(kinds["plan"][0])
    schedule = plan.workload.schedule(plan.duration_s)
    ops = ops_for(schedule)
    models: list[str] = []
    for record in kinds["ops"]:
        _fill(ops, record["columns"], record["models"], models)
    itl = DurationHistogram.merged([DurationHistogram.decode(r["itl_hdr"]) for r in kinds["done"]])
    finished = {int(record["worker"]) for record in kinds["done"]}
    table = OpTable(ops, schedule.tenants, schedule.endpoints, tuple(models))
    return Collected(
        result=LoadResult(plan, table, itl, float(kinds["start"][0]["started_at"])),
        pending_rows=int((ops["outcome"] == Outcome.PENDING).sum()),
        silent_workers=tuple(i for i in range(plan.processes) if i not in finished),
    )


def _fill(
    ops: OpArray, columns: Mapping[str, list[Any]], names: Sequence[str], models: list[str]
) -> None:
    """Write one batch of measured columns into their rows; model codes are renumbered."""
    rows = np.asarray(columns["row"], dtype=np.int64)
    if rows.size and not (rows.min() >= 0 and rows.max() < len(ops)):
        raise ResultsError(f"rows out of the schedule's range 0..{len(ops) - 1}")
    for name, values in columns.items():
        if name in SCHEDULE_COLUMNS:
            continue
        if name not in (OP_DTYPE.names or ()):
            raise ResultsError(f"unknown column {name!r}")
        column = np.asarray(values, dtype=OP_DTYPE[name])  # None becomes NaN
        if name == "model":  # the batch's codes index ``names``; -1 (unknown) stays -1
            renumber = np.array([*(_code(models, model) for model in names), -1], dtype=np.int16)
            column = renumber[column]
        ops[name][rows] = column


def _code(models: list[str], name: str) -> int:
    if name not in models:
        models.append(name)
    return models.index(name)
