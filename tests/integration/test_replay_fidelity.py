"""A replayed access log reproduces the recorded run: hit rate, upstream calls, arrivals.

A short Monday-peak run (clicks of 2-4 questions about popular candidates, a provider that
cannot take the peak uncached) goes through a gateway with its access log on; the log is then
replayed through a fresh gateway on a cold cache, its access log on too. The cache and
coalescing must see the same pattern: the share of answers served without a provider call and
the provider calls within 2%, and the arrivals per second the same.
"""

import dataclasses
import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import redis
import yaml

from benchmarks.arrivals import Arrivals, Stage, Stages
from benchmarks.op import CacheStatus, Outcome
from benchmarks.plan import LoadPlan
from benchmarks.popularity import PromptCatalogue
from benchmarks.replay import Replay
from benchmarks.replay_access_log import LOGGER_MARK
from benchmarks.runner import run_load
from benchmarks.target import Target
from benchmarks.workload import FanOut, TenantShare, Workload
from stack import Stack
from stack.ports import claim_port
from stack.python_service import PythonService


TENANTS = ("acme", "globex", "initech")
PEAK_MODELS = [  # monday_peak's provider
    {"name": "gpt-4o", "ttft_ms": 250, "tpot_ms": 8, "jitter": 0.2, "slots": 24,
     "output_tokens_min": 16, "output_tokens_max": 32, "tpm": 70000},
    {"name": "gpt-4o-mini", "ttft_ms": 150, "tpot_ms": 5, "jitter": 0.2, "slots": 32,
     "output_tokens_min": 16, "output_tokens_max": 32},
    {"name": "local-llm", "ttft_ms": 60, "tpot_ms": 4, "jitter": 0.2, "slots": 16,
     "output_tokens_min": 8, "output_tokens_max": 16},
    {"name": "text-embedding-3-small", "kind": "embedding", "dimensions": 8, "ttft_ms": 5},
]  # fmt: skip
RECORDED = Workload(
    Arrivals(Stages((Stage(5, 5), Stage(5, 16, ramp=True), Stage(6, 16), Stage(4, 5, ramp=True)))),
    tenants=(TenantShare("acme", 3), TenantShare("globex", 2), TenantShare("initech", 1)),
    prompts=PromptCatalogue(templates=6, entities=200, skew=1.3),
    fanout=FanOut(2, 4),
    model="gpt-4o",
    max_tokens=32,
    seed=1,
)
DURATION_S = 20.0


@contextmanager
def logged_gateway(
    stack: Stack, directory: Path, keys: dict[str, str]
) -> Iterator[tuple[str, Path]]:
    """Our hardened gateway with its access log on; yields its URL and its log file."""
    name = f"gateway-{uuid.uuid4().hex[:8]}"
    config = directory / f"{name}.yaml"
    config.write_text(
        yaml.safe_dump({"tenants": [{"name": t, "api_key": k} for t, k in keys.items()]})
    )
    service = PythonService(
        name,
        "reference_impl",
        port=claim_port("gateway", None, "--port"),
        log_dir=directory,
        args=[
            "--provider-url", stack.endpoints.provider_proxied,
            "--redis-url", stack.endpoints.redis_proxied,
            "--config", str(config), "--profile", "hardened", "--access-log",
        ],
    )  # fmt: skip
    service.launch()
    try:
        yield service.wait_ready(time.monotonic() + 30).url, directory / f"{name}.log"
    finally:
        service.stop()


async def measured(stack: Stack, directory: Path, workload_of, duration_s: float):
    """Run a workload through a fresh logged gateway on a cold cache and a fresh provider
    count; its OK answers' header hit rate, the provider's calls, and the gateway's log."""
    with redis.Redis.from_url(stack.endpoints.redis, socket_timeout=5) as client:
        client.flushall()
    stack.provider.clear_stats()
    keys = {tenant: f"sk-{tenant}-{uuid.uuid4().hex[:12]}" for tenant in TENANTS}
    with logged_gateway(stack, directory, keys) as (url, log):
        workload = workload_of(keys)
        result = await run_load(LoadPlan(workload, duration_s, Target(url, timeout_s=10)))
    ops = result.table.ops
    ok = ops["outcome"] == Outcome.OK
    assert ok.mean() > 0.99
    served = np.isin(ops["cache"][ok], [CacheStatus.HIT, CacheStatus.COALESCED])
    calls = int(stack.provider.stats()["total"]["requests"])
    return float(served.mean()), calls, log


def arrivals(log: Path) -> np.ndarray:
    """When each request of the gateway's access log arrived (Unix seconds), in order."""
    return np.sort([record["ts"] for record in map(json.loads, access_lines(log))])


def access_lines(log: Path) -> list[str]:
    return [
        line.partition(LOGGER_MARK)[2]
        for line in log.read_text().splitlines()
        if LOGGER_MARK in line
    ]


def per_second(at: np.ndarray, origin: float, seconds: int) -> np.ndarray:
    """Arrivals in each second from ``origin``."""
    return np.histogram(at - origin, bins=np.arange(seconds + 1))[0]


@pytest.mark.long
@pytest.mark.timeout(240)
async def test_a_replayed_access_log_reproduces_the_recorded_run(stack: Stack, tmp_path: Path):
    stack.provider.set_config({"models": PEAK_MODELS})

    def recorded_workload(keys):
        tenants = tuple(TenantShare(t.name, t.weight, keys[t.name]) for t in RECORDED.tenants)
        return dataclasses.replace(RECORDED, tenants=tenants)

    hit_rate, calls, log = await measured(stack, tmp_path, recorded_workload, DURATION_S)
    replay = Replay(str(log))
    replayed_hit_rate, replayed_calls, replayed_log = await measured(
        stack,
        tmp_path,
        lambda keys: Workload.replaying(replay, api_keys=keys, seed=7),
        replay.duration_s(),
    )

    recorded, replayed = arrivals(log), arrivals(replayed_log)
    assert len(replayed) == len(recorded)
    assert replayed_hit_rate == pytest.approx(hit_rate, rel=0.02)
    assert replayed_calls == pytest.approx(calls, rel=0.02)
    # Each arrival's time, set against the recorded one of the same rank, the runs' start apart.
    # A fresh gateway's first click arrives late (connections, warm-up) in both runs, so the
    # replay, timed from the recorded first arrival, is set against the median, not the first.
    lag = replayed - recorded
    lag -= np.median(lag)
    assert np.mean(np.abs(lag) < 0.05) >= 0.98
    seconds = int(np.ceil(recorded[-1] - recorded[0]))
    recorded_curve = per_second(recorded, recorded[0], seconds)
    replayed_curve = per_second(replayed - np.median(replayed - recorded), recorded[0], seconds)
    assert np.abs(replayed_curve - recorded_curve).sum() <= 0.02 * len(recorded)
