"""A stall shows in open-loop percentiles and hides from a closed-loop measurement of the same run.

Both clients load the provider through its Toxiproxy link at the same time; halfway through,
a 1.5 s latency toxic stalls the link for 2 s. The open-loop engine keeps sending on schedule,
so every request due during the stall waits; the closed-loop users each wait on one request
and send nothing else, so the stall costs them a handful of samples (coordinated omission).
"""

import asyncio
import time

import aiohttp
import numpy as np
import pytest

from benchmarks.arrivals import Arrivals, Constant
from benchmarks.plan import LoadPlan
from benchmarks.runner import run_load
from benchmarks.summary import Percentiles
from benchmarks.target import Target
from benchmarks.workload import Workload
from stack import Toxic, links


STALL_MS = 1500
STALL_AT_S, STALL_FOR_S = 3.0, 2.0
DURATION_S = 8.0


@pytest.fixture
def provider_link(stack):
    """The provider through Toxiproxy, with a fast jitter-free model."""
    config = stack.provider.config()
    fast = {"name": "fast", "ttft_ms": 10, "tpot_ms": 1, "jitter": 0, "output_tokens_min": 4,
            "output_tokens_max": 4}  # fmt: skip
    config["models"] = [*config["models"], fast]
    stack.provider.set_config(config)
    return stack.endpoints.provider_proxied


async def _closed_loop(url: str, users: int, until: float) -> list[float]:
    """``users`` loops of request-wait-repeat; the latency of each request as it saw it."""
    body = {"model": "fast", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}
    latencies: list[float] = []

    async def user(session: aiohttp.ClientSession) -> None:
        while time.monotonic() < until:
            sent = time.monotonic()
            async with session.post(
                f"{url}/v1/chat/completions", json=body, headers={"Authorization": "Bearer sk-test"}
            ) as response:
                await response.read()
            latencies.append(time.monotonic() - sent)

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(user(session) for _ in range(users)))
    return latencies


async def _stall(stack) -> None:
    await asyncio.sleep(STALL_AT_S)
    toxic = Toxic("stall", "latency", attributes={"latency": STALL_MS, "jitter": 0})
    await asyncio.to_thread(stack.toxiproxy.add_toxic, links.PROVIDER, toxic)
    await asyncio.sleep(STALL_FOR_S)
    await asyncio.to_thread(stack.toxiproxy.remove_toxic, links.PROVIDER, "stall")


async def test_a_stall_shows_open_loop_and_hides_closed_loop(stack, provider_link):
    workload = Workload(arrivals=Arrivals(Constant(100), "regular"), model="fast", max_tokens=4)
    plan = LoadPlan(
        workload, duration_s=DURATION_S, target=Target(provider_link, api_key="sk-test")
    )
    until = time.monotonic() + DURATION_S
    open_loop, closed, _ = await asyncio.gather(
        run_load(plan), _closed_loop(provider_link, users=2, until=until), _stall(stack)
    )
    open_latency = open_loop.table.latency_s
    closed_latency = np.array(closed)
    stalled = STALL_MS / 1000 / 2
    # About a quarter of the open-loop requests were due during the stall, and waited...
    assert np.mean(open_latency > stalled) > 0.15
    # ...while each closed-loop user, waiting, sent only a request or two into it.
    assert 0 < np.sum(closed_latency > stalled) <= 2 * 2 + 2  # two users; slack at the edges
    assert np.mean(closed_latency > stalled) < 0.01
    open_p99 = Percentiles.of_values(open_latency).p99_s
    closed_p99 = Percentiles.of_values(closed_latency).p99_s
    assert open_p99 > STALL_MS / 1000 * 0.9
    assert closed_p99 < open_p99 / 3
    # The open-loop uncorrected latency shows it too, since sends kept to the schedule.
    uncorrected = open_loop.table.ops["end_s"] - open_loop.table.ops["sent_s"]
    assert np.mean(uncorrected > stalled) > 0.15
