"""A result set: one or more stored runs per scenario (and capacity searches), from a folder.

Any folder holding scenario runs is a result set: every ``run/run.json`` below it that a
scenario run wrote counts, grouped by scenario name and target (our gateway's profile or
another target's name, so that ``monday_peak[naive]`` and ``monday_peak[litellm]`` are told
apart). Capacity
searches (``capacity.json``) add a ``capacity_rps`` sample to their scenario.

The testbed of a set is what its runs were measured on: processor, cores, Python and the
versions of the stack's third-party services. Host names and meltproof's own version (the
harness, the provider, the gateway) are not part of it: comparing two versions of the code on
one machine is the point.

The code of a set is which gateway code its runs ran: each distinct folder the gateway was
imported from, with the commit checked out there and whether it had uncommitted changes.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.history import RUN_FILE, HistoryError

from ..run_figures import RunFigures
from ..run_record import RUN_KEY
from ..stored_run import StoredRun, read_run


CAPACITY_FILE = "capacity.json"
TESTBED_SERVICES = ("postgres", "redis", "toxiproxy")
METRICS: Mapping[str, bool] = {
    "p50_ms": False,
    "p95_ms": False,
    "p99_ms": False,
    "error_rate": False,
    "goodput": True,
    "cost_per_request_usd": False,
    "cache_hit_rate": True,
    "amplification": False,
    "cpu_ms_per_request": False,
    "capacity_rps": True,
}
"""Every compared metric and whether higher is better."""


class ResultSetError(Exception):
    """A folder that holds no usable runs, or sets that cannot be compared."""


@dataclass(frozen=True)
class ResultSet:
    """Per scenario key, per metric, one sample per run; and the testbed of the runs."""

    path: Path
    samples: Mapping[str, Mapping[str, list[float]]]
    testbed: Mapping[str, Any]
    runs: int
    code: tuple[Mapping[str, Any], ...] = ()
    """The distinct gateway code its runs ran (``code_path``, ``commit``, ``dirty``)."""


def metrics_of(run: StoredRun) -> dict[str, float]:
    """The compared metrics of one run (capacity comes from capacity searches)."""
    figures = RunFigures.of(run)
    return {
        "p50_ms": figures.p50_s * 1e3,
        "p95_ms": figures.p95_s * 1e3,
        "p99_ms": figures.p99_s * 1e3,
        "error_rate": figures.error_rate,
        "goodput": figures.goodput,
        "cost_per_request_usd": figures.cost_per_request_usd,
        "cache_hit_rate": figures.cache_hit_rate,
        "amplification": figures.amplification,
        "cpu_ms_per_request": figures.cpu_ms_per_request,
    }


def scenario_key(name: str, target: str | None) -> str:
    """``name``, with the target (our gateway's profile, a peer's name) in brackets."""
    return f"{name}[{target}]" if target else name


def target_label(run: StoredRun) -> str | None:
    """Our gateway's profile, or the name of the target that is not ours."""
    if run.gateway:
        return str(run.gateway["profile"])
    return str(run.target["name"]) if run.target else None


def testbed_of(meta: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of a run's record that make its testbed."""
    recorded = meta.get(RUN_KEY) or {}
    return make_testbed(
        meta.get("testbed") or {},
        recorded.get("services") or {},
        backend=recorded.get("backend"),
        images=recorded.get("images") or {},
    )


def make_testbed(
    machine: Mapping[str, Any],
    services: Mapping[str, str],
    *,
    backend: str | None,
    images: Mapping[str, Mapping[str, Any]],
) -> dict[str, Any]:
    """A testbed from a machine's description (``benchmarks.history.testbed``), the versions
    of the stack's services, its backend and the images its containers ran."""
    return {
        "backend": backend,
        "images": {name: image.get("id") for name, image in images.items()},
        "cpu_model": machine.get("cpu_model"),
        "cpu_count": machine.get("cpu_count"),
        "machine": machine.get("machine"),
        "python": ".".join(str(machine.get("python", "")).split(".")[:2]),
        "services": {
            name: version for name, version in services.items() if name in TESTBED_SERVICES
        },
    }


def comparable_testbed(testbed: Mapping[str, Any]) -> dict[str, Any]:
    """What must match for two testbeds to be compared: the processor's model (without a
    clock-speed suffix), cores, architecture, Python's minor version, the backend and each
    service's version up to its minor release. Host names, meltproof's own version, the
    services' patch releases and which build of an image ran do not count. A testbed recorded
    before backends existed ran the embedded one."""
    services = testbed.get("services") or {}
    return {
        "backend": testbed.get("backend") or "embedded",
        "cpu_model": " ".join(_CLOCK_SUFFIX.sub("", str(testbed.get("cpu_model"))).split()),
        "cpu_count": testbed.get("cpu_count"),
        "machine": testbed.get("machine"),
        "python": testbed.get("python"),
        "services": {name: _PATCH_RELEASE.sub(r"\1", str(v)) for name, v in services.items()},
    }


_CLOCK_SUFFIX = re.compile(r"@\s*[\d.]+\s*[GM]Hz", re.IGNORECASE)
_PATCH_RELEASE = re.compile(r"\b(v?\d+\.\d+)\.\d+\b")


def load_result_set(path: Path) -> ResultSet:
    """Every scenario run and capacity search below ``path``."""
    samples: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    testbeds: list[dict[str, Any]] = []
    code: list[dict[str, Any]] = []
    runs = 0
    for run_file in sorted(path.rglob(f"run/{RUN_FILE}")):  # probes are steady_before/after
        try:
            run = read_run(run_file.parent)
        except HistoryError as exc:
            raise ResultSetError(str(exc)) from None
        if RUN_KEY not in run.history.meta:
            continue  # a plain load history, not a scenario run
        key = scenario_key(run.name, target_label(run))
        for metric, value in metrics_of(run).items():
            samples[key][metric].append(value)
        testbeds.append(testbed_of(run.history.meta))
        code.append(code_of(run.gateway))
        runs += 1
    for capacity_file in sorted(path.rglob(CAPACITY_FILE)):
        found = json.loads(capacity_file.read_text())
        key = scenario_key(found["scenario"], found.get("target") or found.get("profile"))
        if found.get("capacity_rps"):  # null (0 before brackets): nothing passed, no sample
            samples[key]["capacity_rps"].append(float(found["capacity_rps"]))
        testbeds.append(found["testbed"])
        runs += 1
    if not runs:
        raise ResultSetError(f"{path}: no scenario runs or capacity searches below this folder")
    distinct = {json.dumps(comparable_testbed(t), sort_keys=True) for t in testbeds}
    if len(distinct) > 1:
        raise ResultSetError(f"{path}: its runs come from {len(distinct)} different testbeds")
    distinct_code = {json.dumps(c, sort_keys=True): c for c in code if c.get("code_path")}
    return ResultSet(path, samples, testbeds[0], runs, tuple(distinct_code.values()))


def code_of(gateway: Mapping[str, Any] | None) -> dict[str, Any]:
    """Where a run's gateway code came from (empty for a foreign target)."""
    return {k: (gateway or {}).get(k) for k in ("code_path", "commit", "dirty")}
