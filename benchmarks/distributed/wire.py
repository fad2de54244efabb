"""A load plan as it travels from the launcher to the Locust master and on to its workers.

The plan is plain JSON-ready data (``plan_to_dict``): ``workers`` (``LoadPlan.processes``),
``duration_s``, ``target`` (every ``Target`` field) and ``workload`` (``Workload.to_dict()``).
Secrets never reach a file or a command line: the launcher writes the plan without them
(``without_secrets``) and hands them to the master in environment variables
(``secrets_env``), where the master picks them up again (``with_secrets``). The master's
messages to its workers carry the whole plan, secrets included; the names of the run's
messages, whose order ``locustfile`` tells, are here too.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from benchmarks.history import without_api_keys
from benchmarks.op import OP_DTYPE, SCHEDULE_COLUMNS
from benchmarks.plan import LoadPlan
from benchmarks.target import Target
from benchmarks.workload import Workload


API_KEY_VARIABLE = "MELTPROOF_API_KEY"
"""The target's key, for tenants without their own."""
TENANT_KEYS_VARIABLE = "MELTPROOF_TENANT_KEYS"
"""Tenants' own keys, as a JSON object of tenant name to key."""

PLAN = "meltproof_plan"
"""Master to each worker: the plan (``plan_to_dict``, secrets included) and its ``index``."""
READY = "meltproof_ready"
"""Worker to master: its ``worker`` index and the ``fingerprint`` of its share."""
GO = "meltproof_go"
"""Master to each worker: ``start_at``, the wall-clock time zero."""
OPS = "meltproof_ops"
"""Worker to master: its ``worker`` index, the ``columns`` of the rows it finished (``row``
and ``MEASURED_COLUMNS``), the ``models`` named in them, and how many it has ``sent``."""
DONE = "meltproof_done"
"""Worker to master, once its share is answered: its ``worker`` index and ``itl_hdr``, its
inter-token gaps."""
MEASURED_COLUMNS = tuple(name for name in OP_DTYPE.names or () if name not in SCHEDULE_COLUMNS)
"""What a worker measures and sends; the rest comes from the schedule (as in ``convert``)."""


def plan_to_dict(plan: LoadPlan) -> dict[str, Any]:
    """``plan`` as plain data, secrets included."""
    target = plan.target
    return {
        "workers": plan.processes,
        "duration_s": plan.duration_s,
        "target": {
            "base_url": target.base_url,
            "timeout_s": target.timeout_s,
            "max_connections": target.max_connections,
            "api_key": target.api_key,
            "headers": dict(target.headers),
            "traceparent": target.traceparent,
        },
        "workload": plan.workload.to_dict(),
    }


def plan_from_dict(data: Mapping[str, Any]) -> LoadPlan:
    """The plan of ``plan_to_dict``'s form; target fields left out take their defaults."""
    return LoadPlan(
        workload=Workload.from_dict(data["workload"]),
        duration_s=float(data["duration_s"]),
        target=Target(**data["target"]),
        processes=int(data["workers"]),
    )


def without_secrets(data: Mapping[str, Any]) -> dict[str, Any]:
    """The plan as stored on disk: no API key, neither the target's nor any tenant's."""
    return {
        **data,
        "target": {**data["target"], "api_key": None},
        "workload": without_api_keys(dict(data["workload"])),
    }


def secrets_env(plan: LoadPlan) -> dict[str, str]:
    """The environment variables that carry ``plan``'s secrets (none if it has none)."""
    env = {}
    if plan.target.api_key:
        env[API_KEY_VARIABLE] = plan.target.api_key
    tenant_keys = {t.name: t.api_key for t in plan.workload.tenants if t.api_key}
    if tenant_keys:
        env[TENANT_KEYS_VARIABLE] = json.dumps(tenant_keys)
    return env


def with_secrets(data: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """The stored plan ``data`` with the secrets of ``environ`` put back."""
    tenant_keys = json.loads(environ.get(TENANT_KEYS_VARIABLE) or "{}")
    workload = dict(data["workload"])
    workload["tenants"] = [
        {**tenant, "api_key": tenant_keys.get(tenant["name"])} for tenant in workload["tenants"]
    ]
    target = {**data["target"], "api_key": environ.get(API_KEY_VARIABLE) or None}
    return {**data, "target": target, "workload": workload}


def write_plan(plan: LoadPlan, path: Path) -> dict[str, str]:
    """Write ``plan`` without secrets to ``path`` (readable by the owner only, never
    overwritten); return the environment variables that carry the secrets."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        json.dump(without_secrets(plan_to_dict(plan)), file, indent=1, allow_nan=False)
    return secrets_env(plan)


def read_plan(path: Path, environ: Mapping[str, str]) -> LoadPlan:
    """The plan ``write_plan`` wrote to ``path``, with the secrets of ``environ``."""
    return plan_from_dict(with_secrets(json.loads(path.read_text(encoding="utf-8")), environ))
