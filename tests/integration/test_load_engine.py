"""The open-loop engine against the real simulated provider, its stats as ground truth."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from benchmarks.arrivals import Arrivals, Constant
from benchmarks.history import read_history
from benchmarks.op import ErrorKind, Outcome
from benchmarks.plan import LoadPlan
from benchmarks.runner import run_load
from benchmarks.target import Target
from benchmarks.workload import EndpointShare, TenantShare, Workload
from stack.ports import ephemeral_port


FAST_MODEL = {
    "name": "fast",
    "ttft_ms": 20,
    "tpot_ms": 2,
    "jitter": 0,
    "output_tokens_min": 6,
    "output_tokens_max": 6,
}


@pytest.fixture
def provider(stack):
    """The provider with a fast, jitter-free chat model named ``fast``."""
    config = stack.provider.config()
    config["models"] = [*config["models"], FAST_MODEL]
    stack.provider.set_config(config)
    return stack.endpoints.provider


def _workload(rate_rps: float = 50, **overrides) -> Workload:
    values = {
        "arrivals": Arrivals(Constant(rate_rps), "regular"),
        "tenants": (TenantShare("acme", 1), TenantShare("globex", 1)),
        "endpoints": (EndpointShare("chat", 1), EndpointShare("chat_stream", 1)),
        "model": "fast",
        "max_tokens": 6,
        "seed": 3,
    } | overrides
    return Workload(**values)


async def test_every_scheduled_request_reaches_the_provider_once(stack, provider):
    plan = LoadPlan(_workload(), duration_s=2.0, target=Target(provider, api_key="sk-test"))
    result = await run_load(plan)
    table = result.table
    ops = table.ops
    schedule = plan.workload.schedule(plan.duration_s)
    assert np.array_equal(ops["intended_s"], schedule.intended_s)
    assert (ops["outcome"] == Outcome.OK).all(), table.op(int(np.argmax(ops["outcome"] != 1)))
    stats = stack.provider.stats()
    assert stats["total"]["requests"] == len(schedule) == 100
    for code, tenant in enumerate(schedule.tenants):
        assert stats["tenants"][tenant]["requests"] == int((schedule.tenant == code).sum())
    assert stats["total"]["completion_tokens"] == int(ops["completion_tokens"].sum())
    assert table.models == ("fast",)
    assert (table.latency_s >= 0.020).all()


async def test_streams_get_ttft_tpot_and_inter_token_gaps(provider):
    workload = _workload(endpoints=(EndpointShare("chat_stream", 1),))
    result = await run_load(
        LoadPlan(workload, duration_s=1.0, target=Target(provider, api_key="sk-test"))
    )
    ops = result.table.ops
    assert (ops["completion_tokens"] == 6).all()
    assert (ops["ttft_s"] >= 0.020).all()
    assert np.median(ops["tpot_s"]) == pytest.approx(0.002, abs=0.002)
    assert result.itl.count == 5 * len(ops)  # six tokens, five gaps, one chunk each


async def test_429s_are_failures_that_keep_their_status(stack, provider):
    stack.provider.set_fault({"error_rates": {"429": 1.0}})
    result = await run_load(
        LoadPlan(_workload(), duration_s=0.5, target=Target(provider, api_key="sk-test"))
    )
    ops = result.table.ops
    assert (ops["outcome"] == Outcome.FAIL).all()
    assert (ops["status"] == 429).all()
    assert (ops["error"] == ErrorKind.HTTP).all()


async def test_a_client_timeout_is_unknown_not_failed(stack, provider):
    stack.provider.set_fault({"latency_multiplier": 20})  # TTFT 400 ms
    target = Target(provider, timeout_s=0.1, api_key="sk-test")
    result = await run_load(LoadPlan(_workload(), duration_s=0.4, target=target))
    ops = result.table.ops
    assert (ops["outcome"] == Outcome.INFO).all()
    assert (ops["error"] == ErrorKind.TIMEOUT).all()
    assert (result.table.latency_s >= 0.1).all()


async def test_a_refused_connection_is_a_connect_failure():
    target = Target(f"http://127.0.0.1:{ephemeral_port()}")
    result = await run_load(LoadPlan(_workload(rate_rps=20), duration_s=0.3, target=target))
    ops = result.table.ops
    assert (ops["outcome"] == Outcome.FAIL).all()
    assert (ops["error"] == ErrorKind.CONNECT).all()


async def test_two_processes_share_the_schedule_and_merge(stack, provider):
    plan = LoadPlan(
        _workload(rate_rps=100),
        duration_s=1.5,
        target=Target(provider, api_key="sk-test"),
        processes=2,
    )
    result = await run_load(plan)
    ops = result.table.ops
    schedule = plan.workload.schedule(plan.duration_s)
    assert np.array_equal(ops["row"], np.arange(len(schedule)))
    assert np.array_equal(ops["intended_s"], schedule.intended_s)
    assert (ops["outcome"] == Outcome.OK).all()
    assert stack.provider.stats()["total"]["requests"] == len(schedule)
    assert result.itl.count > 0
    assert result.shortfall() is None


def test_the_cli_writes_a_history_and_prints_a_summary(stack, provider, tmp_path):
    out = tmp_path / "history"
    command = [
        sys.executable, "-m", "scenarios", "load", "--url", provider, "--rate", "40",
        "--duration", "1", "--model", "fast", "--arrivals", "regular",
        "--endpoints", "chat=1,chat_stream=1", "--api-key", "sk-test", "--out", str(out),
    ]  # fmt: skip
    finished = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert finished.returncode == 0, finished.stderr
    assert "achieved" in finished.stdout
    assert "p99" in finished.stdout
    assert "TTFT" in finished.stdout
    history = read_history(out)
    assert len(history.table) == 40
    assert history.summary.ok == 40
    run = json.loads((out / "run.json").read_text())
    assert run["schema_version"] == 1
    assert sum(window["scheduled"] for window in run["timeseries"]) == 40
    assert stack.provider.stats()["total"]["requests"] == 40


def test_the_cli_sends_each_tenant_its_own_key(stack, provider, tmp_path):
    out = tmp_path / "history"
    command = [
        sys.executable, "-m", "scenarios", "load", "--url", provider, "--rate", "40",
        "--duration", "1", "--model", "fast", "--tenants", "acme=1,globex=1", "--out", str(out),
    ]  # fmt: skip
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MELTPROOF_API_KEY")}
    environ["MELTPROOF_API_KEY_ACME"] = "sk-acme"  # globex has none: the provider says 401
    finished = subprocess.run(
        command, capture_output=True, text=True, timeout=60, check=False, env=environ
    )
    assert finished.returncode == 0, finished.stderr
    table = read_history(out).table
    ops = table.ops
    acme = ops["tenant"] == table.tenants.index("acme")
    assert (ops["outcome"][acme] == Outcome.OK).all()
    assert (ops["status"][~acme] == 401).all()


@pytest.mark.parametrize(
    ("thresholds", "exit_code", "mark"),
    [(("p50<1ms", "error_rate<1%"), 1, "✗ p50<1ms"), (("p50<5s", "error_rate<1%"), 0, "✓ p50<5s")],
)
def test_the_cli_exits_1_when_a_threshold_fails(provider, tmp_path, thresholds, exit_code, mark):
    command = [
        sys.executable, "-m", "scenarios", "load", "--url", provider, "--rate", "20",
        "--duration", "1", "--model", "fast", "--api-key", "sk-test", "--out", str(tmp_path / "h"),
    ]  # fmt: skip
    for threshold in thresholds:
        command += ["--threshold", threshold]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert finished.returncode == exit_code, finished.stdout + finished.stderr
    assert mark in finished.stdout
    assert "✓ error_rate<1%" in finished.stdout
