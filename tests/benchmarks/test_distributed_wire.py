"""The plan as it travels to Locust's master and workers: whole, and its secrets off disk."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from benchmarks.arrivals import Arrivals, Constant
from benchmarks.distributed.wire import (
    API_KEY_VARIABLE,
    TENANT_KEYS_VARIABLE,
    plan_from_dict,
    plan_to_dict,
    read_plan,
    write_plan,
)
from benchmarks.plan import LoadPlan
from benchmarks.target import Target
from benchmarks.workload import TenantShare, Workload


def _plan() -> LoadPlan:
    workload = Workload(
        arrivals=Arrivals(Constant(5.0)),
        tenants=(TenantShare("acme", 1, "sk-acme"), TenantShare("globex", 2)),
        seed=4,
    )
    target = Target(
        "http://127.0.0.1:9/base",
        timeout_s=2.5,
        max_connections=7,
        api_key="sk-default",
        headers={"x-route": "blue", "x-team": "sre"},
    )
    return LoadPlan(workload, duration_s=3.0, target=target, processes=2)


def test_a_plan_travels_whole_as_plain_data() -> None:
    plan = _plan()
    data = json.loads(json.dumps(plan_to_dict(plan)))
    assert plan_from_dict(data) == plan


def test_the_plan_file_has_no_secret_and_the_environment_brings_them_back(tmp_path: Path) -> None:
    plan, path = _plan(), tmp_path / "plan.json"
    environ = write_plan(plan, path)
    text = path.read_text()
    assert "sk-" not in text
    assert "x-route" in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert environ == {API_KEY_VARIABLE: "sk-default", TENANT_KEYS_VARIABLE: '{"acme": "sk-acme"}'}
    assert read_plan(path, environ) == plan
    bare = read_plan(path, {})
    assert bare.target.api_key is None
    assert [t.api_key for t in bare.workload.tenants] == [None, None]
    with pytest.raises(FileExistsError):
        write_plan(plan, path)
