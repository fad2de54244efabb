"""The fault matrix: scenarios against targets, one run per cell, as a JSON document.

A cell is one run's verdict (``pass``, ``fail``, ``unknown``) with its headline figures and
its report, or why there is no run: ``n/a`` (the scenario asks for what the target lacks,
such as a fault on a link it does not use) or ``error`` (the harness failed; no verdict on
the target). ``build_document`` gathers the cells, the targets' versions, the testbed and the
command line into the document that ``matrix_render`` renders, as reports are.

The figures are the runs' own (``run_figures``): p95 latency of the requests that arrived
during a fault (over the whole run when the scenario has no fault), the error rate, provider
calls per client request and provider cost per client request, both from the provider's
ground truth.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from benchmarks.percentile import nearest_rank

from .checks.result import NOT_APPLICABLE, UNKNOWN, CheckResult
from .checks.selection import in_intervals, target_ended, window_intervals
from .report.record import json_ready
from .run_figures import RunFigures
from .runner import RunOutcome
from .stored_run import StoredRun


MATRIX_SCHEMA_VERSION = 1
Status = Literal["pass", "fail", "unknown", "n/a", "error"]
P95Window = Literal["during_faults", "all"]
_STATUS_OF_VERDICT: dict[str, Status] = {"pass": "pass", "fail": "fail"}


@dataclass(frozen=True)
class Figures:
    """The headline figures of one run (NaN where the run has no data for them)."""

    p95_s: float
    p95_window: P95Window
    error_rate: float
    client_requests: int
    upstream_calls: float
    calls_per_request: float
    """Provider calls per client request (upstream amplification)."""
    cost_per_request_usd: float

    @classmethod
    def of(cls, run: StoredRun) -> Figures:
        """Measure ``run``."""
        figures = RunFigures.of(run)
        window: P95Window = "during_faults" if run.faults else "all"
        requests = figures.client_requests
        return cls(
            p95_s=p95_during_faults_s(run) if run.faults else figures.p95_s,
            p95_window=window,
            error_rate=figures.error_rate,
            client_requests=requests,
            upstream_calls=figures.upstream_calls,
            calls_per_request=figures.upstream_calls / requests if requests else math.nan,
            cost_per_request_usd=figures.cost_per_request_usd,
        )


def p95_during_faults_s(run: StoredRun) -> float:
    """The nearest-rank p95 latency of the requests that arrived while a fault acted and
    ended (as the checks' ``during_faults`` window selects them); NaN if there are none."""
    intervals, _label = window_intervals(run, "during_faults", settle_s=0.0)
    ops = run.table.ops
    during = target_ended(ops) & in_intervals(ops["intended_s"], intervals or [])
    latency_s = run.table.latency_s[during]
    return nearest_rank(latency_s, 95) if len(latency_s) else math.nan


@dataclass(frozen=True)
class Cell:
    """One scenario against one target."""

    status: Status
    reason: str = ""
    """Why it is n/a or an error; or the checks that failed, stayed undecided or did not
    apply."""
    figures: Figures | None = None
    report: str | None = None
    """The run's ``report.html``, relative to the matrix's folder (POSIX separators)."""
    target: Mapping[str, Any] | None = None
    """What the run recorded of its target (``target_info``)."""
    elapsed_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (NaN as None)."""
        ready: dict[str, Any] = json_ready(asdict(self))
        return ready


def cell_of_outcome(outcome: RunOutcome, root: Path) -> Cell:
    """The cell of a finished run whose folder lies below ``root`` (the matrix's)."""
    return Cell(
        status=_STATUS_OF_VERDICT.get(outcome.verdict, "unknown"),
        reason=checks_reason(outcome.results),
        figures=Figures.of(outcome.run),
        report=Path(os.path.relpath(outcome.reports.html, root)).as_posix(),
        target=target_info(outcome.run),
    )


def checks_reason(results: Sequence[CheckResult]) -> str:
    """The checks that did not pass, by validity: ``failed: a, b; undecided: c``."""
    groups = {
        "failed": [r.name for r in results if r.valid is False],
        "undecided": [r.name for r in results if r.valid == UNKNOWN],
        "not applicable": [r.name for r in results if r.valid == NOT_APPLICABLE],
    }
    return "; ".join(f"{word}: {', '.join(names)}" for word, names in groups.items() if names)


def target_info(run: StoredRun) -> dict[str, Any]:
    """The kind, name and version of the target ``run`` ran against, and the facts the run
    recorded of it (ours: profile and code; another: ``wiring.target_facts``)."""
    if run.target is not None:
        facts = dict(run.target)
        return {
            "kind": facts.get("kind", run.target_kind),
            "name": facts.get("name", run.target_kind),
            "version": facts.get("version") or "unknown",
            "facts": facts,
        }
    gateway = dict(run.gateway or {})
    version = str((run.history.meta.get("testbed") or {}).get("meltproof", "unknown"))
    commit = gateway.get("commit")
    if commit:
        changed = ", uncommitted changes" if gateway.get("dirty") else ""
        version += f" (commit {str(commit)[:12]}{changed})"
    return {
        "kind": "gateway",
        "name": f"meltproof gateway ({gateway.get('profile', 'unknown')})",
        "version": f"meltproof {version}",
        "facts": gateway,
    }


@dataclass(frozen=True)
class Column:
    """A target of the matrix: its column's label and the ``--target`` value it came from."""

    label: str
    value: str


def build_document(
    scenarios: Sequence[str],
    columns: Sequence[Column],
    cells: Mapping[tuple[str, str], Cell],
    *,
    command: str,
    testbed: Mapping[str, Any],
    started_at: float,
    elapsed_s: float,
) -> dict[str, Any]:
    """The matrix as plain JSON: rows of cells by scenario and target label (a cell that has
    not run, after an interruption, is None), the targets, the testbed and the verdict."""
    planned = len(scenarios) * len(columns)
    statuses = [cell.status for cell in cells.values()]
    document = {
        "schema_version": MATRIX_SCHEMA_VERSION,
        "verdict": verdict_of(statuses),
        "complete": len(cells) == planned,
        "cells_planned": planned,
        "cells_done": len(cells),
        "command": command,
        "started_at": datetime.fromtimestamp(started_at, tz=UTC).isoformat(timespec="seconds"),
        "elapsed_s": elapsed_s,
        "testbed": dict(testbed),
        "targets": [_column_facts(column, scenarios, cells) for column in columns],
        "rows": [
            {
                "scenario": name,
                "cells": {
                    c.label: cell.to_dict() if (cell := cells.get((name, c.label))) else None
                    for c in columns
                },
            }
            for name in scenarios
        ],
    }
    ready: dict[str, Any] = json_ready(document)
    return ready


def _column_facts(
    column: Column, scenarios: Sequence[str], cells: Mapping[tuple[str, str], Cell]
) -> dict[str, Any]:
    """The column's label and value, and its target as the first run against it recorded."""
    ran = (cells.get((name, column.label)) for name in scenarios)
    info = next((cell.target for cell in ran if cell is not None and cell.target), None)
    return {"label": column.label, "value": column.value, **(info or {"version": "not run"})}


def verdict_of(statuses: Iterable[Status]) -> Literal["pass", "fail", "unknown"]:
    """``fail`` if a cell failed, else ``unknown`` if one erred or stayed undecided, else
    ``pass`` (every cell passed or was n/a)."""
    seen = set(statuses)
    if "fail" in seen:
        return "fail"
    if seen & {"error", "unknown"}:
        return "unknown"
    return "pass"
