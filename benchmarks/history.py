"""The on-disk history of a load run, read later by checks and reports without re-running.

A history is a directory:

- ``ops.npz``: every request, one row each, as compressed numpy columns (``op.OP_DTYPE``);
- ``run.json``: ``schema_version``, the workload (enough to rebuild the schedule; API keys
  are left out), the
  target, the start time, the testbed, the name tables for the columns' codes, the summary,
  per-second time series, the oracle minimum of upstream calls, and the per-gap inter-token
  latency histogram (HDR, base64).

The directory is written under a temporary name and renamed into place, so a reader never
sees half a history.
"""

from __future__ import annotations

import json
import math
import os
import platform
import shutil
import socket
import sys
import tempfile
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from .errors import BenchmarkError
from .hdr import DurationHistogram
from .op import OP_DTYPE, OPTIONAL_COLUMNS, OpTable
from .oracle import min_upstream_calls
from .plan import LoadPlan, LoadResult
from .summary import Summary
from .target import Target
from .timeseries import time_series, to_dicts
from .workload import Workload


SCHEMA_VERSION = 1
ORACLE_TTLS_S = (60.0, 300.0)
OPS_FILE = "ops.npz"
RUN_FILE = "run.json"


class HistoryError(BenchmarkError):
    """A history directory that cannot be read: missing, corrupt or of another schema."""


@dataclass(frozen=True, eq=False)
class LoadHistory:
    """A stored run: its Ops, the stream gaps, and what ``run.json`` says."""

    path: Path
    table: OpTable
    itl: DurationHistogram
    plan: LoadPlan
    started_at: float
    summary: Summary
    meta: dict[str, Any]

    def result(self) -> LoadResult:
        """As the runner returned it."""
        return LoadResult(self.plan, self.table, self.itl, self.started_at)


def testbed() -> dict[str, Any]:
    """The machine and software a run was measured on."""
    return {
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "python": sys.version.split()[0],
        "meltproof": _version(),
    }


def _cpu_model() -> str:
    """The processor's model name (Linux), else what ``platform`` knows."""
    try:
        with Path("/proc/cpuinfo").open(encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version() -> str:
    try:
        return metadata.version("meltproof")
    except metadata.PackageNotFoundError:  # run from a checkout that is not installed
        return "unknown"


def write_history(
    result: LoadResult, path: Path, *, extra: dict[str, Any] | None = None
) -> LoadHistory:
    """Store ``result`` as the history directory ``path`` (which must not exist yet)."""
    if path.exists():
        raise FileExistsError(f"{path} already exists; histories are never overwritten")
    plan, table = result.plan, result.table
    summary = Summary.of(table, result.itl, plan.duration_s)
    schedule = plan.workload.schedule(plan.duration_s)
    meta: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "started_at": result.started_at,
        "duration_s": plan.duration_s,
        "processes": plan.processes,
        "target": stored_target(plan.target),
        "workload": without_api_keys(plan.workload.to_dict()),
        "testbed": testbed(),
        "tenants": list(table.tenants),
        "endpoints": list(table.endpoints),
        "models": list(table.models),
        "summary": summary.to_dict(),
        "timeseries": to_dicts(time_series(table)),
        "oracle": {
            "distinct_requests": min_upstream_calls(schedule, math.inf),
            "min_upstream_calls_by_ttl_s": {
                f"{ttl:g}": min_upstream_calls(schedule, ttl) for ttl in ORACLE_TTLS_S
            },
        },
        "itl_hdr": result.itl.encode(),
        **(extra or {}),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}-", dir=path.parent))
    try:
        columns: dict[str, Any] = {name: table.ops[name] for name in OP_DTYPE.names or ()}
        np.savez_compressed(staging / OPS_FILE, **columns)
        (staging / RUN_FILE).write_text(json.dumps(meta, indent=1, allow_nan=False) + "\n")
        staging.rename(path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return LoadHistory(path, table, result.itl, plan, result.started_at, summary, meta)


def stored_target(target: Target) -> dict[str, Any]:
    """The target as stored: its API key and header values may be secrets and stay out."""
    return asdict(target) | {"api_key": None, "headers": dict.fromkeys(target.headers, "")}


def without_api_keys(workload: dict[str, Any]) -> dict[str, Any]:
    """The workload as stored: tenants' API keys are secrets and stay out of histories."""
    tenants = workload.get("tenants")
    if isinstance(tenants, list):
        workload["tenants"] = [dict(tenant, api_key=None) for tenant in tenants]
    return workload


def read_history(path: Path) -> LoadHistory:
    """Load the history directory ``path``."""
    try:
        meta = json.loads((path / RUN_FILE).read_text())
        with np.load(path / OPS_FILE) as columns:
            ops = np.zeros(len(columns["row"]), dtype=OP_DTYPE)
            for name in OP_DTYPE.names or ():
                if name in columns.files or name not in OPTIONAL_COLUMNS:
                    ops[name] = columns[name]
    except FileNotFoundError as exc:
        raise HistoryError(f"{path} is not a load history: {exc.filename} is missing") from None
    except (ValueError, KeyError, OSError) as exc:
        raise HistoryError(f"{path}: cannot read the history: {exc}") from None
    version = meta.get("schema_version")
    if version != SCHEMA_VERSION:
        raise HistoryError(
            f"{path}: schema_version {version!r}; this meltproof reads {SCHEMA_VERSION}"
        )
    plan = LoadPlan(
        workload=Workload.from_dict(meta["workload"]),
        duration_s=meta["duration_s"],
        target=Target(**meta["target"]),
        processes=meta["processes"],
    )
    table = OpTable(ops, tuple(meta["tenants"]), tuple(meta["endpoints"]), tuple(meta["models"]))
    return LoadHistory(
        path=path,
        table=table,
        itl=DurationHistogram.decode(meta["itl_hdr"]),
        plan=plan,
        started_at=meta["started_at"],
        summary=Summary.from_dict(meta["summary"]),
        meta=meta,
    )
