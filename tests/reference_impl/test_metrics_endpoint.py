"""``/metrics`` asks for the scrape token, and no client input widens its label sets."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from gateway_stand_ins import hi_provider
from prometheus_client.parser import text_string_to_metric_families

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


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def _scrape(
    client: TestClient[Any, Any],
) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = await client.get("/metrics", headers=_scrape_headers())
    assert response.status == 200
    return _samples(await response.text())


async def test_refused_keys_and_scrape_tokens_are_counted_by_reason_and_not_as_requests(
    make_client: MakeClient,
) -> None:
    client = await make_client(metrics_token=TOKEN)
    body = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]})
    refused = [
        await client.post("/v1/chat/completions", data=body),
        await client.post("/v1/embeddings", data=body, headers={"api-key": "sk-not-a-tenant"}),
        await client.post("/v1/chat/completions", data=body, headers=_scrape_headers("sk-nope")),
        await client.get("/v1/models"),
        await client.get("/metrics", headers=_scrape_headers("not-the-token")),
        await client.get("/metrics"),
    ]
    assert [response.status for response in refused] == [401] * 6

    got = await _scrape(client)
    failures = {
        dict(key)["reason"]: value
        for (name, key), value in got.items()
        if name == "meltproof_gateway_auth_failures_total"
    }
    assert failures == {
        "missing_api_key": 2,
        "invalid_api_key": 2,
        "missing_metrics_token": 1,
        "invalid_metrics_token": 1,
    }
    assert not [key for key in got if key[0] == "meltproof_gateway_requests_total"]


class GatedProvider:
    """Answers chats like OpenAI (streamed when asked), each only once ``release`` is set."""

    def __init__(self) -> None:
        self.called = asyncio.Event()
        self.release = asyncio.Event()

    async def chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.called.set()
        await self.release.wait()
        head = {"id": "c1", "created": 1, "model": body["model"]}
        if not body.get("stream"):
            message = {"role": "assistant", "content": "hi"}
            choice = {"index": 0, "message": message, "finish_reason": "stop"}
            return web.json_response({**head, "object": "chat.completion", "choices": [choice]})
        response = web.StreamResponse()
        response.content_type = "text/event-stream"
        await response.prepare(request)
        for delta, finish in (
            ({"role": "assistant", "content": ""}, None),
            ({"content": "hi"}, None),
            ({}, "stop"),
        ):
            choice = {"index": 0, "delta": delta, "finish_reason": finish}
            chunk = {**head, "object": "chat.completion.chunk", "choices": [choice]}
            await response.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response


@pytest.fixture
async def gated() -> AsyncIterator[tuple[GatedProvider, TestClient[Any, Any]]]:
    provider = GatedProvider()
    app = web.Application()
    app.router.add_post("/v1/chat/completions", provider.chat)
    async with TestServer(app, host="127.0.0.1") as server:
        config = _config(server, metrics_token=TOKEN, deadline={"default_s": 60.0})
        async with TestClient(TestServer(create_app(config), host="127.0.0.1")) as client:
            yield provider, client


def _chat_body(*, stream: bool = False) -> str:
    messages = [{"role": "user", "content": "hello"}]
    return json.dumps({"model": "gpt-4o-mini", "messages": messages, "stream": stream})


async def test_a_request_is_in_flight_from_its_arrival_to_its_answer(
    gated: tuple[GatedProvider, TestClient[Any, Any]],
) -> None:
    provider, client = gated
    in_flight = ("meltproof_gateway_requests_in_flight", frozenset({("route", "chat")}))
    assert (await _scrape(client))[in_flight] == 0

    headers = {"Authorization": f"Bearer {KEY}"}
    pending = asyncio.ensure_future(
        client.post("/v1/chat/completions", data=_chat_body(), headers=headers)
    )
    await asyncio.wait_for(provider.called.wait(), timeout=30)
    assert (await _scrape(client))[in_flight] == 1
    provider.release.set()
    response = await pending
    assert response.status == 200
    assert (await _scrape(client))[in_flight] == 0


async def test_streams_report_a_first_token_and_every_call_an_attempt_duration(
    gated: tuple[GatedProvider, TestClient[Any, Any]],
) -> None:
    provider, client = gated
    provider.release.set()
    headers = {"Authorization": f"Bearer {KEY}"}
    for stream in (True, False):
        response = await client.post(
            "/v1/chat/completions", data=_chat_body(stream=stream), headers=headers
        )
        assert response.status == 200
        await response.read()

    got = await _scrape(client)
    model = frozenset({("model", "gpt-4o-mini")})
    assert got["meltproof_gateway_time_to_first_token_seconds_count", model] == 1
    ok = model | {("outcome", "ok")}
    assert got["meltproof_gateway_upstream_attempt_duration_seconds_count", ok] == 2
