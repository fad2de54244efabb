"""The nightly performance gate: absolute SLOs, and no significant regression against a
baseline.

``perf/gate.yaml`` names the suite, how many runs per side make a sample, and the baseline.
There are two kinds of baseline:

- ``ab`` (the default): another git ref's gateway, run interleaved with this checkout's on
  the same machine in the same job (``interleaved``). Nothing is stored, so a hosted runner
  whose processor changes between nights compares like with like. The nightly workflow
  passes the last commit whose nightly passed.
- ``stored``: ``perf/baseline.json``, each metric's value in each run, per scenario, with the
  testbed they were measured on: for a stable, self-hosted machine. The testbed is compared
  (``result_set.comparable_testbed``) once the stack is up, before any load runs; ``--force``
  compares anyway. ``--update-baseline`` stores this run's samples (commit the file).

Then:

- exit 3 if a run could not be judged (harness error, undecided check), or a stored
  baseline's testbed is not this one;
- exit 1 if a run (of the candidate) failed its SLO checks;
- exit 2 if a metric is significantly worse than the baseline (``comparison``);
- exit 0 otherwise. ``unknown`` comparisons (too few runs) are reported, not failed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError

from ..git import commit_of
from ..schema import SuiteError
from ..workload_spec import Strict
from .result_set import ResultSet, ResultSetError


BASELINE_SCHEMA_VERSION = 1


class GateConfig(Strict):
    """What the nightly gate runs, and how strictly it compares."""

    scenarios: list[str] = Field(min_length=1)
    """Built-in names or files, relative to the config's folder."""
    runs: int = Field(6, ge=1, le=50)
    """Runs per side (``ab``), or runs compared with the stored baseline's."""
    alpha: float = Field(0.05, gt=0, lt=1)
    min_effect: float = Field(0.05, ge=0)
    mode: Literal["ab", "stored"] = "ab"
    reference: str = Field("HEAD~1", min_length=1)
    """``ab``: the git ref whose gateway is the baseline (``--reference`` overrides it)."""
    baseline: str = "baseline.json"
    """``stored``: the baseline file, relative to the config's folder."""


def scenario_names(config: GateConfig, folder: Path) -> list[str]:
    """The config's scenarios: files relative to its ``folder`` where they exist, else
    built-in names."""
    return [str(folder / s) if (folder / s).exists() else s for s in config.scenarios]


def load_gate_config(path: Path) -> GateConfig:
    """The gate's config; ``SuiteError`` naming the field if it is wrong."""
    try:
        return GateConfig.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    except (OSError, yaml.YAMLError) as exc:
        raise SuiteError(f"{path}: cannot read the gate's config: {exc}") from None
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_url=False)
        )
        raise SuiteError(f"{path}: {problems}") from None


def write_baseline(results: ResultSet, path: Path) -> None:
    """Store ``results``' samples and testbed as the baseline."""
    document = {
        "schema_version": BASELINE_SCHEMA_VERSION,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": _head_commit(),
        "runs": results.runs,
        "testbed": results.testbed,
        "samples": {k: {m: _plain(v) for m, v in s.items()} for k, s in results.samples.items()},
    }
    path.write_text(json.dumps(document, indent=1, allow_nan=False) + "\n", encoding="utf-8")


def read_baseline(path: Path) -> ResultSet:
    """The stored baseline as a result set."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResultSetError(
            f"{path}: no baseline yet; make one with `nox -s perf_gate -- --update-baseline`"
        ) from None
    except (OSError, ValueError) as exc:
        raise ResultSetError(f"{path}: cannot read the baseline: {exc}") from None
    if document.get("schema_version") != BASELINE_SCHEMA_VERSION:
        raise ResultSetError(f"{path}: a baseline of another schema version; store it again")
    samples: Mapping[str, Mapping[str, list[float | None]]] = document["samples"]
    return ResultSet(
        path=path,
        samples={k: {m: [_nan(v) for v in vs] for m, vs in s.items()} for k, s in samples.items()},
        testbed=document["testbed"],
        runs=int(document["runs"]),
    )


def _plain(values: list[float]) -> list[float | None]:
    return [None if v != v else v for v in values]  # NaN, which JSON cannot hold, as null  # noqa: PLR0124


def _nan(value: Any) -> float:
    return float("nan") if value is None else float(value)


def _head_commit() -> str | None:
    found = commit_of(Path.cwd())
    return found[0] if found else None
