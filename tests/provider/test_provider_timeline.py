"""Ground truth for any gateway: calls per endpoint kind, and the timeline of calls."""

from __future__ import annotations

import time
from typing import Any

import pytest
from provider_support import AUTH, FAST_CONFIG, Client, chat_body, control, post_json
from pytest_aiohttp import AiohttpClient

from stack.provider import create_app


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def timed(aiohttp_client: AiohttpClient, clock: FakeClock) -> Client:
    """The provider on a clock that the test moves."""
    return await aiohttp_client(create_app(FAST_CONFIG, clock=clock))


def series_of(stats: dict[str, Any]) -> dict[tuple[str, str, str, str], list[int]]:
    return {
        (s["endpoint"], s["model"], s["tenant"], s["status"]): s["counts"]
        for s in stats["timeline"]["series"]
    }


async def test_calls_are_counted_per_endpoint_kind(client: Client) -> None:
    await post_json(client, "/v1/chat/completions", chat_body())
    await post_json(client, "/v1/chat/completions", chat_body(model="embed"))
    await post_json(client, "/v1/embeddings", {"model": "embed", "input": "hi"})
    async with client.get("/v1/models", headers=AUTH) as response:
        assert response.status == 200
    async with client.get("/v1/nothing", headers=AUTH) as response:
        assert response.status == 404
    endpoints = (await control(client, "GET", "stats"))["endpoints"]
    assert {kind: c["status"] for kind, c in endpoints.items()} == {
        "chat": {"200": 1, "404": 1},
        "embeddings": {"200": 1},
        "models": {"200": 1},
        "other": {"404": 1},
    }


async def test_the_timeline_counts_calls_per_second_by_model_tenant_and_status(
    timed: Client, clock: FakeClock
) -> None:
    acme = {"X-Tenant-Id": "acme"}
    clock.now += 0.4
    await post_json(timed, "/v1/chat/completions", chat_body(), **acme)
    clock.now += 2.0
    await post_json(timed, "/v1/chat/completions", chat_body(), **acme)
    await post_json(timed, "/v1/chat/completions", chat_body())
    await post_json(timed, "/v1/chat/completions", chat_body(model="nope"), **acme)
    await post_json(timed, "/v1/embeddings", {"model": "embed", "input": "hi"}, **acme)
    stats = await control(timed, "GET", "stats")
    timeline = stats["timeline"]
    assert (timeline["bucket_s"], timeline["horizon_s"]) == (1.0, 7200.0)
    assert series_of(stats) == {
        ("chat", "-", "acme", "404"): [0, 0, 1],
        ("chat", "fast", "-", "200"): [0, 0, 1],
        ("chat", "fast", "acme", "200"): [1, 0, 1],
        ("embeddings", "embed", "acme", "200"): [0, 0, 1],
    }
    assert [s["endpoint"] for s in timeline["series"]] == ["chat"] * 3 + ["embeddings"]


async def test_a_call_is_on_the_timeline_when_it_finishes_in_the_bucket_it_arrived_in(
    timed: Client, clock: FakeClock
) -> None:
    body = chat_body(model="exact", stream=True)
    async with timed.post("/v1/chat/completions", json=body, headers=AUTH) as response:
        await response.content.readline()
        assert (await control(timed, "GET", "stats"))["timeline"]["series"] == []
        clock.now += 5.0
        await response.read()
    assert series_of(await control(timed, "GET", "stats")) == {("chat", "exact", "-", "200"): [1]}


async def test_reset_starts_the_timeline_again(timed: Client, clock: FakeClock) -> None:
    await post_json(timed, "/v1/chat/completions", chat_body())
    before = (await control(timed, "GET", "stats"))["timeline"]["origin_unix_s"]
    clock.now += 30.0
    reset_at = time.time()
    await control(timed, "POST", "reset")
    clock.now += 1.5
    await post_json(timed, "/v1/chat/completions", chat_body())
    stats = await control(timed, "GET", "stats")
    assert series_of(stats) == {("chat", "fast", "-", "200"): [0, 1]}
    origin = stats["timeline"]["origin_unix_s"]
    assert before <= reset_at <= origin <= time.time()


async def test_calls_after_the_horizon_are_counted_but_not_on_the_timeline(
    timed: Client, clock: FakeClock
) -> None:
    clock.now += 7200.0
    await post_json(timed, "/v1/chat/completions", chat_body())
    stats = await control(timed, "GET", "stats")
    assert stats["total"]["requests"] == 1
    assert stats["timeline"]["series"] == []
