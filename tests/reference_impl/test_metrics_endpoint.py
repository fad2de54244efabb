"""``/metrics`` asks for the scrape token, and no client input widens its label sets."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from gateway_stand_ins import hi_provider

from reference_impl.app import create_app
from reference_impl.config import ConfigError, GatewayConfig, load_config


KEY = "sk-test-metrics-tenant"
TOKEN = "metrics-scrape-token-for-tests"  # noqa: S105 - a test token
MakeClient = Callable[..., Awaitable[TestClient[Any, Any]]]


@pytest.fixture
async def provider() -> AsyncIterator[TestServer]:
    async with hi_provider(prompt_tokens=3) as server:
        yield server


def _config(provider: TestServer, **fields: Any) -> GatewayConfig:
    overrides = {
        "provider_url": str(provider.make_url("/v1")),
        "tenants": [{"name": "one", "api_key": KEY}],
        **fields,
    }
    return load_config(None, overrides=overrides, environ={})


@pytest.fixture
async def make_client(provider: TestServer) -> AsyncIterator[MakeClient]:
    """A hardened gateway (per worker, no Redis) on a provider that says hi."""
    clients: list[TestClient[Any, Any]] = []

    async def make(**fields: Any) -> TestClient[Any, Any]:
        client = TestClient(TestServer(create_app(_config(provider, **fields)), host="127.0.0.1"))
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


def _scrape_headers(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "missing_metrics_token"),
        (_scrape_headers("not-the-token"), "invalid_metrics_token"),
        (_scrape_headers(TOKEN[:-1]), "invalid_metrics_token"),
        ({"Authorization": f"Basic {TOKEN}"}, "missing_metrics_token"),
        (_scrape_headers(KEY), "invalid_metrics_token"),
        ({"api-key": TOKEN}, "missing_metrics_token"),
    ],
    ids=["none", "wrong", "prefix", "basic", "tenant-key", "api-key-header"],
)
async def test_metrics_without_the_scrape_token_is_a_json_401(
    make_client: MakeClient, headers: dict[str, str], code: str
) -> None:
    client = await make_client(metrics_token=TOKEN)
    response = await client.get("/metrics", headers=headers)
    assert response.status == 401
    assert response.content_type == "application/json"
    error = (await response.json())["error"]
    assert error["code"] == code
    assert "meltproof_gateway" not in await response.text()


async def test_metrics_with_the_scrape_token_is_served(make_client: MakeClient) -> None:
    client = await make_client(metrics_token=TOKEN)
    response = await client.get("/metrics", headers=_scrape_headers())
    assert response.status == 200
    assert response.content_type == "text/plain"


async def test_metrics_without_a_configured_token_is_refused_saying_how_to_enable_it(
    make_client: MakeClient,
) -> None:
    client = await make_client()
    for headers in ({}, _scrape_headers(), _scrape_headers(KEY)):
        response = await client.get("/metrics", headers=headers)
        assert response.status == 403
        error = (await response.json())["error"]
        assert error["code"] == "metrics_disabled"
        assert "MELTPROOF_GATEWAY_METRICS_TOKEN" in error["message"]


async def test_healthz_needs_no_token(make_client: MakeClient) -> None:
    client = await make_client(metrics_token=TOKEN)
    response = await client.get("/healthz")
    assert response.status == 200


def test_the_token_comes_from_the_environment_and_is_a_secret(provider: TestServer) -> None:
    environ = {"MELTPROOF_GATEWAY_METRICS_TOKEN": TOKEN}
    config = load_config(None, overrides={"provider_url": "http://127.0.0.1:9/"}, environ=environ)
    assert config.metrics_token is not None
    assert config.metrics_token.get_secret_value() == TOKEN
    assert TOKEN not in repr(config)


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"metrics_token": "short"}, "metrics_token"),
        (
            {"metrics_token": KEY + "-x", "tenants": [{"name": "a", "api_key": KEY + "-x"}]},
            "differ",
        ),
        ({"prompt_versions": ["has space"]}, "prompt_versions"),
    ],
)
def test_bad_metrics_settings_are_refused(fields: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        load_config(None, overrides={"provider_url": "http://127.0.0.1:9/", **fields}, environ={})


def _label_values(text: str, metric: str, label: str) -> set[str]:
    return {
        match
        for line in text.splitlines()
        if line.startswith(f"meltproof_gateway_{metric}{{")
        for match in re.findall(rf'{label}="([^"]*)"', line)
    }


async def _chat(
    client: TestClient[Any, Any], model: str, version: str | None = None
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {KEY}"}
    if version is not None:
        headers["x-prompt-version"] = version
    body = {"model": model, "messages": [{"role": "user", "content": "hello"}], "temperature": 0}
    response = await client.post("/v1/chat/completions", data=json.dumps(body), headers=headers)
    return response.status, await response.json()


async def test_undeclared_prompt_versions_and_unknown_models_add_no_labels(
    make_client: MakeClient,
) -> None:
    client = await make_client(metrics_token=TOKEN, prompt_versions=["v1", "v2"])
    for version in ("v1", "v2", None, *(f"attacker-{index}" for index in range(50))):
        status, answer = await _chat(client, "gpt-4o-mini", version)
        assert status == 200, answer
        assert answer["model"] == "gpt-4o-mini"
    for index in range(50):
        status, answer = await _chat(client, f"model-{index}", "v1")
        assert status == 400, answer
        assert answer["error"]["param"] == "model"

    text = await (await client.get("/metrics", headers=_scrape_headers())).text()

    for metric in ("tokens_total", "cost_usd_total"):
        assert _label_values(text, metric, "prompt_version") == {"v1", "v2", "default", "other"}
        assert _label_values(text, metric, "model") == {"gpt-4o-mini"}
    assert _label_values(text, "upstream_attempts_total", "model") == {"gpt-4o-mini"}
    assert _label_values(text, "requests_total", "tenant") == {"one"}
