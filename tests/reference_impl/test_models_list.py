"""``GET /v1/models``: the configured models in OpenAI's list shape, for a tenant's key only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest
from aiohttp.test_utils import TestClient, TestServer

from reference_impl.app import create_app
from reference_impl.config import load_config


KEY = "sk-test-models-tenant"
MODELS = [
    {"name": "gpt-4o", "fallback": "local-llm"},
    {"name": "local-llm"},
    {"name": "text-embedding-3-small", "kind": "embedding"},
]


@pytest.fixture
async def client() -> AsyncIterator[TestClient[Any, Any]]:
    config = load_config(
        None,
        overrides={
            "provider_url": "http://127.0.0.1:9/v1",
            "tenants": [{"name": "one", "api_key": KEY}],
            "models": MODELS,
        },
        environ={},
    )
    async with TestClient(TestServer(create_app(config), host="127.0.0.1")) as test_client:
        yield test_client


async def test_the_list_names_every_configured_model_in_openais_shape(
    client: TestClient[Any, Any],
) -> None:
    response = await client.get("/v1/models", headers={"Authorization": f"Bearer {KEY}"})
    assert response.status == 200
    assert response.content_type == "application/json"
    assert await response.json() == {
        "object": "list",
        "data": [
            {"id": model["name"], "object": "model", "created": 0, "owned_by": "meltproof"}
            for model in MODELS
        ],
    }


async def test_the_list_needs_a_tenants_key(client: TestClient[Any, Any]) -> None:
    for headers in ({}, {"Authorization": "Bearer sk-not-a-tenant"}):
        response = await client.get("/v1/models", headers=headers)
        assert response.status == 401
        assert (await response.json())["error"]["type"] == "invalid_request_error"


async def test_the_api_key_header_works_too(client: TestClient[Any, Any]) -> None:
    response = await client.get("/v1/models", headers={"api-key": KEY})
    assert response.status == 200


async def test_the_openai_sdk_lists_the_models(client: TestClient[Any, Any]) -> None:
    base_url = str(client.make_url("/v1"))
    async with openai.AsyncOpenAI(base_url=base_url, api_key=KEY, max_retries=0) as sdk:
        listed = [model async for model in sdk.models.list()]
    assert [model.id for model in listed] == [model["name"] for model in MODELS]
    assert {model.owned_by for model in listed} == {"meltproof"}


async def test_other_methods_are_refused_with_allow(client: TestClient[Any, Any]) -> None:
    response = await client.post("/v1/models", headers={"Authorization": f"Bearer {KEY}"})
    assert response.status == 405
    assert "GET" in response.headers["Allow"]
