"""Each stabilisation pattern against the real stack, with the provider's stats as the oracle."""

import asyncio
import json
import logging
import os
import signal
import uuid
from pathlib import Path

import aiohttp
import openai
import pytest
from gateway_support import (
    KEY,
    OTHER_KEY,
    auth,
    chat,
    fast_provider,
    gateway_config,
    gateway_process,
    provider_requests,
    unique_messages,
)
from scrape_support import METRICS_TOKEN, scrape_auth

from reference_impl import create_app
from stack import Toxic, links
from stack.ports import ephemeral_port


@pytest.fixture
def make_gateway(stack, aiohttp_client):
    """An in-process gateway on the stack's provider and Redis links, with config changes."""
    fast_provider(stack)

    async def make(**fields):
        return await aiohttp_client(create_app(gateway_config(stack, **fields)))

    return make


async def _post_many(client, bodies, headers=None):
    async def one(body):
        response = await client.post("/v1/chat/completions", json=body, headers=headers or auth())
        return response.status, dict(response.headers), await response.json()

    return await asyncio.gather(*(one(body) for body in bodies))


async def test_100_identical_concurrent_requests_make_one_upstream_call(stack, make_gateway):
    fast_provider(stack, ttft_ms=300)
    client = await make_gateway()
    body = chat(unique_messages())
    results = await _post_many(client, [body] * 100)
    assert {status for status, _, _ in results} == {200}
    caches = sorted(headers["x-cache"] for _, headers, _ in results)
    assert caches.count("miss") == 1
    assert caches.count("coalesced") == 99
    contents = {answer["choices"][0]["message"]["content"] for _, _, answer in results}
    assert len(contents) == 1
    assert provider_requests(stack) == 1


async def test_coalescing_spans_two_worker_processes(stack, tmp_path):
    fast_provider(stack, ttft_ms=400)
    body = chat(unique_messages())
    config = {"metrics_token": METRICS_TOKEN}
    with gateway_process(stack, tmp_path, workers=2, config=config) as gateway:
        connector = aiohttp.TCPConnector(limit=0, force_close=True)
        async with aiohttp.ClientSession(base_url=gateway.url, connector=connector) as session:

            async def one():
                async with session.post(
                    "/v1/chat/completions", json=body, headers=auth()
                ) as response:
                    return response.status, response.headers["x-cache"], await response.json()

            results = await asyncio.gather(*(one() for _ in range(100)))
            async with session.get("/metrics", headers=scrape_auth()) as response:
                metrics = await response.text()
    assert {status for status, _, _ in results} == {200}
    assert sorted(cache for _, cache, _ in results).count("miss") == 1
    assert len({answer["choices"][0]["message"]["content"] for _, _, answer in results}) == 1
    assert provider_requests(stack) == 1
    assert 'cache_total{result="coalesced"} 99.0' in metrics


async def test_a_429_storm_opens_the_breaker_and_the_fallback_serves(stack, make_gateway):
    stack.provider.set_fault({"error_rates": {429: 1.0}, "retry_after_s": 0.02}, model="gpt-4o")
    client = await make_gateway(
        metrics_token=METRICS_TOKEN,
        breaker={"min_calls": 10, "window_s": 30, "open_s": 30},
        retries={"budget_ratio": 0.1, "budget_min_per_s": 0.2, "budget_window_s": 30},
    )
    requests = 60
    bodies = [
        {"model": "gpt-4o", "messages": unique_messages(), "max_tokens": 5} for _ in range(requests)
    ]
    results = []
    for start in range(0, requests, 10):
        results += await _post_many(client, bodies[start : start + 10])
    assert {status for status, _, _ in results} == {200}
    assert not any(headers.get("x-degraded") for _, headers, _ in results)
    assert {answer["model"] for _, _, answer in results} == {"gpt-4o-mini"}
    attempts_on_4o = provider_requests(stack, model="gpt-4o")
    retry_allowance = 0.1 * requests + 0.2 * 30
    assert attempts_on_4o <= requests + retry_allowance
    assert attempts_on_4o < requests, "the open breaker must stop calls to gpt-4o"
    metrics = await (await client.get("/metrics", headers=scrape_auth())).text()
    assert 'meltproof_gateway_breaker_state{deployment="gpt-4o"} 2.0' in metrics


async def test_with_every_model_down_chat_degrades_and_embeddings_get_503(stack, make_gateway):
    stack.provider.set_fault({"error_rates": {503: 1.0}})
    client = await make_gateway()
    response = await client.post(
        "/v1/chat/completions", json=chat(unique_messages()), headers=auth()
    )
    assert response.status == 200
    assert response.headers["x-degraded"] == "true"
    body = await response.json()
    assert body["degraded"] is True
    assert body["choices"][0]["message"]["content"]
    response = await client.post(
        "/v1/embeddings", json={"model": "text-embedding-3-small", "input": "x"}, headers=auth()
    )
    assert response.status == 503
    assert int(response.headers["retry-after"]) >= 1
    assert (await response.json())["error"]["type"] == "service_unavailable"


async def test_the_naive_profile_passes_the_storm_through(stack, make_gateway):
    stack.provider.set_fault({"error_rates": {429: 1.0}, "retry_after_s": 0.01})
    client = await make_gateway(profile="naive", retries={"base_s": 0.01})
    response = await client.post(
        "/v1/chat/completions", json=chat(unique_messages()), headers=auth()
    )
    assert response.status == 429
    assert "x-cache" not in response.headers
    assert provider_requests(stack) == 3, "naive retries: 3 attempts, no budget, no fallback"


@pytest.mark.parametrize("failure", ["stopped", "link_down", "black_hole"])
async def test_redis_gone_the_gateway_still_answers(stack, make_gateway, failure):
    nothing_listens = f"redis://127.0.0.1:{ephemeral_port()}/0"
    redis_url = nothing_listens if failure == "stopped" else stack.endpoints.redis_proxied
    client = await make_gateway(redis_timeout_s=0.05, redis_url=redis_url)
    body = chat(unique_messages())
    if failure == "link_down":
        stack.toxiproxy.set_enabled(links.REDIS, False)
    else:
        stack.toxiproxy.add_toxic(links.REDIS, Toxic("hole", "timeout", attributes={"timeout": 0}))
    statuses = [
        (await client.post("/v1/chat/completions", json=body, headers=auth())).status
        for _ in range(3)
    ]
    assert statuses == [200, 200, 200]


async def _provider_in_flight(stack, tenant: str, count: int) -> None:
    """Wait until the provider has ``count`` calls of ``tenant`` in flight."""
    for _ in range(200):  # bounded: fails rather than hangs
        in_flight = stack.provider.stats()["tenants"].get(tenant, {}).get("in_flight", 0)
        if in_flight == count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the provider has {in_flight} calls of {tenant} in flight, not {count}")


async def test_a_tenant_over_its_cap_gets_429_and_the_provider_never_sees_more(stack, make_gateway):
    fast_provider(stack, ttft_ms=3000)  # the cap's holders outlast every other request
    cap = 3
    client = await make_gateway(
        tenants=[
            {"name": "one", "api_key": KEY, "concurrency_cap": cap},
            {"name": "two", "api_key": OTHER_KEY},
        ],
        deadline={"default_s": 30},
    )

    def bodies(count):
        return [{"model": "gpt-4o-mini", "messages": unique_messages()} for _ in range(count)]

    holders = asyncio.ensure_future(_post_many(client, bodies(cap)))
    await _provider_in_flight(stack, "one", cap)
    refused = await _post_many(client, bodies(17))
    other = await _post_many(client, [chat(unique_messages())], headers=auth(OTHER_KEY))
    held = await holders
    assert [status for status, _, _ in held] == [200] * cap
    assert [status for status, _, _ in refused] == [429] * 17
    assert all(int(headers["Retry-After"]) >= 1 for _, headers, _ in refused)
    assert {body["error"]["code"] for _, _, body in refused} == {"tenant_concurrency_cap"}
    assert stack.provider.stats()["tenants"]["one"]["max_in_flight"] == cap
    assert other[0][0] == 200, "another tenant keeps its own slots"


async def test_budgets_warn_then_downgrade_then_refuse(stack, make_gateway):
    budget = {"limit_tokens": 100, "warn_pct": 0.2, "hard_pct": 0.5, "ceiling_pct": 1.0}
    client = await make_gateway(
        tenants=[{"name": "one", "api_key": KEY, "budget": budget}],
        budgets={"default_max_output_tokens": 10},
    )
    seen = []
    for _ in range(12):
        response = await client.post(
            "/v1/chat/completions",
            json={"model": "gpt-4o", "messages": unique_messages(), "max_tokens": 10},
            headers=auth(),
        )
        body = await response.json()
        seen.append((response.status, "x-budget-warning" in response.headers, body.get("model")))
        if response.status == 429:
            assert body["error"]["code"] == "token_budget_exhausted"
            break
    assert seen[0] == (200, False, "gpt-4o")
    assert any(warned and model == "gpt-4o" for _, warned, model in seen)
    assert any(model == "gpt-4o-mini" for _, _, model in seen), "downgraded past the hard limit"
    assert seen[-1][0] == 429
    used = stack.provider.stats()["tenants"]["one"]
    spent = used["prompt_tokens"] + used["completion_tokens"]
    assert spent <= 100 + 30, "the ceiling is overrun by at most one request"


async def test_a_structured_answer_is_valid_or_degraded(stack, make_gateway):
    client = await make_gateway()
    schema = {
        "type": "object",
        "properties": {"summary": {"type": "string"}, "score": {"type": "integer"}},
        "required": ["summary", "score"],
        "additionalProperties": False,
    }
    body = chat(
        unique_messages(),
        response_format={"type": "json_schema", "json_schema": {"name": "s", "schema": schema}},
    )
    response = await client.post("/v1/chat/completions", json=body, headers=auth())
    answer = await response.json()
    assert response.status == 200
    assert "x-degraded" not in response.headers
    content = answer["choices"][0]["message"]["content"]
    assert set(json.loads(content)) == {"summary", "score"}
    stack.provider.set_fault({"malformed_rate": 1.0})
    body["messages"] = unique_messages()
    response = await client.post("/v1/chat/completions", json=body, headers=auth())
    assert response.status == 200
    assert response.headers["x-degraded"] == "true"


async def test_a_slow_provider_answers_degraded_within_the_deadline(stack, make_gateway):
    client = await make_gateway(deadline={"default_s": 0.5})
    stack.toxiproxy.add_toxic(
        links.PROVIDER, Toxic("slow", "latency", attributes={"latency": 2000})
    )
    loop = asyncio.get_running_loop()
    started = loop.time()
    response = await client.post(
        "/v1/chat/completions", json=chat(unique_messages()), headers=auth()
    )
    elapsed = loop.time() - started
    assert response.status == 200
    assert response.headers["x-degraded"] == "true"
    assert elapsed < 1.5


async def test_the_naive_profile_gives_504_after_its_timeout(stack, make_gateway):
    client = await make_gateway(
        profile="naive", upstream_timeout_s=0.3, retries={"max_attempts": 1}
    )
    stack.toxiproxy.add_toxic(
        links.PROVIDER, Toxic("slow", "latency", attributes={"latency": 1000})
    )
    response = await client.post(
        "/v1/chat/completions", json=chat(unique_messages()), headers=auth()
    )
    assert response.status == 504
    assert (await response.json())["error"]["type"] == "timeout"


async def test_a_stream_fans_out_to_coalesced_followers(stack, make_gateway):
    fast_provider(stack, ttft_ms=200, tpot_ms=20)
    client = await make_gateway()
    sdk = openai.AsyncOpenAI(base_url=str(client.make_url("/v1")), api_key=KEY, max_retries=0)
    messages = unique_messages()

    async def one():
        stream = await sdk.chat.completions.create(
            model="gpt-4o-mini", messages=messages, temperature=0, stream=True
        )
        return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])

    async with sdk:
        texts = await asyncio.gather(*(one() for _ in range(10)))
    assert len(set(texts)) == 1
    assert texts[0]
    assert provider_requests(stack) == 1


@pytest.mark.parametrize("workers", [1, 2])
async def test_sigterm_drains_requests_in_flight(stack, tmp_path, workers):
    fast_provider(stack, ttft_ms=800)
    with gateway_process(stack, tmp_path, workers=workers) as gateway:
        async with aiohttp.ClientSession(base_url=gateway.url) as session:
            bodies = [chat(unique_messages()) for _ in range(4)]
            calls = [
                asyncio.create_task(session.post("/v1/chat/completions", json=b, headers=auth()))
                for b in bodies
            ]
            while stack.provider.stats()["total"]["in_flight"] < len(bodies):  # noqa: ASYNC110 - another process's counter
                await asyncio.sleep(0.02)
            os.kill(gateway.pid, signal.SIGTERM)
            responses = await asyncio.gather(*calls)
            assert [r.status for r in responses] == [200] * len(bodies)
            assert not any(r.headers.get("x-degraded") for r in responses)


async def test_raw_prompts_are_stored_only_with_consent_and_never_logged(
    stack, make_gateway, tmp_path, caplog
):
    client = await make_gateway(
        tenants=[
            {"name": "one", "api_key": KEY, "store_raw_prompts": True},
            {"name": "two", "api_key": OTHER_KEY},
        ],
        privacy={"raw_prompt_dir": str(tmp_path)},
    )
    consented, private = unique_messages("consented"), unique_messages("private")
    caplog.set_level(logging.INFO, logger="reference_impl.access")
    for messages, key in ((consented, KEY), (private, OTHER_KEY)):
        response = await client.post("/v1/chat/completions", json=chat(messages), headers=auth(key))
        assert response.status == 200
    await client.close()
    stored = [json.loads(line) for line in (tmp_path / "one.jsonl").read_text().splitlines()]
    assert [entry["messages"] for entry in stored] == [consented]
    assert not (tmp_path / "two.jsonl").exists()
    logged = [json.loads(r.getMessage()) for r in caplog.records if r.name.endswith("access")]
    assert [entry["tenant"] for entry in logged] == ["one", "two"]
    assert all(len(entry["fingerprint"]) == 16 for entry in logged)
    for text in (consented[0]["content"], private[0]["content"]):
        assert text not in caplog.text


async def test_identical_embeddings_are_served_from_the_cache(stack, make_gateway):
    client = await make_gateway()
    body = {"model": "text-embedding-3-small", "input": [f"doc {uuid.uuid4().hex}"]}
    caches = []
    for _ in range(2):
        response = await client.post("/v1/embeddings", json=body, headers=auth())
        assert response.status == 200
        caches.append(response.headers["x-cache"])
        assert len((await response.json())["data"][0]["embedding"]) == 8
    assert caches == ["miss", "hit"]
    assert provider_requests(stack) == 1


async def test_a_stream_followed_from_another_worker_outlasting_the_deadline_is_whole(
    stack, make_gateway
):
    fast_provider(stack, ttft_ms=100, tpot_ms=200, jitter=0)
    one, two = await make_gateway(), await make_gateway()
    body = chat(unique_messages(), stream=True, max_tokens=10)

    async def streamed(client):
        response = await client.post("/v1/chat/completions", json=body, headers=auth())
        return response.status, response.headers, await response.text()

    leader = asyncio.create_task(streamed(one))
    while provider_requests(stack) == 0:  # noqa: ASYNC110 - another process's counter
        await asyncio.sleep(0.02)
    follower = await streamed(two)
    leader_result = await leader
    assert [leader_result[0], follower[0]] == [200, 200]
    assert [leader_result[1]["x-cache"], follower[1]["x-cache"]] == ["miss", "coalesced"]
    assert "x-degraded" not in follower[1]
    assert follower[2].rstrip().endswith("data: [DONE]")
    assert provider_requests(stack) == 1


async def test_a_stream_cut_midway_ends_with_an_error_event(stack, make_gateway):
    stack.provider.set_fault({"truncate_after_tokens": 2})
    client = await make_gateway(metrics_token=METRICS_TOKEN)
    body = {"model": "gpt-4o-mini", "messages": unique_messages(), "stream": True}
    response = await client.post("/v1/chat/completions", json=body, headers=auth())
    assert response.status == 200
    events = [e for e in (await response.text()).split("\n\n") if e.strip()]
    assert '"content"' in events[0] or '"role"' in events[0]
    assert json.loads(events[-1].removeprefix("data: "))["error"]["code"] == "cut_stream"
    metrics = await (await client.get("/metrics", headers=scrape_auth())).text()
    assert 'status_class="5xx"' in metrics


async def test_a_client_that_leaves_a_stream_stops_the_upstream_call(stack, make_gateway):
    fast_provider(stack, ttft_ms=20, tpot_ms=100, jitter=0, output_tokens_min=30,
                  output_tokens_max=30)  # fmt: skip
    client = await make_gateway()
    body = {"model": "gpt-4o-mini", "messages": unique_messages(), "stream": True}
    response = await client.post("/v1/chat/completions", json=body, headers=auth())
    await response.content.readany()
    response.close()
    await asyncio.sleep(1.0)
    sent = stack.provider.stats()["total"]["completion_tokens"]
    assert sent < 20, f"the provider kept generating for a client that left ({sent} tokens)"


async def test_embeddings_ignore_a_response_format(stack, make_gateway):
    client = await make_gateway()
    body = {
        "model": "text-embedding-3-small",
        "input": "x",
        "response_format": {"type": "json_schema", "json_schema": {"name": "s", "schema": {}}},
    }
    response = await client.post("/v1/embeddings", json=body, headers=auth())
    assert response.status == 200


@pytest.mark.parametrize(
    ("path", "model"),
    [
        ("/v1/chat/completions", "gpt-5-imaginary"),
        ("/v1/chat/completions", "text-embedding-3-small"),
        ("/v1/embeddings", "gpt-4o"),
    ],
)
async def test_a_model_the_gateway_does_not_serve_is_a_400(stack, make_gateway, path, model):
    client = await make_gateway()
    body = {"model": model, "messages": unique_messages(), "input": "x"}
    response = await client.post(path, json=body, headers=auth())
    assert response.status == 400
    error = (await response.json())["error"]
    assert error["param"] == "model"
    assert model in error["message"]
    assert provider_requests(stack) == 0


def _workers_of(pid: int) -> set[int]:
    children = {
        int(child)
        for task in Path(f"/proc/{pid}/task").iterdir()
        for child in (task / "children").read_text().split()
    }
    return {c for c in children if b"spawn_main" in _cmdline(c)}


def _cmdline(pid: int) -> bytes:
    """A process's command line; empty once it is gone (a killed worker may be reaped between
    the listing of the children and this read)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return b""


async def test_a_killed_worker_is_replaced(stack, tmp_path):
    fast_provider(stack)
    with gateway_process(stack, tmp_path, workers=2) as gateway:
        before = _workers_of(gateway.pid)
        victim = min(before)
        os.kill(victim, signal.SIGKILL)
        async with asyncio.timeout(20):
            while len(after := _workers_of(gateway.pid) - {victim}) < 2:  # noqa: ASYNC110 - /proc
                await asyncio.sleep(0.1)
        assert victim not in after
        async with aiohttp.ClientSession(base_url=gateway.url) as session:
            for _ in range(4):
                async with session.post(
                    "/v1/chat/completions", json=chat(unique_messages()), headers=auth()
                ) as response:
                    assert response.status == 200


async def test_workers_killed_holding_slots_give_them_back_to_their_tenant(stack, tmp_path):
    fast_provider(stack, ttft_ms=2000)
    cap = 2
    config = {
        "tenants": [
            {"name": "one", "api_key": KEY, "concurrency_cap": cap},
            {"name": "two", "api_key": OTHER_KEY},
        ],
        "deadline": {"default_s": 30},
    }
    with gateway_process(stack, tmp_path, workers=2, config=config) as gateway:
        connector = aiohttp.TCPConnector(limit=0, force_close=True)
        async with aiohttp.ClientSession(base_url=gateway.url, connector=connector) as session:

            async def ask():
                body = {"model": "gpt-4o-mini", "messages": unique_messages()}
                async with session.post(
                    "/v1/chat/completions", json=body, headers=auth()
                ) as response:
                    return response.status

            holders = asyncio.gather(*(ask() for _ in range(cap)), return_exceptions=True)
            await _provider_in_flight(stack, "one", cap)
            victims = _workers_of(gateway.pid)
            for victim in victims:  # both die: between them they hold the tenant's slots
                os.kill(victim, signal.SIGKILL)
            assert all(isinstance(held, aiohttp.ClientError) for held in await holders)
            async with asyncio.timeout(30):
                while len(_workers_of(gateway.pid) - victims) < 2:  # noqa: ASYNC110 - /proc
                    await asyncio.sleep(0.1)
            statuses = await asyncio.gather(*(ask() for _ in range(cap)))
    assert statuses == [200] * cap


async def test_one_tenants_cached_answer_is_never_served_to_another(stack, make_gateway):
    client = await make_gateway()
    body = chat(unique_messages())  # the very same request from both tenants
    caches = []
    for key in (KEY, OTHER_KEY, KEY, OTHER_KEY):
        response = await client.post("/v1/chat/completions", json=body, headers=auth(key))
        assert response.status == 200
        caches.append(response.headers["x-cache"])
    assert caches == ["miss", "miss", "hit", "hit"]  # each tenant's cache is its own
    assert provider_requests(stack) == 2


async def test_a_budgeted_request_without_max_tokens_gets_the_default_output_cap(
    stack, make_gateway
):
    client = await make_gateway(
        tenants=[{"name": "one", "api_key": KEY, "budget": {"limit_tokens": 100_000}}],
        budgets={"default_max_output_tokens": 12},
    )
    fast_provider(stack, output_tokens_min=200, output_tokens_max=300)  # would say much more
    response = await client.post(
        "/v1/chat/completions",
        json={"model": "gpt-4o-mini", "messages": unique_messages()},
        headers=auth(),
    )
    assert response.status == 200
    assert (await response.json())["usage"]["completion_tokens"] <= 12
    assert stack.provider.stats()["tenants"]["one"]["completion_tokens"] <= 12
