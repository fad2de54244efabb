"""run_timeline against the real stack: faults act inside their recorded windows only, and a
cancelled timeline leaves the stack healed."""

import asyncio
import time

import pytest
import redis
import redis.asyncio

from faults import FaultContext, FaultEvent, run_timeline


async def _probe(url: str, time_zero: float, duration_s: float) -> list[tuple[float, float]]:
    """(sent, seconds) of PINGs through the link, one after another, for ``duration_s``."""
    samples = []
    async with redis.asyncio.Redis.from_url(url, socket_timeout=5) as client:
        await client.ping()
        while (sent := time.time() - time_zero) < duration_s:
            started = time.perf_counter()
            await client.ping()
            samples.append((sent, time.perf_counter() - started))
            await asyncio.sleep(0.02)
    return samples


async def test_a_fault_acts_inside_its_recorded_window_only(stack):
    events = [
        FaultEvent.model_validate(
            {"name": "slow redis", "at_s": 0.5, "for_s": 1.0,
             "fault": {"kind": "latency", "link": "redis", "latency_ms": 150}}
        )
    ]  # fmt: skip
    time_zero = time.time()
    records, samples = await asyncio.gather(
        run_timeline(events, FaultContext.of_stack(stack), time_zero=time_zero, duration_s=2.0),
        _probe(stack.endpoints.redis_proxied, time_zero, 2.0),
    )
    (window,) = [r.window(time_zero) for r in records]
    assert (window.name, window.kind, window.target, window.error) == (
        "slow redis", "latency", "redis", None
    )  # fmt: skip
    assert 0.5 <= window.started_s < window.ended_s
    inside = [s for sent, s in samples if window.started_s + 0.02 < sent < window.ended_s - 0.2]
    outside = [
        s for sent, s in samples if sent < window.started_s - 0.05 or sent > window.ended_s + 0.05
    ]
    assert inside
    assert outside
    assert min(inside) >= 0.15
    assert max(outside) < 0.15
    assert stack.toxiproxy.proxies()["redis"].toxics == ()


async def test_a_cancelled_timeline_heals_links_and_processes(stack):
    events = [
        FaultEvent.model_validate({"at_s": 0, "fault": {"kind": "link_down", "link": "redis"}}),
        FaultEvent.model_validate({"at_s": 0, "fault": {"kind": "freeze", "service": "redis"}}),
    ]
    injected = asyncio.Event()
    seen = []

    def on_record(record):
        seen.append(record)
        if len(seen) == len(events):
            injected.set()

    ctx = FaultContext.of_stack(stack)
    if "redis" not in ctx.processes:
        pytest.skip("the freeze needs the stack's own Redis")
    task = asyncio.create_task(
        run_timeline(events, ctx, time_zero=time.time(), duration_s=600, on_record=on_record)
    )
    try:
        await asyncio.wait_for(injected.wait(), timeout=10)
        assert not stack.toxiproxy.proxies()["redis"].enabled
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        ctx.processes["redis"].thaw()  # whatever happened, leave Redis running
    assert task.cancelled()
    assert stack.toxiproxy.proxies()["redis"].enabled
    with redis.Redis.from_url(stack.endpoints.redis_proxied, socket_timeout=2) as client:
        assert client.ping()
    assert all(record.ended_at is not None for record in seen[-2:])
