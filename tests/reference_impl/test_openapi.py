"""The OpenAPI document: the stored copy is the one built from the code, it describes every
route the app serves, the gateway serves it without a key, and its error shape is the one
errors have."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import schemathesis
from aiohttp.test_utils import TestClient, TestServer

from reference_impl.app import create_app
from reference_impl.config import load_config
from reference_impl.openapi import STORED_PATH, ErrorBody, build_document, document_bytes


KEY = "sk-test-openapi-tenant"


@pytest.fixture
async def client() -> AsyncIterator[TestClient[Any, Any]]:
    config = load_config(
        None,
        overrides={
            "provider_url": "http://127.0.0.1:9/v1",
            "tenants": [{"name": "one", "api_key": KEY}],
        },
        environ={},
    )
    async with TestClient(TestServer(create_app(config), host="127.0.0.1")) as test_client:
        yield test_client


def test_the_stored_document_is_the_one_the_code_builds() -> None:
    assert STORED_PATH.read_bytes() == document_bytes(), (
        "reference_impl/openapi.json is stale: run python -m reference_impl.openapi --write"
    )


async def test_every_route_of_the_app_is_documented(client: TestClient[Any, Any]) -> None:
    served = {
        (route.method.lower(), route.resource.canonical)
        for route in client.app.router.routes()
        if route.resource is not None and route.method != "HEAD"
    }
    paths = build_document()["paths"]
    documented = {(method, path) for path, item in paths.items() for method in item}
    assert served == documented


async def test_the_gateway_serves_the_document_without_a_key(client: TestClient[Any, Any]) -> None:
    response = await client.get("/openapi.json")
    assert response.status == 200
    assert response.content_type == "application/json"
    assert await response.read() == STORED_PATH.read_bytes()


async def test_errors_have_the_documented_shape(client: TestClient[Any, Any]) -> None:
    response = await client.post("/v1/chat/completions", data=b"{}")
    assert response.status == 401
    ErrorBody.model_validate(await response.json())
    response = await client.post(
        "/v1/chat/completions", data=b"[]", headers={"Authorization": f"Bearer {KEY}"}
    )
    assert response.status == 400
    ErrorBody.model_validate(await response.json())


def test_the_document_loads_as_openapi_with_every_operation() -> None:
    schema = schemathesis.openapi.from_dict(json.loads(STORED_PATH.read_bytes()))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {(op.method.upper(), op.path) for op in operations} == {
        ("GET", "/healthz"),
        ("GET", "/metrics"),
        ("GET", "/openapi.json"),
        ("GET", "/v1/models"),
        ("POST", "/v1/chat/completions"),
        ("POST", "/v1/embeddings"),
        ("POST", "/v1/copilot/summarize"),
        ("POST", "/v1/copilot/outreach"),
    }


def test_request_bodies_are_the_validated_models() -> None:
    document = build_document()
    schemas = document["components"]["schemas"]
    chat = document["paths"]["/v1/chat/completions"]["post"]
    assert chat["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ChatBody"
    }
    assert schemas["ChatBody"]["properties"]["max_tokens"]["anyOf"][0]["maximum"] == 1_000_000
    assert schemas["SummarizeRequest"]["additionalProperties"] is False
    too_many = document["components"]["responses"]["429"]
    assert "Retry-After" in too_many["headers"]


def test_the_model_list_is_documented_behind_the_tenants_key() -> None:
    document = build_document()
    operation = document["paths"]["/v1/models"]["get"]
    assert operation["security"] == [{"apiKey": []}, {"apiKeyHeader": []}]
    assert set(operation["responses"]) == {"200", "401", "405"}
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/ModelList"}
    entry = document["components"]["schemas"]["ModelObject"]
    assert set(entry["required"]) == {"id", "object", "created", "owned_by"}


def test_metrics_needs_the_scrape_token_and_posts_may_time_out() -> None:
    paths = build_document()["paths"]
    metrics = paths["/metrics"]["get"]
    assert metrics["security"] == [{"scrapeToken": []}]
    assert {"401", "403"} <= set(metrics["responses"])
    for path, item in paths.items():
        if "post" in item:
            assert "408" in item["post"]["responses"], path
