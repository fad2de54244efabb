"""``/metrics`` of a gateway with two worker processes: whichever worker answers the scrape,
requests in flight add up over the live workers, budget plans and the build are reported once,
and ``process_*`` names every live worker, not one that was killed and replaced."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import aiohttp
from gateway_support import KEY, OTHER_KEY, auth, fast_provider, gateway_process, unique_messages
from prometheus_client.parser import text_string_to_metric_families
from scrape_support import METRICS_TOKEN, scrape_auth


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
CONFIG = {
    "metrics_token": METRICS_TOKEN,
    "tenants": [
        {"name": "one", "api_key": KEY, "budget": {"limit_tokens": 100_000, "period_s": 86_400}},
        {"name": "two", "api_key": OTHER_KEY},
    ],
    "deadline": {"default_s": 30},
}


def _workers_of(pid: int) -> set[int]:
    children = {
        int(child)
        for task in Path(f"/proc/{pid}/task").iterdir()
        for child in (task / "children").read_text().split()
    }
    return {c for c in children if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()}


async def _scrape(session: aiohttp.ClientSession) -> Samples:
    async with session.get("/metrics", headers=scrape_auth()) as response:
        assert response.status == 200
        text = await response.text()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _pids(samples: Samples) -> set[int]:
    return {
        int(dict(labels)["pid"]) for name, labels in samples if name == "process_start_time_seconds"
    }


async def _provider_in_flight(stack, count: int) -> None:
    for _ in range(200):  # bounded: fails rather than hangs
        in_flight = stack.provider.stats()["tenants"].get("one", {}).get("in_flight", 0)
        if in_flight == count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the provider has {in_flight} calls in flight, not {count}")


async def test_two_workers_report_their_gauges_and_processes_once(stack, tmp_path):
    fast_provider(stack, ttft_ms=2000)  # the request below is in flight while we scrape
    with gateway_process(stack, tmp_path, workers=2, config=CONFIG) as gateway:
        victim = min(_workers_of(gateway.pid))
        os.kill(victim, signal.SIGKILL)
        connector = aiohttp.TCPConnector(force_close=True)  # each scrape may reach either worker
        async with aiohttp.ClientSession(base_url=gateway.url, connector=connector) as session:
            async with asyncio.timeout(30):
                while True:  # until the replacement has started and written its metrics
                    workers = _workers_of(gateway.pid) - {victim}
                    if len(workers) == 2 and _pids(await _scrape(session)) == workers:
                        break
                    await asyncio.sleep(0.1)

            body = {"model": "gpt-4o-mini", "messages": unique_messages()}
            pending = asyncio.ensure_future(
                session.post("/v1/chat/completions", json=body, headers=auth())
            )
            await _provider_in_flight(stack, 1)
            scrapes = [await _scrape(session) for _ in range(4)]
            async with await pending as response:
                assert response.status == 200

    for got in scrapes:
        assert got["meltproof_gateway_requests_in_flight", frozenset({("route", "chat")})] == 1
        assert _pids(got) == workers
        builds = [
            value for (name, _), value in got.items() if name == "meltproof_gateway_build_info"
        ]
        assert builds == [1]
        tenant = frozenset({("tenant", "one")})
        assert got["meltproof_gateway_budget_limit_tokens", tenant] == 100_000
        assert got["meltproof_gateway_budget_period_seconds", tenant] == 86_400
