"""The latency model (pure, seeded) and the FIFO slots of a deployment."""

from __future__ import annotations

import asyncio
import math
import random
import statistics

import pytest

from stack.provider import ModelSpec
from stack.provider.latency import Deployment, LatencyModel


SPEC = ModelSpec(name="m", ttft_ms=200, tpot_ms=10, jitter=0.2, load_slowdown=0.5)


def _model(seed: int = 1) -> LatencyModel:
    return LatencyModel(random.Random(seed))  # noqa: S311 - not crypto


def test_medians_match_the_spec_at_zero_load() -> None:
    model = _model()
    timings = [model.sample(SPEC, tokens=50) for _ in range(2000)]
    ttft = statistics.median(t.ttft_s for t in timings)
    gaps = statistics.median(g for t in timings for g in t.gaps_s)
    assert ttft == pytest.approx(0.200, rel=0.03)
    assert gaps == pytest.approx(0.010, rel=0.02)
    assert all(len(t.gaps_s) == 49 for t in timings)


def test_jitter_spreads_samples_lognormally() -> None:
    model = _model()
    ttfts = [model.sample(SPEC, tokens=1).ttft_s for _ in range(2000)]
    p95 = statistics.quantiles(ttfts, n=20)[-1]
    lognormal_p95_over_median = math.exp(1.645 * SPEC.jitter)
    assert p95 / statistics.median(ttfts) == pytest.approx(lognormal_p95_over_median, rel=0.06)
    assert min(ttfts) > 0


def test_load_slows_decoding_not_prefill() -> None:
    idle, busy = _model(), _model()
    at_idle = [idle.sample(SPEC, tokens=20) for _ in range(500)]
    at_full = [busy.sample(SPEC, tokens=20, load=1.0) for _ in range(500)]
    gap_ratio = statistics.median(g for t in at_full for g in t.gaps_s) / statistics.median(
        g for t in at_idle for g in t.gaps_s
    )
    assert gap_ratio == pytest.approx(1.5, rel=1e-9)  # same seed, same noise: exactly 1 + 0.5
    assert [t.ttft_s for t in at_full] == [t.ttft_s for t in at_idle]


def test_brownout_multiplies_everything() -> None:
    normal = _model().sample(SPEC, tokens=10)
    slow = _model().sample(SPEC, tokens=10, multiplier=4.0)
    assert slow.ttft_s == pytest.approx(4 * normal.ttft_s)
    assert slow.total_s == pytest.approx(4 * normal.total_s)


def test_seeded_determinism_and_exact_timings_without_jitter() -> None:
    assert _model(5).sample(SPEC, tokens=30) == _model(5).sample(SPEC, tokens=30)
    assert _model(5).sample(SPEC, tokens=30) != _model(6).sample(SPEC, tokens=30)
    exact = ModelSpec(name="x", ttft_ms=100, tpot_ms=5, jitter=0)
    timing = _model().sample(exact, tokens=3)
    assert timing.ttft_s == pytest.approx(0.1)
    assert timing.gaps_s == pytest.approx((0.005, 0.005))
    assert timing.total_s == pytest.approx(0.11)
    assert _model().sample(exact, tokens=0).gaps_s == ()


async def test_deployment_serves_slots_then_queues_fifo() -> None:
    deployment = Deployment(ModelSpec(name="m", slots=2))
    order: list[int] = []
    loads: list[float] = []
    release = asyncio.Event()

    async def request(number: int) -> None:
        async with deployment.slot() as load:
            order.append(number)
            loads.append(load)
            await release.wait()

    tasks = [asyncio.create_task(request(n)) for n in range(5)]
    for _ in range(3):
        await asyncio.sleep(0)
    assert order == [0, 1]
    assert (deployment.busy, deployment.queued) == (2, 3)
    assert loads == [0.0, 0.5]
    release.set()
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2, 3, 4]
    assert (deployment.busy, deployment.queued) == (0, 0)


async def test_a_cancelled_waiter_leaves_the_queue() -> None:
    deployment = Deployment(ModelSpec(name="m", slots=1))
    hold = asyncio.Event()

    async def holder() -> None:
        async with deployment.slot():
            await hold.wait()

    first = asyncio.create_task(holder())
    await asyncio.sleep(0)
    waiter = asyncio.create_task(holder())
    await asyncio.sleep(0)
    assert deployment.queued == 1
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert (deployment.busy, deployment.queued) == (1, 0)
    hold.set()
    await first
    assert deployment.busy == 0
