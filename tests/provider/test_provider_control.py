"""The control API and the ground-truth stats it reports."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from provider_support import AUTH, Client, chat_body, control, post_json


async def test_stats_per_tenant_and_model(client: Client) -> None:
    usage: dict[str, int] = {"prompt": 0, "completion": 0}
    for tenant, count in (("acme", 3), ("globex", 1)):
        for _ in range(count):
            _, data = await post_json(
                client, "/v1/chat/completions", chat_body(), **{"X-Tenant-Id": tenant}
            )
            usage["prompt"] += data["usage"]["prompt_tokens"]
            usage["completion"] += data["usage"]["completion_tokens"]
    _, embedded = await post_json(client, "/v1/embeddings", {"model": "embed", "input": "hi"})
    await post_json(client, "/v1/chat/completions", chat_body(model="nope"))
    async with client.get("/healthz") as response:
        assert await response.json() == {"status": "ok"}

    stats = await control(client, "GET", "stats")
    assert stats["total"]["requests"] == 6  # healthz and the control API do not count
    assert stats["total"]["status"] == {"200": 5, "404": 1}
    assert stats["total"]["in_flight"] == 0
    tenants = stats["tenants"]
    assert tenants["acme"]["requests"] == 3
    assert tenants["globex"]["requests"] == 1
    assert tenants["-"]["requests"] == 2
    fast = stats["models"]["fast"]
    assert fast["requests"] == 4
    assert fast["prompt_tokens"] == usage["prompt"]
    assert fast["completion_tokens"] == usage["completion"]
    assert stats["models"]["embed"]["prompt_tokens"] == embedded["usage"]["prompt_tokens"]
    assert stats["models"]["embed"]["completion_tokens"] == 0
    assert "nope" not in stats["models"]


async def test_in_flight_is_counted_while_streaming(client: Client) -> None:
    body = chat_body(model="exact", stream=True)
    async with client.post("/v1/chat/completions", json=body, headers=AUTH) as response:
        await response.content.readline()  # the first event is out: the request is in flight
        stats = await control(client, "GET", "stats")
        assert stats["models"]["exact"]["in_flight"] == 1
        await response.read()
    stats = await control(client, "GET", "stats")
    assert stats["models"]["exact"]["in_flight"] == 0
    assert stats["models"]["exact"]["max_in_flight"] == 1


async def test_max_in_flight_under_concurrency(client: Client) -> None:
    results = await asyncio.gather(
        *(post_json(client, "/v1/chat/completions", chat_body(model="exact")) for _ in range(12))
    )
    assert all(status == 200 for status, _ in results)
    stats = await control(client, "GET", "stats")
    assert stats["models"]["exact"]["max_in_flight"] == 12
    assert stats["total"]["in_flight"] == 0


async def test_reset_restores_the_start_config_and_clears_stats_faults_buckets(
    client: Client,
) -> None:
    start_config = await control(client, "GET", "config")
    config = {**start_config, "key_limits": {"rpm": 1, "tpm": None}}
    await control(client, "PUT", "config", config)
    await control(client, "PUT", "faults", {"latency_multiplier": 2})
    assert (await post_json(client, "/v1/chat/completions", chat_body()))[0] == 200
    assert (await post_json(client, "/v1/chat/completions", chat_body()))[0] == 429
    assert await control(client, "POST", "reset") is None
    assert await control(client, "GET", "config") == start_config
    assert await control(client, "GET", "faults") == {"default": None, "models": {}}
    stats = await control(client, "GET", "stats")
    assert stats == {
        "total": stats["total"],
        "tenants": {},
        "models": {},
        "endpoints": {},
        "timeline": stats["timeline"] | {"series": []},
    }
    assert stats["total"]["requests"] == 0
    assert (await post_json(client, "/v1/chat/completions", chat_body()))[0] == 200


async def test_clearing_stats_keeps_config_and_faults(client: Client) -> None:
    config = {**await control(client, "GET", "config"), "key_limits": {"rpm": 1, "tpm": None}}
    await control(client, "PUT", "config", config)
    await control(client, "PUT", "faults", {"latency_multiplier": 2})
    assert (await post_json(client, "/v1/chat/completions", chat_body()))[0] == 200
    assert await control(client, "DELETE", "stats") is None
    stats = await control(client, "GET", "stats")
    assert stats["total"]["requests"] == 0
    assert stats["timeline"]["series"] == []
    assert await control(client, "GET", "config") == config
    assert (await control(client, "GET", "faults"))["default"]["latency_multiplier"] == 2
    assert (await post_json(client, "/v1/chat/completions", chat_body()))[0] == 429  # bucket kept


async def test_config_roundtrip_and_replacement(client: Client) -> None:
    config = await control(client, "GET", "config")
    assert [m["name"] for m in config["models"]] == ["fast", "exact", "embed"]
    assert config["seed"] == 7
    new = {"models": [{"name": "solo", "ttft_ms": 1, "tpot_ms": 0}], "seed": 1}
    applied = await control(client, "PUT", "config", new)
    assert applied["models"][0]["slots"] == 64
    assert (await control(client, "GET", "config")) == applied
    async with client.get("/v1/models", headers=AUTH) as response:
        assert [m["id"] for m in (await response.json())["data"]] == ["solo"]
    assert (await post_json(client, "/v1/chat/completions", chat_body(model="fast")))[0] == 404
    assert (await post_json(client, "/v1/chat/completions", chat_body(model="solo")))[0] == 200


async def _put_config(client: Client, body: Any) -> tuple[int, Any]:
    async with client.put("/_control/config", data=json.dumps(body)) as response:
        return response.status, await response.json()


async def test_a_bad_config_is_refused_naming_the_field(client: Client) -> None:
    status, data = await _put_config(client, {"models": [{"name": "m", "slots": 0}]})
    assert status == 400
    assert data["error"]["param"] == "models[0].slots"
    status, data = await _put_config(client, {"models": [{"name": "m"}, {"name": "m"}]})
    assert status == 400
    assert "unique" in data["error"]["message"]
    status, data = await _put_config(
        client, {"models": [{"name": "m", "output_tokens_min": 9, "output_tokens_max": 3}]}
    )
    assert status == 400
    assert "output_tokens_min" in data["error"]["message"]
    status, data = await _put_config(client, {"modles": []})
    assert (status, data["error"]["param"]) == (400, "modles")
    assert (await control(client, "GET", "config"))["seed"] == 7  # unchanged


async def test_models_list_and_retrieve(client: Client) -> None:
    async with client.get("/v1/models", headers=AUTH) as response:
        data = await response.json()
    assert data["object"] == "list"
    assert [m["id"] for m in data["data"]] == ["fast", "exact", "embed"]
    async with client.get("/v1/models/embed", headers=AUTH) as response:
        model = await response.json()
    assert model == {
        "id": "embed",
        "object": "model",
        "created": model["created"],
        "owned_by": "meltproof",
    }
    async with client.get("/v1/models") as response:
        assert response.status == 401
