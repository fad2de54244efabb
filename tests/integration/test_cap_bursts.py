"""A tenant's concurrency cap under bursts, on a 2-worker hardened gateway, in every state of
its Redis link: healthy, slow (replies later than the gateway's Redis timeout), and cut in the
middle of a burst then brought back. The provider's per-tenant max in flight is the oracle.

Each burst is one test item; ``MELTPROOF_BURST_REPEATS`` (default 2) sets the bursts per state.
Every burst's max in flight is printed (``-s``) and recorded (``record_property``), and a
summary per state is printed when the module ends.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from gateway_support import KEY, OTHER_KEY, auth, fast_provider, gateway_process, unique_messages

from stack import Stack, Toxic, links


CAP = 4
BURST = 200
REPEATS = int(os.environ.get("MELTPROOF_BURST_REPEATS", "2"))
TTFT_MS = 800
"""Slow enough that a burst's requests overlap at the provider."""
SPREAD_S = 3 * TTFT_MS / 1000
"""A cut burst's arrivals spread over this: a third before the cut, a third while the link is
down, a third after it is back."""
SLOW_REDIS_MS = 200
"""Latency on the Redis link, well over the gateway's Redis timeout (50 ms)."""
ADMITTED_WITHIN_S = 10.0
"""A follow-up request must be admitted well before the leases (30 s) would free the slots."""
CONFIG = {
    "tenants": [
        {"name": "one", "api_key": KEY, "concurrency_cap": CAP},
        {"name": "two", "api_key": OTHER_KEY},
    ],
    # A deadline shorter than the provider's answer would cut calls the provider still counts.
    "deadline": {"default_s": 30},
}
STATES = ("healthy", "slow", "cut")


@pytest.fixture(scope="module")
def figures() -> Iterator[dict[str, list[int]]]:
    """Max in flight per burst, by state; printed when the module ends."""
    seen: dict[str, list[int]] = {state: [] for state in STATES}
    yield seen
    for state, maxima in seen.items():
        if maxima:
            print(f"\n{state}: max in flight per burst {maxima} (cap {CAP})")  # noqa: T201


@pytest.fixture(scope="module")
def gateway(meltproof_stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One 2-worker gateway for every burst, with its log."""
    directory = tmp_path_factory.mktemp("cap-bursts")
    with gateway_process(meltproof_stack, directory, workers=2, config=CONFIG) as service:
        yield service, directory / "gateway-under-test.log"


async def _ask(session: aiohttp.ClientSession, key: str = KEY) -> tuple[int, dict[str, str], Any]:
    body = {"model": "gpt-4o-mini", "messages": unique_messages()}  # not cacheable, not coalesced
    async with session.post("/v1/chat/completions", json=body, headers=auth(key)) as response:
        return response.status, dict(response.headers), await response.json()


async def _toxiproxy(call: Any, *args: Any) -> None:
    await asyncio.to_thread(call, *args)


async def _burst(session: aiohttp.ClientSession, stack: Stack, state: str) -> list[Any]:
    """200 requests from the tenant; the Redis link is put in ``state`` for them."""
    if state == "slow":
        slow = Toxic("slow", "latency", attributes={"latency": SLOW_REDIS_MS, "jitter": 0})
        await _toxiproxy(stack.toxiproxy.add_toxic, links.REDIS, slow)
    if state != "cut":
        results = await asyncio.gather(*(_ask(session) for _ in range(BURST)))
        if state == "slow":
            await _toxiproxy(stack.toxiproxy.remove_toxic, links.REDIS, "slow")
        return results

    async def arrive(index: int) -> Any:
        await asyncio.sleep(index * SPREAD_S / BURST)
        return await _ask(session)

    async def cut_then_restore() -> None:
        await asyncio.sleep(SPREAD_S / 3)
        await _toxiproxy(stack.toxiproxy.set_enabled, links.REDIS, False)
        await asyncio.sleep(SPREAD_S / 3)
        await _toxiproxy(stack.toxiproxy.set_enabled, links.REDIS, True)

    *results, _ = await asyncio.gather(*(arrive(i) for i in range(BURST)), cut_then_restore())
    return results


async def _attempts_until_admitted(session: aiohttp.ClientSession) -> int:
    """Requests of the tenant, one every 0.2 s, until one is admitted (200)."""
    started = time.monotonic()
    attempts = 0
    while True:
        status, _, _ = await _ask(session)
        attempts += 1
        waited_s = time.monotonic() - started
        if status == 200 or waited_s > ADMITTED_WITHIN_S:
            assert status == 200, f"the tenant is still refused {waited_s:.1f} s after its burst"
            return attempts
        await asyncio.sleep(0.2)


def _log_since(log: Path, offset: int) -> str:
    with log.open(encoding="utf-8", errors="replace") as file:
        file.seek(offset)
        return file.read()


@pytest.mark.parametrize("repeat", range(REPEATS))
@pytest.mark.parametrize("state", STATES)
async def test_a_burst_never_puts_more_than_the_cap_in_flight(
    stack, gateway, figures, record_property, state, repeat
):
    service, log = gateway
    fast_provider(stack, ttft_ms=TTFT_MS)
    stack.provider.clear_stats()
    log_offset = log.stat().st_size
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    async with aiohttp.ClientSession(base_url=service.url, connector=connector) as session:
        results = await _burst(session, stack, state)
        max_in_flight = stack.provider.stats()["tenants"]["one"]["max_in_flight"]
        attempts = await _attempts_until_admitted(session)
        other, _, _ = await _ask(session, OTHER_KEY)
    figures[state].append(max_in_flight)
    record_property(f"max_in_flight_{state}_{repeat}", max_in_flight)
    statuses = Counter(status for status, _, _ in results)
    outages = _log_since(log, log_offset).count("redis unavailable for")
    print(  # noqa: T201
        f"\n{state} #{repeat}: max in flight {max_in_flight}, answers {dict(statuses)}, "
        f"follow-up admitted at attempt {attempts}, redis cool-downs logged {outages}"
    )
    assert max_in_flight <= CAP
    assert set(statuses) <= {200, 429}
    assert statuses[429] > 0, "the burst must go over the cap"
    for status, headers, body in results:
        if status == 429:
            assert int(headers["Retry-After"]) >= 1
            assert body["error"]["code"] in {"tenant_concurrency_cap", "global_concurrency_cap"}
        else:
            assert body["choices"][0]["message"]["content"]
    assert other == 200, "another tenant keeps its own slots"
