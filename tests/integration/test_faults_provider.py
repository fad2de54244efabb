"""Provider faults against the simulated provider: each one's effect, and its heal."""

import asyncio
import itertools
import json
import statistics
import time

import aiohttp
import pytest

from faults import (
    BrownoutFault,
    FaultContext,
    ProviderErrorsFault,
    StreamStallFault,
    StreamTruncationFault,
)


MODEL = "local-llm"
HEADERS = {"Authorization": "Bearer sk-test"}


@pytest.fixture
def ctx(stack):
    return FaultContext.of_stack(stack)


@pytest.fixture
async def session():
    async with aiohttp.ClientSession(headers=HEADERS) as session:
        yield session


def _chat(max_tokens: int = 1, *, stream: bool = False, model: str = MODEL) -> dict:
    return {
        "model": model,
        "messages": [{"role": "user", "content": "Say something."}],
        "max_tokens": max_tokens,
        "stream": stream,
    }


async def _post(session, stack, body) -> tuple[int, dict[str, str], float]:
    started = time.perf_counter()
    async with session.post(stack.endpoints.provider + "/v1/chat/completions", json=body) as r:
        await r.read()
        headers = {name.lower(): value for name, value in r.headers.items()}
        return r.status, headers, time.perf_counter() - started


async def test_provider_errors_answer_about_the_configured_share_with_retry_after(
    stack, ctx, session
):
    fault = ProviderErrorsFault(rates={429: 0.5}, retry_after_s=3)
    await asyncio.to_thread(fault.inject, ctx)
    try:
        answers = await asyncio.gather(*(_post(session, stack, _chat()) for _ in range(120)))
    finally:
        await asyncio.to_thread(fault.heal, ctx)
    limited = [headers for status, headers, _ in answers if status == 429]
    assert {status for status, _, _ in answers} == {200, 429}
    assert 0.3 <= len(limited) / len(answers) <= 0.7
    assert all(headers["retry-after"] == "3" for headers in limited)
    healed = await asyncio.gather(*(_post(session, stack, _chat()) for _ in range(20)))
    assert {status for status, _, _ in healed} == {200}


async def test_a_5xx_burst_on_one_model_spares_the_others_and_heals(stack, ctx, session):
    fault = ProviderErrorsFault(rates={503: 1.0}, model=MODEL)
    await asyncio.to_thread(fault.inject, ctx)
    try:
        hit, _, _ = await _post(session, stack, _chat())
        spared, _, _ = await _post(session, stack, _chat(model="gpt-4o-mini"))
    finally:
        await asyncio.to_thread(fault.heal, ctx)
    healed, _, _ = await _post(session, stack, _chat())
    assert (hit, spared, healed) == (503, 200, 200)


async def test_healing_a_model_fault_keeps_the_default_fault(stack, ctx, session):
    everywhere = ProviderErrorsFault(rates={500: 1.0})
    one_model = BrownoutFault(latency_multiplier=2, model="gpt-4o-mini")
    await asyncio.to_thread(everywhere.inject, ctx)
    await asyncio.to_thread(one_model.inject, ctx)
    try:
        await asyncio.to_thread(one_model.heal, ctx)
        status, _, _ = await _post(session, stack, _chat(model="gpt-4o-mini"))
        assert status == 500  # the model falls back to the default slot's fault
    finally:
        await asyncio.to_thread(everywhere.heal, ctx)
    status, _, _ = await _post(session, stack, _chat(model="gpt-4o-mini"))
    assert status == 200


async def _median_s(session, stack, count: int = 5) -> float:
    times = []
    for _ in range(count):
        status, _, seconds = await _post(session, stack, _chat())
        assert status == 200
        times.append(seconds)
    return statistics.median(times)


async def test_a_brownout_slows_every_answer_and_heals(stack, ctx, session):
    before = await _median_s(session, stack)
    fault = BrownoutFault(latency_multiplier=4, model=MODEL)
    await asyncio.to_thread(fault.inject, ctx)
    try:
        during = await _median_s(session, stack)
    finally:
        await asyncio.to_thread(fault.heal, ctx)
    after = await _median_s(session, stack)
    assert during > 2 * before
    assert after < during / 2


async def _stream(session, stack, max_tokens: int) -> tuple[list[float], bool]:
    """Arrival times of the content events of a stream, and whether it ended properly."""
    started = time.perf_counter()
    arrivals, done = [], False
    body = _chat(max_tokens, stream=True)
    async with session.post(stack.endpoints.provider + "/v1/chat/completions", json=body) as r:
        assert r.status == 200
        try:
            async for line in r.content:
                if line.startswith(b"data: [DONE]"):
                    done = True
                elif line.startswith(b"data: ") and _content(line):
                    arrivals.append(time.perf_counter() - started)
        except aiohttp.ClientPayloadError:
            pass  # the connection was cut
    return arrivals, done


def _content(line: bytes) -> str:
    """The token text of an SSE chunk ('' for the role and finish chunks)."""
    choices = json.loads(line.removeprefix(b"data: "))["choices"]
    return "".join(choice["delta"].get("content") or "" for choice in choices)


def _gaps(arrivals: list[float]) -> list[float]:
    return [later - earlier for earlier, later in itertools.pairwise(arrivals)]


async def test_a_stream_stall_pauses_a_stream_after_its_tokens(stack, ctx, session):
    fault = StreamStallFault(model=MODEL, stall_after_tokens=3, stall_ms=600)
    await asyncio.to_thread(fault.inject, ctx)
    try:
        arrivals, done = await _stream(session, stack, 6)
    finally:
        await asyncio.to_thread(fault.heal, ctx)
    gaps = _gaps(arrivals)
    assert done
    assert len(arrivals) == 6
    assert gaps[2] >= 0.6  # between the third and the fourth token
    assert max(gaps[:2] + gaps[3:]) < 0.6
    healed, _ = await _stream(session, stack, 6)
    assert max(_gaps(healed)) < 0.6


async def test_a_stream_truncation_cuts_a_stream_after_its_tokens(stack, ctx, session):
    fault = StreamTruncationFault(model=MODEL, truncate_after_tokens=2)
    await asyncio.to_thread(fault.inject, ctx)
    try:
        arrivals, done = await _stream(session, stack, 8)
    finally:
        await asyncio.to_thread(fault.heal, ctx)
    assert not done
    assert len(arrivals) == 2
    healed, done = await _stream(session, stack, 8)
    assert done
    assert len(healed) == 8
