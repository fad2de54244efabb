"""Injected faults: error rates, brownout, stall, truncation, malformed bodies, healing."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter

import aiohttp
import pytest
from provider_support import AUTH, Client, chat_body, control, post_json
from pydantic import ValidationError

from stack.provider import FaultSettings
from stack.provider.faults import FaultState


@pytest.mark.parametrize(
    "bad",
    [
        {"error_rates": {418: 0.5}},
        {"error_rates": {500: 1.5}},
        {"error_rates": {500: 0.6, 503: 0.6}},
        {"latency_multiplier": 0},
        {"stall_probability": 2},
        {"unknown": 1},
    ],
)
def test_fault_spec_validation(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        FaultSettings.model_validate(bad)


def test_error_rates_are_seeded_and_within_bounds() -> None:
    def draw(seed: int) -> Counter[int | None]:
        state = FaultState(seed=seed)
        state.set(FaultSettings(error_rates={500: 0.3, 429: 0.1}))
        return Counter(state.plan("m").error_status for _ in range(4000))

    counts = draw(3)
    assert counts == draw(3)
    assert counts != draw(4)
    # binomial, n=4000: bounds are about 5 standard deviations wide
    assert 1200 - 150 <= counts[500] <= 1200 + 150
    assert 400 - 100 <= counts[429] <= 400 + 100
    assert counts[502] == 0


def test_a_model_spec_replaces_the_default() -> None:
    state = FaultState(seed=0)
    state.set(FaultSettings(error_rates={500: 1.0}))
    state.set(FaultSettings(latency_multiplier=2), model="m")
    assert state.plan("other").error_status == 500
    assert state.plan("m").error_status is None
    assert state.plan("m").latency_multiplier == 2
    state.clear(model="m")
    assert state.plan("m").error_status == 500
    state.clear()
    assert state.plan("m").error_status is None


async def test_injected_error_rates_over_http(client: Client) -> None:
    await control(client, "PUT", "faults", {"error_rates": {"503": 0.5}})
    body = chat_body(max_tokens=1)
    results = await asyncio.gather(
        *(post_json(client, "/v1/chat/completions", body) for _ in range(200))
    )
    statuses = Counter(status for status, _ in results)
    assert set(statuses) == {200, 503}
    assert 65 <= statuses[503] <= 135  # binomial(200, 0.5): about 5 standard deviations
    error = next(data for status, data in results if status == 503)["error"]
    assert error["type"] == "server_error"
    stats = await control(client, "GET", "stats")
    assert stats["models"]["fast"]["status"] == {str(s): n for s, n in statuses.items()}


async def test_injected_429_carries_retry_after(client: Client) -> None:
    await control(client, "PUT", "faults", {"error_rates": {"429": 1.0}, "retry_after_s": 1.5})
    async with client.post("/v1/chat/completions", json=chat_body(), headers=AUTH) as response:
        assert response.status == 429
        assert response.headers["retry-after"] == "2"
        assert response.headers["retry-after-ms"] == "1500"
        assert (await response.json())["error"]["code"] == "rate_limit_exceeded"


async def test_model_fault_and_healing(client: Client) -> None:
    faults = await control(client, "PUT", "faults", {"model": "fast", "error_rates": {"500": 1}})
    assert faults["default"] is None
    assert faults["models"]["fast"]["error_rates"] == {"500": 1.0}
    assert (await post_json(client, "/v1/chat/completions", chat_body()))[0] == 500
    assert (await post_json(client, "/v1/chat/completions", chat_body(model="exact")))[0] == 200
    assert await control(client, "DELETE", "faults") == {"default": None, "models": {}}
    assert (await post_json(client, "/v1/chat/completions", chat_body()))[0] == 200


async def test_brownout_slows_a_request(client: Client) -> None:
    body = chat_body(model="exact", max_tokens=1)  # 30 ms, no jitter
    await post_json(client, "/v1/chat/completions", body)  # the first one loads the tokenizer
    started = time.perf_counter()
    await post_json(client, "/v1/chat/completions", body)
    normal = time.perf_counter() - started
    await control(client, "PUT", "faults", {"latency_multiplier": 5})
    started = time.perf_counter()
    await post_json(client, "/v1/chat/completions", body)
    slow = time.perf_counter() - started
    assert slow >= 0.150  # 5 x 30 ms
    assert normal < slow


async def _content_arrivals(client: Client, body: object) -> list[float]:
    started = time.perf_counter()
    async with client.post("/v1/chat/completions", json=body, headers=AUTH) as response:
        return [
            time.perf_counter() - started
            async for line in response.content
            if b'"delta":{"content":"' in line
        ]


async def test_a_stream_stalls_midway(client: Client) -> None:
    await control(client, "PUT", "faults", {"stall_after_tokens": 3, "stall_ms": 300})
    arrivals = await _content_arrivals(client, chat_body(model="exact", stream=True, max_tokens=6))
    assert len(arrivals) == 6
    # "exact": token k is due at 30 ms + (k - 1) * 2 ms; the 4th waits 300 ms more
    assert arrivals[2] < 0.034 + 0.300
    assert arrivals[3] >= 0.036 + 0.300


async def test_a_truncated_stream_is_an_incomplete_payload(client: Client) -> None:
    await control(client, "PUT", "faults", {"truncate_after_tokens": 3})
    body = chat_body(stream=True, stream_options={"include_usage": True})
    received = bytearray()

    async def read_all(response: aiohttp.ClientResponse) -> None:
        async for line in response.content:
            received.extend(line)

    async with client.post("/v1/chat/completions", json=body, headers=AUTH) as response:
        assert response.status == 200
        with pytest.raises(aiohttp.ClientPayloadError):
            await read_all(response)
    assert received.count(b'"delta":{"content":"') == 3
    assert b"[DONE]" not in received
    assert b'"finish_reason":"stop"' not in received
    stats = await control(client, "GET", "stats")
    assert stats["models"]["fast"]["completion_tokens"] == 3


async def test_a_truncated_json_response_is_an_incomplete_payload(client: Client) -> None:
    await control(client, "PUT", "faults", {"truncate_after_tokens": 2})
    async with client.post("/v1/chat/completions", json=chat_body(), headers=AUTH) as response:
        assert response.status == 200
        with pytest.raises(aiohttp.ClientPayloadError):
            await response.read()


async def test_malformed_bodies(client: Client) -> None:
    await control(client, "PUT", "faults", {"malformed_rate": 1})
    async with client.post("/v1/chat/completions", json=chat_body(), headers=AUTH) as response:
        assert response.status == 200
        assert response.content_type == "application/json"
        with pytest.raises(json.JSONDecodeError):
            json.loads(await response.text())
    body = chat_body(stream=True)
    async with client.post("/v1/chat/completions", json=body, headers=AUTH) as response:
        events = (await response.text()).split("\n\n")[:-1]
    assert events[-1] == "data: [DONE]"
    bad = []
    for event in events[:-1]:
        try:
            json.loads(event.removeprefix("data: "))
        except json.JSONDecodeError:
            bad.append(event)
    assert len(bad) == 1
    async with client.post(
        "/v1/embeddings", json={"model": "embed", "input": "hi"}, headers=AUTH
    ) as response:
        assert response.status == 200
        with pytest.raises(json.JSONDecodeError):
            json.loads(await response.text())


async def test_fault_api_validates_its_input(client: Client) -> None:
    async with client.put("/_control/faults", json={"error_rates": {"418": 0.1}}) as response:
        assert response.status == 400
        error = (await response.json())["error"]
        assert "error_rates" in error["message"]
    async with client.put("/_control/faults", json={"model": "nope"}) as response:
        assert response.status == 400
        assert (await response.json())["error"]["param"] == "model"
    async with client.put("/_control/faults", json={"stall_ms": "slow"}) as response:
        assert response.status == 400
        assert (await response.json())["error"]["param"] == "stall_ms"
